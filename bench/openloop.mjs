// Open-loop load for bench/widget.py, with the npm package `loadtest` (installed by that
// script into var/bench/node/, never committed).
//
//   node bench/openloop.mjs LOADTEST_INDEX_JS URL TOKENS FIRST COUNT OFFSET RATE SECONDS
//
// With `requestsPerSecond`, loadtest starts a request on a timer (catching up when late) and
// opens another connection whenever every open one is busy, so a slow response never delays
// the next request: the arrival rate is fixed, not the server's pace (no coordinated
// omission). Each request's latency runs from that timer tick to the end of its response,
// connection set-up included, in whole milliseconds rounded down. Every request carries the
// next token of the slice (FIRST, COUNT: lines of TOKENS; starting OFFSET into the slice, and
// wrapping round), so each is a different user until COUNT users have been read.
// Prints one JSON line prefixed LOADTESTJSON.
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const [loadtestPath, url, tokensFile, firstArg, countArg, offsetArg, rateArg, secondsArg] = process.argv.slice(2)
const first = Number(firstArg)
const count = Number(countArg)
const { loadTest } = await import(pathToFileURL(loadtestPath).href)

const tokens = readFileSync(tokensFile, 'utf8').split('\n').slice(first, first + count).filter(Boolean)
if (!tokens.length) {
	throw new Error(`no tokens in slice ${first}+${count} of ${tokensFile}`)
}

const offset = Number(offsetArg)
let sent = 0
const statuses = {}
const result = await loadTest({
	url,
	requestsPerSecond: Number(rateArg),
	maxSeconds: Number(secondsArg),
	timeout: 10000,
	quiet: true,
	requestGenerator(options, params, request, onResponse) {
		const line = tokens[(offset + sent) % tokens.length]
		// A line `Name: value` (bench/pages.py: a session cookie) is sent as that header instead.
		const colon = line.indexOf(': ')
		if (colon > 0) {
			params.headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 2)
		} else {
			params.headers.authorization = `Token ${line}`
		}
		sent += 1
		return request(params, onResponse)
	},
	statusCallback(error, response) {
		const key = response ? String(response.statusCode) : 'no-response'
		statuses[key] = (statuses[key] || 0) + 1
	},
})

console.log('LOADTESTJSON ' + JSON.stringify({
	sent,
	completed: result.totalRequests,
	statuses,
	errors: result.totalErrors,
	error_codes: result.errorCodes,
	elapsed_seconds: result.elapsedSeconds,
	effective_rps: result.effectiveRps,
	percentiles_ms: result.percentiles,
	mean_ms: result.meanLatencyMs,
	max_ms: result.maxLatencyMs,
	peak_in_flight: result.clients,
}))
// Responses still in flight at the deadline are not waited for (sent - completed says how many).
process.exit(0)
