// Accounts page: follow the refreshes in flight and reload the page once one finishes.
// Progressive enhancement: without it the page shows each job as it was when it loaded, with
// a note to reload. No inline script and no library (CSP-friendly); it reads the job's URL
// from the element it updates: <span data-sync-job-url="/api/v1/sync-jobs/<id>/">.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var MAX_WAIT_MS = 30000; // a retry scheduled minutes ahead is not asked about every 2 s
  var GIVE_UP_AFTER = 15 * 60 * 1000; // a stuck worker must not keep a forgotten tab polling
  var MAX_ERRORS = 5;
  var LABELS = { queued: "Waiting to start", running: "Fetching transactions…" };

  var targets = document.querySelectorAll("[data-sync-job-url]");
  if (!targets.length || !window.fetch) {
    return;
  }
  var started = Date.now();

  function notes(hidden) {
    var all = document.querySelectorAll("[data-reload-note]");
    for (var i = 0; i < all.length; i++) {
      all[i].hidden = hidden;
    }
  }

  function show(target, label, message) {
    // Built from text nodes only: the message comes from the server and is never parsed as HTML.
    var strong = document.createElement("strong");
    strong.textContent = label;
    target.textContent = "";
    target.appendChild(strong);
    if (message) {
      target.appendChild(document.createTextNode(": " + message));
    }
  }

  function delayFor(job) {
    if (job.status === "queued" && job.next_try_at) {
      var wait = Date.parse(job.next_try_at) - Date.now();
      if (wait > POLL_MS) {
        return Math.min(wait, MAX_WAIT_MS);
      }
    }
    return POLL_MS;
  }

  function follow(target) {
    var url = target.getAttribute("data-sync-job-url");
    var errors = 0;

    function later(delay) {
      if (Date.now() - started > GIVE_UP_AFTER) {
        notes(false);
        return;
      }
      window.setTimeout(poll, delay);
    }

    function poll() {
      if (document.hidden) {
        later(POLL_MS); // nobody is looking: ask again when the tab may be visible
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (job) {
          errors = 0;
          if (job.status === "queued" || job.status === "running") {
            show(target, LABELS[job.status], job.message);
            later(delayFor(job));
            return;
          }
          show(target, job.status === "done" ? "Done" : "Failed", job.message);
          window.location.reload(); // balances, last sync and errors all changed
        })
        .catch(function () {
          errors += 1;
          if (errors >= MAX_ERRORS) {
            notes(false); // offline or logged out: fall back to the note
            return;
          }
          later(POLL_MS * errors);
        });
    }

    later(POLL_MS);
  }

  notes(true);
  for (var i = 0; i < targets.length; i++) {
    follow(targets[i]);
  }
})();
