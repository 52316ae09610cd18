import SluiceCore
import Testing

@Suite struct ConfigDurationTests {
    @Test(arguments: [
        ("250ms", Int64(250_000_000)), ("10s", 10_000_000_000), ("5m", 300_000_000_000),
        ("2h", 7_200_000_000_000), ("1d", 86_400_000_000_000), ("1m30s", 90_000_000_000),
        ("1.5s", 1_500_000_000), ("100us", 100_000), ("100µs", 100_000), ("7ns", 7), ("0s", 0),
        ("1h30m15s250ms", 5_415_250_000_000),
    ])
    func valid(text: String, nanos: Int64) {
        #expect(TimeSpan(text)?.nanoseconds == nanos)
    }

    @Test func milliseconds() {
        #expect(TimeSpan("1m30s")?.milliseconds == 90_000)
        #expect(TimeSpan(milliseconds: 250).description == "250ms")
    }

    @Test func bareNumberNeedsUnit() {
        guard case .failure(let e) = TimeSpan.parse("10") else {
            Issue.record("accepted a bare number")
            return
        }
        #expect(e.message == "a bare number has no unit")
        #expect(e.hint == "add a unit, e.g. '10s'")
    }

    @Test(arguments: ["", "s", "10x", "1.s", "-5s", "10 s", "5m3", "1e3s", "10sec"])
    func invalid(text: String) {
        #expect(TimeSpan(text) == nil)
    }

    @Test func overflow() {
        guard case .failure(let e) = TimeSpan.parse("9999999999999999999d") else {
            Issue.record("accepted")
            return
        }
        #expect(e.message == "duration is too long")
        #expect(TimeSpan("107000d") == nil)
        #expect(TimeSpan("106000d") != nil)
    }

    @Test(arguments: ["1m30s", "250ms", "1d2h", "1ms500us", "0s", "3h", "1s7ns"])
    func formatRoundTrips(text: String) {
        #expect(TimeSpan(text)?.description == text)
    }

    @Test func formatsNormalised() {
        #expect(TimeSpan("90s")?.description == "1m30s")
        #expect(TimeSpan("1500us")?.description == "1ms500us")
    }
}
