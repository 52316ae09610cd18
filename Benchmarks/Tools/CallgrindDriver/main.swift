import BenchmarkFixtures
import Foundation
@_spi(Benchmarks) import Sluice

// A driver for counting instructions (callgrind) of the in-process step benchmarks
// without package-benchmark's harness, which valgrind cannot run. Same events, same
// `Driver` as StepBenchmarks.swift. Usage: CallgrindDriver window|session|pattern|pattern1k EVENTS [WARM]
// (or `saga`, below).
// WARM events first (default: one pass over the events, so keys and windows exist), then
// EVENTS events inside `measuredRun` (`valgrind --tool=callgrind
// --toggle-collect='*measuredRun*'`). `window 40000` measures only events that close no
// window: the events' minutes end at the 40,000th, 100,000th, ... event, and a minute
// closes 2,000 events (the lateness) later.

let timeHeader = "time: { field: ts, lateness: 2s }\n"
func pattern(_ steps: [String]) -> String {
    timeHeader + "steps:\n  - pattern:\n      key: user\n      within: 10s\n      sequence:\n"
        + steps.map { "        - \($0)\n" }.joined()
}

let args = CommandLine.arguments
let which = args.count > 1 ? args[1] : "window"

// `CallgrindDriver saga SAGAS [RATE] [PASSES]`: the saga benchmark's events
// (SagaBenchmarks.swift) for SAGAS concurrent sagas, payments declined at RATE (default
// 0.1), PASSES passes over them (default 1; 0 runs only the setup, for subtracting it
// from `perf stat` counts) inside `measuredRun`, each pass from no sagas. Prints the
// time per event of the measured passes.
if which == "saga" {
    let sagas = args.count > 2 ? Int(args[2]) ?? 40_000 : 40_000
    let rate = args.count > 3 ? Double(args[3]) ?? 0.1 : 0.1
    let passes = args.count > 4 ? Int(args[4]) ?? 1 : 1
    let events = makeSagaReplies(sagas: sagas, failureRate: rate)
    let replay = SagaReplay(sagaBenchmarkYAML, events: events)
    @inline(never)
    func measuredRun(_ r: SagaReplay, _ n: Int) -> Int { r.run(n) }
    let clock = ContinuousClock()
    let start = clock.now
    let made = measuredRun(replay, events.count * passes)
    let elapsed = clock.now - start
    let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    let perEvent = events.isEmpty || passes == 0 ? 0 : ns / Double(events.count * passes)
    print("saga", sagas, "sagas,", events.count * passes, "events, out:", made, "ns/event:", Int(perEvent))
    exit(0)
}
let n = args.count > 2 ? Int(args[2]) ?? 200_000 : 200_000
/// Events run before the measured ones (default: one pass over the events).
let warm = args.count > 3 ? Int(args[3]) : nil

let yaml: String
let events: [Event]
switch which {
case "pattern":
    yaml = pattern([
        #"{ name: login, where: kind == "login" }"#,
        #"{ name: purchase, where: kind == "purchase" && amount > 400 }"#,
    ])
    events = makePatternEvents(120_000) { i in (i % 3 == 0 ? "login" : "purchase", Int64((i * 7919) % 1000)) }
case "pattern1k":
    yaml = pattern([
        #"{ name: login, where: type == "login" }"#,
        #"{ name: buy, where: type == "purchase" && amount > 400.0, contiguity: relaxed }"#,
    ])
    events = makeEvents(20_000)
case "session":
    // As StepBenchmarks' "window session": 1,000 keys, an event every 10 ms.
    yaml =
        timeHeader + """
            steps:
              - window: { key: user, session: { gap: 30s }, aggregate: { n: count(), total: sum(amount) } }
            """
    events = makeEvents(20_000)
default:
    yaml =
        timeHeader + """
            steps:
              - window: { key: user, tumbling: 1m, aggregate: { n: count(), total: sum(amount), top: max(amount) } }
            """
    events = makeEvents(60_000, users: 10_000, stepMillis: 1)
}

let driver = Driver(yaml, events: events)
var total = driver.run(warm ?? events.count)

@inline(never)
func measuredRun(_ d: Driver, _ n: Int) -> Int { d.run(n) }

total &+= measuredRun(driver, n)
print(which, n, "events, out:", total)
