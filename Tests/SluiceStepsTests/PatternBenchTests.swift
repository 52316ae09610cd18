import Foundation
import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

/// Throughput of the benchmark scenarios of issue #6 (pre-parsed events, 10,000 keys).
/// Runs only with SLUICE_PATTERN_BENCH=1 (numbers mean something in release builds).
@Suite struct PatternBenchTests {
    static let enabled = ProcessInfo.processInfo.environment["SLUICE_PATTERN_BENCH"] != nil

    func run(_ config: String, events count: Int, kinds: (Int) -> (String, Int64)) throws -> Double {
        let (_, step) = try PatternTest.step(config)
        var events: [Event] = []
        events.reserveCapacity(count)
        for i in 0..<count {
            let (kind, amount) = kinds(i)
            var o = JSONObject()
            o["user"] = .string("u\(i % 10_000)")
            o["kind"] = .string(kind)
            o["amount"] = .int(amount)
            events.append(Event(.object(o), time: Int64(i / 10)))
        }
        let clock = ContinuousClock()
        var matches = 0
        let elapsed = clock.measure {
            var i = 0
            var watermark = Int64.min
            while i < events.count {
                var out = StepOutput()
                out.watermark = watermark
                let end = min(i + 256, events.count)
                while i < end {
                    step.process(events[i], into: &out)
                    i += 1
                }
                watermark = events[end - 1].time
                step.advance(watermark: watermark, into: &out)
                matches += out.events.count
            }
            var out = StepOutput()
            step.advance(watermark: Int64.max, into: &out)
            matches += out.events.count
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("pattern bench: \(count) events, \(matches) matches, \(Int(Double(count) / seconds)) events/s")
        return Double(count) / seconds
    }

    @Test(.enabled(if: enabled)) func twoStepRelaxed() throws {
        _ = try run(
            """
            key: user
            within: 10s
            sequence:
              - name: login
                where: kind == "login"
              - name: purchase
                where: kind == "purchase" && amount > 400
            """, events: 1_000_000
        ) { i in (i % 3 == 0 ? "login" : "purchase", Int64((i * 7919) % 1000)) }
    }

    @Test(.enabled(if: enabled)) func threeStepWithTimes() throws {
        _ = try run(
            """
            key: user
            within: 10s
            sequence:
              - name: login
                where: kind == "login"
              - name: buys
                where: kind == "purchase"
                times: { min: 3, max: 5 }
              - name: out
                where: kind == "logout"
            """, events: 1_000_000
        ) { i in (["login", "purchase", "purchase", "purchase", "purchase", "logout"][(i / 10_000) % 6], 1) }
    }
}
