import Foundation
import SluiceStore
import SluiceTestSupport
import Testing

/// `kill -9` in the middle of an append run leaves whole batches, and a second run of the
/// same input completes the store with every event once.
@Suite struct CrashTests {
    static var binary: URL { SluiceBinary.url }

    @Test func killDashNineDuringAppendsLeavesAConsistentStore() throws {
        let dir = try scratchDirectory("crash")
        defer { try? FileManager.default.removeItem(at: dir) }
        let total = 200_000
        var text = ""
        text.reserveCapacity(total * 48)
        for i in 1...total { text += #"{"id":"e\#(i)","order_id":"o\#(i % 997)","n":\#(i)}"# + "\n" }
        try Data(text.utf8).write(to: dir.appendingPathComponent("events.jsonl"))
        try Data(
            """
            inputs: { in: { file: events.jsonl } }
            outputs:
              log: { from: [in], store: { sqlite: s.db, stream: order_id, id: id, type: '"e"' } }
            """.utf8
        ).write(to: dir.appendingPathComponent("p.yaml"))
        let db = dir.appendingPathComponent("s.db").path

        func launch() throws -> Process {
            let p = Process()
            p.executableURL = Self.binary
            p.arguments = ["run", dir.appendingPathComponent("p.yaml").path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        func stored() -> Int64 {
            (try? SQLiteEventStore.openForReading(path: db).lastPosition()) ?? 0
        }

        let first = try launch()
        var waited = 0
        while stored() == 0 && waited < 3000 && first.isRunning {
            usleep(5_000)
            waited += 5
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()

        // Whatever was committed is a prefix of the input: no gap, no half batch, no
        // stream version skipped.
        let after = try SQLiteEventStore.openForReading(path: db).readAll()
        #expect(!after.isEmpty)
        for (i, e) in after.enumerated() {
            #expect(e.position == Int64(i + 1))
            #expect(e.eventID == "e\(i + 1)")
            if e.eventID != "e\(i + 1)" { break }
        }
        var versions: [String: Int64] = [:]
        for e in after {
            let v = versions[e.streamID, default: 0] + 1
            #expect(e.version == v)
            versions[e.streamID] = v
        }

        // The same input again: the rest is appended, nothing twice.
        let second = try launch()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)
        let all = try SQLiteEventStore.openForReading(path: db).readAll()
        #expect(all.count == total)
        #expect(Set(all.map(\.eventID)).count == total)
        #expect(all.last?.eventID == "e\(total)")
    }
}
