// Dashboard charts: progressive enhancement over the tables, which hold the same numbers.
// Reads its data from the json_script element the page renders (no inline script, CSP-friendly).
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;
  var css = getComputedStyle(document.documentElement);
  var ink = css.getPropertyValue("--ink").trim() || "#1d2b36";
  var muted = css.getPropertyValue("--muted").trim() || "#5b6b78";
  var line = css.getPropertyValue("--line").trim() || "#dde3e8";
  var brand = css.getPropertyValue("--brand").trim() || "#0f7b5f";
  var brandDark = css.getPropertyValue("--brand-dark").trim() || "#0a5c47";
  var income = "#2563eb";
  // Colour-blind-friendly enough to tell neighbouring slices apart; the table carries the labels.
  var palette = [
    "#0f7b5f", "#2563eb", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#dc2626",
    "#4b5563", "#ca8a04", "#9333ea", "#0d9488", "#ea580c", "#475569", "#be123c", "#15803d", "#1d4ed8",
  ];
  var dollars = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" });
  var wholeDollars = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  Chart.defaults.font.family = css.getPropertyValue("font-family") || "system-ui, sans-serif";
  Chart.defaults.color = muted;
  Chart.defaults.borderColor = line;
  Chart.defaults.maintainAspectRatio = false;
  if (reduceMotion) {
    Chart.defaults.animation = false;
  }

  function numbers(values) {
    return values.map(function (value) { return Number(value); });
  }

  function show(name) {
    var box = document.querySelector('[data-chart="' + name + '"]');
    if (!box) {
      return null;
    }
    box.hidden = false;
    return box.querySelector("canvas");
  }

  function drawTrend(trend) {
    var canvas = show("trend");
    if (!canvas) {
      return;
    }
    var selected = trend.months.length - 1; // the selected month is the last one
    new Chart(canvas, {
      data: {
        labels: trend.labels,
        datasets: [
          {
            type: "bar",
            label: "Spending",
            data: numbers(trend.spending),
            backgroundColor: trend.months.map(function (_, i) { return i === selected ? brandDark : brand + "b3"; }),
            borderRadius: 3,
            order: 2,
          },
          {
            type: "line",
            label: "Income",
            data: numbers(trend.income),
            borderColor: income,
            backgroundColor: income,
            pointRadius: 3,
            order: 1,
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { grid: { display: false }, ticks: { color: ink, autoSkipPadding: 8, maxRotation: 0 } },
          y: { beginAtZero: true, ticks: { callback: function (value) { return wholeDollars.format(value); } } },
        },
        plugins: {
          legend: { position: "bottom", labels: { color: ink, boxWidth: 12 } },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ": " + dollars.format(item.parsed.y); } } },
        },
        // A click on a month opens it, like the month links in the table.
        onClick: function (_event, elements) {
          if (elements.length) {
            window.location.search = "?month=" + trend.months[elements[0].index];
          }
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
      },
    });
  }

  function drawBreakdown(breakdown) {
    if (!breakdown.labels.length) {
      return;
    }
    var canvas = show("breakdown");
    if (!canvas) {
      return;
    }
    var narrow = window.matchMedia("(max-width: 760px)").matches;
    new Chart(canvas, {
      type: "doughnut",
      data: {
        labels: breakdown.labels,
        datasets: [
          {
            data: numbers(breakdown.amounts),
            backgroundColor: breakdown.labels.map(function (_, i) { return palette[i % palette.length]; }),
            borderColor: "#fff",
            borderWidth: 2,
          },
        ],
      },
      options: {
        cutout: "58%",
        plugins: {
          legend: { position: narrow ? "bottom" : "right", labels: { color: ink, boxWidth: 12 } },
          tooltip: { callbacks: { label: function (item) { return item.label + ": " + dollars.format(item.parsed); } } },
        },
      },
    });
  }

  drawTrend(data.trend);
  drawBreakdown(data.breakdown);
})();
