import Benchmark
import BenchmarkFixtures
@_spi(Benchmarks) import Sluice

/// One benchmark per step kind, windows per kind and patterns per contiguity, each
/// driving the step in-process on pre-parsed events (built in setup, outside the
/// measured region), in batches of 512 as a stage does.
let stepBenchmarks: @Sendable () -> Void = {
    let events = makeEvents(20_000)
    let timeHeader = "time: { field: ts, lateness: 2s }\n"

    let cases: [(String, String, [Event])] = [
        (
            "filter",
            """
            steps:
              - filter: amount > 250.0 && country == "US"
            """, events
        ),
        (
            "enrich",
            """
            steps:
              - enrich: { set: { cents: amount * 100.0, big: amount > 900.0 } }
            """, events
        ),
        (
            "map",
            """
            steps:
              - map: '{"id": id, "user": user, "cents": amount * 100.0}'
            """, events
        ),
        (
            "validate",
            """
            steps:
              - validate:
                  schema:
                    type: object
                    required: [id, type, user, amount, country, ts]
                    properties:
                      id: { type: integer, minimum: 1 }
                      type: { enum: [click, view, login, purchase, logout] }
                      user: { type: string }
                      amount: { type: number, minimum: 0 }
                      country: { type: string, minLength: 2, maxLength: 2 }
                      ts: { type: integer }
            """, events
        ),
        (
            "dedupe",
            timeHeader + """
                steps:
                  - dedupe: { key: user, within: 1s }
                """, events
        ),
        (
            "reorder",
            timeHeader + """
                steps:
                  - reorder: {}
                """, events
        ),
        (
            "route",
            """
            steps:
              - route: { big: amount > 900.0, us: country == "US", login: type == "login" }
            """, events
        ),
        (
            "window tumbling (10k keys)",
            timeHeader + """
                steps:
                  - window: { key: user, tumbling: 1m, aggregate: { n: count(), total: sum(amount), top: max(amount) } }
                """, makeEvents(60_000, users: 10_000, stepMillis: 1)
        ),
        (
            "window hopping",
            timeHeader + """
                steps:
                  - window: { key: user, hopping: { size: 1m, every: 20s }, aggregate: { n: count(), total: sum(amount) } }
                """, events
        ),
        (
            "window session",
            timeHeader + """
                steps:
                  - window: { key: user, session: { gap: 30s }, aggregate: { n: count(), total: sum(amount) } }
                """, events
        ),
        (
            "window count",
            """
            steps:
              - window: { key: user, count: { size: 10, every: 10 }, aggregate: { n: count(), total: sum(amount) } }
            """, events
        ),
    ]
    var all = cases
    /// A keyed pattern within 10s whose sequence is `steps`, one YAML flow mapping each.
    func pattern(_ steps: [String]) -> String {
        timeHeader + "steps:\n  - pattern:\n      key: user\n      within: 10s\n      sequence:\n"
            + steps.map { "        - \($0)\n" }.joined()
    }
    for contiguity in ["strict", "relaxed", "any"] {
        all.append(
            (
                "pattern two-step \(contiguity)",
                pattern([
                    #"{ name: login, where: type == "login" }"#,
                    #"{ name: buy, where: type == "purchase" && amount > 400.0, contiguity: \#(contiguity) }"#,
                ]), events
            ))
    }
    all.append(
        (
            "pattern three-step relaxed",
            pattern([
                #"{ name: login, where: type == "login" }"#,
                #"{ name: look, where: type == "view" }"#,
                #"{ name: buy, where: type == "purchase" && amount > 400.0 }"#,
            ]), events
        ))

    // Issue #6's targets, exactly: 10,000 keys, a two-step relaxed pattern (≥ 2M events/s)
    // and a three-step one whose middle step has `times: {min: 3, max: 5}` (≥ 1M/s).
    all.append(
        (
            "pattern two-step relaxed (10k keys)",
            pattern([
                #"{ name: login, where: kind == "login" }"#,
                #"{ name: purchase, where: kind == "purchase" && amount > 400 }"#,
            ]), makePatternEvents(120_000) { i in (i % 3 == 0 ? "login" : "purchase", Int64((i * 7919) % 1000)) }
        ))
    all.append(
        (
            "pattern three-step times 3-5 (10k keys)",
            pattern([
                #"{ name: login, where: kind == "login" }"#,
                #"{ name: buys, where: kind == "purchase", times: { min: 3, max: 5 } }"#,
                #"{ name: out, where: kind == "logout" }"#,
            ]),
            makePatternEvents(120_000) { i in
                (["login", "purchase", "purchase", "purchase", "purchase", "logout"][(i / 10_000) % 6], 1)
            }
        ))

    for (name, yaml, evs) in all {
        Benchmark(benchmarkName("step \(name)"), configuration: stepConfig) { benchmark, driver in
            blackHole(driver.run(benchmark.scaledIterations.count))
        } setup: {
            Driver(yaml, events: evs)
        }
    }

    // One CEL expression, `amount > 250.0 && country == "US"`, through EventActivation
    // on a parsed event, lent in place as the filter step lends the events of a batch.
    let celEvents = makeEvents(1000)
    Benchmark(benchmarkName("CEL filter expression"), configuration: stepConfig) {
        (benchmark: Benchmark, condition: BenchmarkCondition) in
        var n = 0
        for i in benchmark.scaledIterations {
            if condition.evaluateInPlace(celEvents[i % celEvents.count]) == true { n += 1 }
        }
        blackHole(n)
    } setup: {
        try BenchmarkCondition(#"amount > 250.0 && country == "US""#)
    }

    // The same, setting `activation.event` to each event: that copies the event (a
    // retain and a release per field array) and destroys the one it replaces, which
    // costs about as much as the evaluation.
    Benchmark(benchmarkName("CEL filter expression (setting event)"), configuration: stepConfig) {
        (benchmark: Benchmark, condition: BenchmarkCondition) in
        var n = 0
        for i in benchmark.scaledIterations {
            if condition.evaluateSetting(celEvents[i % celEvents.count]) == true { n += 1 }
        }
        blackHole(n)
    } setup: {
        try BenchmarkCondition(#"amount > 250.0 && country == "US""#)
    }
}
