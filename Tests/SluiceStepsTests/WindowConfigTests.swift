import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// Bad `window:` configurations: every problem is reported with its line and column.
@Suite struct WindowConfigTests {
    /// The column of `needle` in `line` of a test step (the harness indents it by four).
    func column(of needle: String, in line: String) -> Int {
        guard let r = line.range(of: needle) else { return -1 }
        return 5 + line.unicodeScalars.distance(from: line.unicodeScalars.startIndex, to: r.lowerBound)
    }

    /// Expects exactly one error containing `message`, at `needle` on the first line.
    func expectError(
        _ yaml: String, _ message: String, at needle: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let errors = windowErrors(yaml)
        #expect(errors.count == 1, "\(errors)", sourceLocation: sourceLocation)
        guard let e = errors.first else { return }
        #expect(e.message.contains(message), "\(e.message)", sourceLocation: sourceLocation)
        #expect(e.location?.line == 2, sourceLocation: sourceLocation)
        #expect(e.location?.column == column(of: needle, in: yaml), "\(e)", sourceLocation: sourceLocation)
    }

    @Test func aWindowNeedsOneKind() {
        expectError(
            "window: { key: user, aggregate: { n: count() } }",
            "'window' needs one of 'tumbling', 'hopping', 'session' or 'count'", at: "{")
        expectError(
            "window: { tumbling: 1m, session: 10s, aggregate: { n: count() } }",
            "'tumbling' and 'session' cannot be used together in 'window'", at: "session")
    }

    @Test func sizesMustBePositive() {
        expectError("window: { tumbling: 0s }", "must be longer than zero", at: "0s")
        expectError("window: { tumbling: -1m }", "a duration cannot be negative", at: "-1m")
        expectError("window: { hopping: { size: 0ms, every: 1s } }", "must be longer than zero", at: "0ms")
        expectError("window: { session: { gap: 0s } }", "must be longer than zero", at: "0s")
        expectError("window: { count: 0 }", "must be at least 1", at: "0")
        expectError("window: { count: { size: -3 } }", "must be at least 1", at: "-3")
        expectError("window: { tumbling: 500us }", "whole number of milliseconds", at: "500us")
        expectError("window: { tumbling: 10 }", "a bare number has no unit", at: "10")
    }

    @Test func everyMustNotExceedSize() {
        expectError(
            "window: { hopping: { size: 10s, every: 1m } }", "'every' (1m) in 'hopping' is longer than 'size' (10s)",
            at: "1m")
        expectError(
            "window: { count: { size: 2, every: 5 } }", "'every' (5) in 'count' is larger than 'size' (2)", at: "5")
        expectError("window: { hopping: { size: 1d, every: 1s } }", "at most 1000", at: "1s")
        expectError(
            "window: { hopping: { size: 1m, every: 10s, offset: 10s } }",
            "'offset' in 'hopping' must be shorter than 'every'", at: "10s }")
    }

    @Test func aggregateNamesMustNotClashWithOutputFields() {
        expectError(
            "window: { key: user, tumbling: 1m, aggregate: { user: count() } }",
            "aggregate 'user' has the same name as the key field 'user'", at: "user: count")
        expectError(
            "window: { key: { a: x, b: y }, tumbling: 1m, aggregate: { b: count() } }", "the key field 'b'",
            at: "b: count")
        expectError(
            "window: { tumbling: 1m, aggregate: { window_end: max(t) } }", "the output field 'window_end'",
            at: "window_end")
    }

    @Test func unknownAggregateFunctionsSuggestTheClosest() {
        expectError(
            "window: { tumbling: 1m, aggregate: { t: summ(amount) } }",
            "unknown aggregate function 'summ'; did you mean 'sum'?", at: "summ")
        expectError(
            "window: { tumbling: 1m, aggregate: { t: amount } }", "expected an aggregate call such as 'sum(amount)'",
            at: "amount")
        expectError("window: { tumbling: 1m, aggregate: { t: sum() } }", "'sum' takes 1 argument, found 0", at: "sum")
        expectError(
            "window: { tumbling: 1m, aggregate: { t: percentile(x) } }", "'percentile' takes 2 arguments, found 1",
            at: "percentile")
        expectError(
            "window: { tumbling: 1m, aggregate: { t: 'count(a, b)' } }", "'count' takes no argument or one, found 2",
            at: "count")
    }

