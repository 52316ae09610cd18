import SluiceCEL
import Testing

struct TimeTests {
    @Test func zoneOffsetsOutOfRangeAreRejected() throws {
        // RFC 3339 offsets are at most 23:59 either way.
        #expect(try evalError("timestamp('2020-01-01T00:00:00+99:99')")?.contains("invalid timestamp") == true)
        #expect(try evalError("timestamp('2020-01-01T00:00:00-24:00')")?.contains("invalid timestamp") == true)
        #expect(try evalError("timestamp('2020-01-01T00:00:00+05:60')")?.contains("invalid timestamp") == true)
        #expect(try eval("timestamp('2020-01-01T23:59:00-23:59')") == eval("timestamp('2020-01-02T23:58:00Z')"))
        #expect(
            try evalError("timestamp('2020-01-01T00:00:00Z').getHours('+99:99')")?.contains("invalid time zone offset")
                == true)
        #expect(
            try evalError("timestamp('2020-01-01T00:00:00Z').getHours('-24:00')")?.contains("invalid time zone offset")
                == true)
        #expect(try eval("timestamp('2020-01-01T00:00:00Z').getHours('+23:59')") == .int(23))
    }

    @Test func accessorsWithZones() throws {
        let t = "timestamp('2009-02-13T23:31:30Z')"
        #expect(try eval("\(t).getFullYear()") == .int(2009))
        #expect(try eval("\(t).getMonth()") == .int(1))
        #expect(try eval("\(t).getDayOfMonth()") == .int(12))
        #expect(try eval("\(t).getDate()") == .int(13))
        #expect(try eval("\(t).getDayOfWeek()") == .int(5))
        #expect(try eval("\(t).getDayOfYear()") == .int(43))
        #expect(try eval("\(t).getDate('Australia/Sydney')") == .int(14))
        #expect(try eval("\(t).getHours('-02:30')") == .int(21))
        #expect(try eval("\(t).getMinutes('Asia/Kathmandu')") == .int(16))
        #expect(try evalError("\(t).getHours('Mars/Olympus')")?.contains("time zone") == true)
    }

    @Test func arithmeticAndRanges() throws {
        #expect(
            try eval("timestamp('2009-02-13T23:00:00Z') + duration('1h30m') == timestamp('2009-02-14T00:30:00Z')")
                == .bool(true))
        #expect(
            try eval("string(timestamp('2009-02-13T23:31:30Z') - timestamp('2009-02-13T23:29:00Z'))") == .string("150s")
        )
        #expect(try eval("duration('-1.5s')") == .duration(try CELDuration(seconds: -1, nanos: -500_000_000)))
        #expect(try evalError("timestamp('9999-12-31T23:59:59Z') + duration('1s')")?.contains("range") == true)
        #expect(try evalError("timestamp('0000-01-01T00:00:00Z')")?.contains("range") == true)
        #expect(try evalError("duration('320000000000s')")?.contains("range") == true)
        #expect(try eval("duration('3730s').getMinutes()") == .int(62))
        #expect(try eval("int(timestamp('2009-02-13T23:31:30+01:00'))") == .int(1_234_564_290))
        #expect(try eval("type(timestamp(0)) == google.protobuf.Timestamp") == .bool(true))
    }
}