    @Test func percentileMustBeBetweenZeroAndOne() {
        expectError(
            "window: { tumbling: 1m, aggregate: { p: 'percentile(amount, 1.5)' } }",
            "percentile must be between 0 and 1, found 1.5", at: "1.5")
        expectError(
            "window: { tumbling: 1m, aggregate: { p: 'percentile(amount, -0.1)' } }",
            "percentile must be between 0 and 1", at: "-0.1")
        expectError(
            "window: { tumbling: 1m, aggregate: { p: 'percentile(amount, high)' } }",
            "must be a number between 0 and 1", at: "high")
        #expect(
            windowErrors(
                "window: { tumbling: 1m, aggregate: { p: 'percentile(amount, 0)', q: 'percentile(amount, 1)' } }"
            ).isEmpty)
    }

    @Test func aCommaInAFlowMappingGetsOneErrorWithAHintToQuote() {
        let errors = windowErrors("window: { tumbling: 1m, aggregate: { p: percentile(x, 0.5), n: count() } }")
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.hint?.contains("quote the call") == true)
    }

    @Test func expressionErrorsPointInsideTheArgument() {
        let line = "window: { tumbling: 1m, aggregate: { t: sum(price * ) } }"
        let errors = windowErrors(line)
        #expect(errors.count == 1)
        #expect(errors.first?.location?.line == 2)
        let col = errors.first?.location?.column ?? 0
        #expect(col > column(of: "price", in: line) && col <= column(of: ") }", in: line), "\(errors)")
    }

    @Test func unknownKeysGetDidYouMean() {
        expectError(
            "window: { tumbling: 1m, agregate: { n: count() } }",
            "unknown key 'agregate' in 'window'; did you mean 'aggregate'?", at: "agregate")
        let errors = windowErrors("window: { hopping: { size: 1m, evry: 10s } }")
        #expect(
            errors.map(\.message) == [
                "missing required key 'every' in 'hopping'", "unknown key 'evry' in 'hopping'; did you mean 'every'?",
            ])
    }

    @Test func allowedLatenessDoesNotApplyToCountWindows() {
        expectError(
            "window: { count: 10, allowed_lateness: 1s }", "'allowed_lateness' does not apply to count windows",
            at: "1s")
    }

    @Test func everyProblemIsReportedNotOnlyTheFirst() {
        let errors = windowErrors(
            """
            window:
              key: user
              tumbling: 0s
              aggregate:
                user: count()
                x: nope(a)
                p: percentile(a, 2)
              having: n >
            """)
        #expect(errors.count == 5, "\(errors)")
        #expect(errors.map { $0.location?.line ?? 0 } == [4, 6, 7, 8, 9])
    }

    @Test func goodConfigurationsCompile() throws {
        for yaml in [
            "window: { tumbling: 1m }",
            "window: { key: user, tumbling: { size: 1m, offset: 30s }, aggregate: { n: count() } }",
            "window: { key: 'user + \"x\"', hopping: { size: 1m, every: 10s }, allowed_lateness: 5s }",
            "window: { key: { u: user, c: geo.country }, session: { gap: 30s }, aggregate: { n: count() }, having: n > 1 }",
            "window: { count: { size: 100, every: 10 }, aggregate: { ids: collect(id) }, max_open_windows: 10 }",
            "window: { session: 30s, aggregate: { total: sum(price * qty), p: 'percentile(latency, 0.99)' } }",
        ] {
            #expect(windowErrors(yaml).isEmpty, "\(yaml): \(windowErrors(yaml))")
        }
    }
}
