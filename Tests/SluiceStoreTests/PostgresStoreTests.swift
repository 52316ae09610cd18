import Foundation
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceStore
import SluiceTestSupport
import Testing

/// The PostgreSQL backend against a real server per test (``PostgresServer``: initdb into a
/// temporary folder, `postgres` on a free loopback port). Without PostgreSQL installed these
/// tests are skipped, except under `CI=true`, where they fail.
@Suite(.enabled(if: PostgresServer.enabled, "PostgreSQL server binaries not found (make deps installs them)"))
struct PostgresStoreTests {
    @Test func appendsAreIdempotentAndCheckVersions() throws {
        try PostgresServer.run { server in
            let store = try PostgresEventStore.open(server.url(), forAppend: true)
            defer { store.close() }
            let r = try store.append([newEvent("o1", "a"), newEvent("o2", "b"), newEvent("o1", "c")])
            #expect(
                r == [
                    .appended(position: 1, version: 1), .appended(position: 2, version: 1),
                    .appended(position: 3, version: 2),
                ])
            // The same ids again (and one twice in a batch): stored once.
            let again = try store.append([newEvent("o1", "a"), newEvent("o1", "d"), newEvent("o1", "d")])
            #expect(again == [.duplicate, .appended(position: 4, version: 3), .duplicate])
            // Optimistic concurrency, counting the batch's own earlier appends.
            let checked = try store.append([
                newEvent("o1", "e", expected: 1), newEvent("o2", "f", expected: 1), newEvent("o2", "g", expected: 2),
                newEvent("o3", "h", expected: 0), newEvent("o1", "c", expected: 0),
            ])
            #expect(
                checked == [
                    .conflict(actual: 3), .appended(position: 5, version: 2), .appended(position: 6, version: 3),
                    .appended(position: 7, version: 1), .duplicate,
                ])
            #expect(try store.streamVersion("o2") == 3)
            #expect(try store.lastPosition() == 7)
            let all = try store.readAll()
            #expect(all.map(\.eventID) == ["a", "b", "c", "d", "f", "g", "h"])
            #expect(all.map(\.position) == [1, 2, 3, 4, 5, 6, 7])
            #expect(all.first?.data == #"{"id":"a","order_id":"o1"}"#)
            #expect(all.first?.type == "placed")
            #expect(all.first?.eventTime == 1000)

            // A second connection opening the store finds the tables made.
            let again2 = try PostgresEventStore.open(server.url(), forAppend: true)
            #expect(try again2.append([newEvent("o9", "z")]) == [.appended(position: 8, version: 1)])
            again2.close()
        }
    }

    /// Appends commit without waiting for the WAL flush (SQLite's `synchronous=NORMAL`),
    /// unless the connection string says otherwise.
    @Test func synchronousCommitIsOffUnlessTheURLSetsIt() throws {
        try PostgresServer.run { server in
            let relaxed = try PostgresEventStore.open(server.url(), forAppend: true)
            #expect(try relaxed.setting("synchronous_commit") == "off")
            relaxed.close()
            let strict = try PostgresEventStore.open(
                server.url() + "?options=-csynchronous_commit%3Don", forAppend: true)
            #expect(try strict.setting("synchronous_commit") == "on")
            #expect(try strict.append([newEvent("o1", "a")]) == [.appended(position: 1, version: 1)])
            strict.close()
        }
    }

    /// Two connections taking turns on one stream: each sees the other's appends (its
    /// remembered stream versions are dropped when someone else has appended).
    @Test func interleavedWritersSeeEachOthersVersions() throws {
        try PostgresServer.run { server in
            let a = try PostgresEventStore.open(server.url(), forAppend: true)
            let b = try PostgresEventStore.open(server.url(), forAppend: true)
            defer {
                a.close()
                b.close()
            }
            #expect(try a.append([newEvent("o1", "a1")]) == [.appended(position: 1, version: 1)])
            #expect(try a.append([newEvent("o1", "a2")]) == [.appended(position: 2, version: 2)])
            #expect(try b.append([newEvent("o1", "b1")]) == [.appended(position: 3, version: 3)])
            #expect(try a.append([newEvent("o1", "a3", expected: 2)]) == [.conflict(actual: 3)])
            #expect(try a.append([newEvent("o1", "a3", expected: 3)]) == [.appended(position: 4, version: 4)])
            #expect(
                try b.append([newEvent("o1", "a3"), newEvent("o2", "b2")]) == [
                    .duplicate, .appended(position: 5, version: 1),
                ])
            #expect(try a.append([newEvent("o2", "a4")]) == [.appended(position: 6, version: 2)])
        }
    }

    @Test func replaysFromEachKindOfStart() throws {
        try PostgresServer.run { server in
            let writer = try PostgresEventStore.open(server.url(), forAppend: true)
            _ = try writer.append([
                newEvent("o1", "a", time: 100), newEvent("o2", "b", time: 300), newEvent("o1", "c", time: 200),
                newEvent("o{3},\"", "d\t\\\n", time: 400),
            ])
            // Quotes, braces and backslashes survive the array literals of the id and
            // version probes.
            #expect(try writer.append([newEvent("o{3},\"", "d\t\\\n")]) == [.duplicate])
            #expect(try writer.streamVersion("o{3},\"") == 1)
            writer.close()
            let reader = try PostgresEventStore.open(server.url(), forAppend: false)
            defer { reader.close() }
            #expect(try reader.readAll(.beginning).map(\.eventID) == ["a", "b", "c", "d\t\\\n"])
            #expect(try reader.readAll(.position(3)).map(\.eventID) == ["c", "d\t\\\n"])
            #expect(try reader.readAll(.time(200)).map(\.eventID) == ["b", "c", "d\t\\\n"])
            #expect(try reader.readAll(.stream("o1")).map(\.eventID) == ["a", "c"])
            #expect(try reader.readAll(.stream("none")).isEmpty)
            // Page by page (the source's way): each page continues after the last row read.
            var paged: [String] = []
            var last: Int64 = 0
            while try reader.replay(
                .stream("o1"), after: last, limit: 1,
                { row in
                    paged.append(row.eventID)
                    last = row.position
                }) > 0
            {}
            #expect(paged == ["a", "c"])
            // COPY's escapes round-trip: the JSON text with its backslashes.
            #expect(
                try reader.readAll(.stream("o{3},\"")).first?.data == #"{"id":"\#("d\t\\\n")","order_id":"o{3},""}"#)
        }
    }

    @Test func pipelinesAppendAndReplayThroughPostgres() throws {
        try PostgresServer.run { server in
            let url = server.url()
            let dir = try scratchDirectory("pg-pipeline")
            defer { try? FileManager.default.removeItem(at: dir) }
            let append = try compilePipeline(
                """
                inputs: { in: { stdin: {} } }
                outputs:
                  log:
                    from: [in]
                    store: { postgres: "\(url)", stream: order_id, id: id, type: type, expected_version: expected }
                  conflicts: { from: [log.rejected], stdout: {} }
                """, in: dir)
            let events = [
                order("e1", "o1", "placed", expected: 0), order("e2", "o1", "paid", expected: 0),
                order("e3", "o1", "paid", expected: 1), order("e4", "o2", "placed", expected: 0),
            ]
            let (outcome, out) = try run(append, events: events, collect: ["conflicts"])
            #expect(outcome == .completed)
            #expect(out["conflicts"]?.map { $0["error"]?["actual_version"] } == [.int(1)])
            // Again: idempotent, and e2 conflicts again.
            let (again, _) = try run(append, events: events, collect: ["conflicts"])
            #expect(again == .completed)

            let replay = try compilePipeline(
                """
                inputs: { history: { store: { postgres: "\(url)", from: { stream: o1 } } } }
                outputs: { out: { from: [history], stdout: {} } }
                """, in: dir)
            let (done, read) = try run(replay, input: "none", collect: ["out"])
            #expect(done == .completed)
            #expect(read["out"]?.map { $0["id"] } == [.string("e1"), .string("e3")])
            #expect(read["out"]?.last?["_store"]?["version"] == .int(2))
            #expect(read["out"]?.last?["_store"]?["position"] == .int(2))
            #expect(read["out"]?.last?["amount"] == .int(10))
        }
    }

    /// A `sluice run` following the store (with a 60 s poll, so only a notification can
    /// wake it in time) sees appends this process makes.
    @Test func followPicksUpAppendsFromAnotherProcess() throws {
        try PostgresServer.run { server in
            let url = server.url()
            let dir = try scratchDirectory("pg-follow")
            defer { try? FileManager.default.removeItem(at: dir) }
            let writer = try PostgresEventStore.open(url, forAppend: true)
            defer { writer.close() }
            _ = try writer.append([newEvent("o1", "before")])
            try Data(
                """
                inputs: { history: { store: { postgres: "\(url)", follow: true, poll: 60s } } }
                outputs: { out: { from: [history], file: out.jsonl } }
                """.utf8
            ).write(to: dir.appendingPathComponent("follow.yaml"))
            let follower = Process()
            follower.executableURL = CrashTests.binary
            follower.arguments = ["run", dir.appendingPathComponent("follow.yaml").path]
            follower.standardOutput = FileHandle.nullDevice
            follower.standardError = FileHandle.nullDevice
            try follower.run()
            defer {
                if follower.isRunning {
                    kill(follower.processIdentifier, SIGKILL)
                    follower.waitUntilExit()
                }
            }
            let out = dir.appendingPathComponent("out.jsonl")
            func ids() -> [String] {
                let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").compactMap { line in
                    guard case .string(let s)? = (try? JSONParser.parse(String(line)))?["id"] else { return nil }
                    return s
                }
            }
            func waitFor(_ n: Int) -> Bool {
                var waited = 0
                while ids().count < n && waited < 30_000 && follower.isRunning {
                    usleep(20_000)
                    waited += 20
                }
                return ids().count >= n
            }
            #expect(waitFor(1))
            // Give the follower time to reach its wait, then append twice.
            usleep(300_000)
            _ = try writer.append([newEvent("o1", "after1"), newEvent("o2", "after2")])
            #expect(waitFor(3))
            _ = try writer.append([newEvent("o1", "after3")])
            #expect(waitFor(4))
            #expect(ids() == ["before", "after1", "after2", "after3"])
            #expect(follower.isRunning)
        }
    }

    /// Two `sluice run` processes append to one store at once, into shared streams: every
    /// event is stored once, positions are 1...N with no gap or repeat, and each stream's
    /// versions are 1...n in position order.
    @Test func concurrentAppendersNeverShareAPositionOrLoseAnEvent() throws {
        try PostgresServer.run { server in
            let url = server.url()
            let dir = try scratchDirectory("pg-concurrent")
            defer { try? FileManager.default.removeItem(at: dir) }
            let perWriter = 30_000
            for w in ["a", "b"] {
                var text = ""
                for i in 1...perWriter { text += #"{"id":"\#(w)\#(i)","order_id":"o\#(i % 101)","n":\#(i)}"# + "\n" }
                try Data(text.utf8).write(to: dir.appendingPathComponent("\(w).jsonl"))
                try Data(
                    """
                    inputs: { in: { file: \(w).jsonl } }
                    outputs:
                      log: { from: [in], store: { postgres: "\(url)", stream: order_id, id: id, type: '"e"' } }
                    """.utf8
                ).write(to: dir.appendingPathComponent("\(w).yaml"))
            }
            // Make the tables first, so both writers race on appends, not on creation.
            try PostgresEventStore.open(url, forAppend: true).close()
            let writers = try ["a", "b"].map { w in
                let p = Process()
                p.executableURL = CrashTests.binary
                p.arguments = ["run", dir.appendingPathComponent("\(w).yaml").path]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                return p
            }
            for p in writers { p.waitUntilExit() }
            #expect(writers.map(\.terminationStatus) == [0, 0])

            let all = try PostgresEventStore.open(url, forAppend: false).readAll()
            #expect(all.count == 2 * perWriter)
            #expect(all.map(\.position) == Array(1...Int64(2 * perWriter)))
            #expect(Set(all.map(\.eventID)).count == 2 * perWriter)
            var versions: [String: Int64] = [:]
            var bad = 0
            for e in all {
                let v = versions[e.streamID, default: 0] + 1
                if e.version != v { bad += 1 }
                versions[e.streamID] = v
            }
            #expect(bad == 0)
            // Both writers' batches interleaved (the race really happened) or not, each
            // writer's own events keep their input order.
            for w in ["a", "b"] {
                let mine = all.filter { $0.eventID.hasPrefix(w) }.map(\.eventID)
                #expect(mine == (1...perWriter).map { "\(w)\($0)" })
            }
        }
    }

    @Test func badConnectionsGiveOneClearMessageWithoutThePassword() throws {
        try PostgresServer.run { server in
            func message(_ url: String) -> String {
                do throws(StoreError) {
                    _ = try PostgresEventStore.open(url, forAppend: true)
                    return "opened"
                } catch {
                    return error.message
                }
            }
            let wrong = message(server.url(password: "not-the-password"))
            #expect(wrong.contains("password authentication failed"))
            #expect(wrong.contains("postgres://sluice:***@127.0.0.1:\(server.port)/postgres"))
            #expect(!wrong.contains("not-the-password"))
            #expect(!wrong.contains("\n"))

            let closed = try freePort()
            let unreachable = message("postgres://sluice:secret@127.0.0.1:\(closed)/postgres")
            #expect(
                unreachable.hasPrefix("cannot connect to store 'postgres://sluice:***@127.0.0.1:\(closed)/postgres'"))
            #expect(unreachable.contains("refused"))
            #expect(!unreachable.contains("secret"))

            let missing = message(server.url(database: "nope"))
            #expect(missing.contains("\"nope\" does not exist"))

            // Through a pipeline: the run does not start, and says why.
            let dir = try scratchDirectory("pg-bad")
            defer { try? FileManager.default.removeItem(at: dir) }
            let p = try compilePipeline(
                """
                inputs: { in: { stdin: {} } }
                outputs:
                  log: { from: [in], store: { postgres: "\(server.url(password: "wrong-pw"))", stream: order_id, id: id, type: type } }
                """, in: dir)
            #expect {
                _ = try run(p, events: [order("e1", "o1", "placed")])
            } throws: { e in
                "\(e)".contains("output 'log': cannot connect to store 'postgres://sluice:***@")
                    && !"\(e)".contains("wrong-pw")
            }
            let input = try compilePipeline(
                """
                inputs: { history: { store: { postgres: "\(server.url(password: "wrong-pw"))" } } }
                outputs: { out: { from: [history], stdout: {} } }
                """, in: dir)
            let (outcome, _) = try run(input, input: "none", collect: ["out"])
            guard case .failed(let why) = outcome else {
                Issue.record("expected a failed run, got \(outcome)")
                return
            }
            #expect(why.contains("input 'history': cannot connect to store"))
            #expect(!why.contains("wrong-pw"))
        }
    }

    @Test func tablesMadeBySomethingElseAreRefusedAndLeftAlone() throws {
        try PostgresServer.run { server in
            let other = try server.createDatabase("other")
            try server.psql("CREATE TABLE events (x int); INSERT INTO events VALUES (42)", database: "other")
            #expect {
                _ = try PostgresEventStore.open(other, forAppend: true)
            } throws: { e in
                "\(e)".contains("has an 'events' table that Sluice did not make") && !"\(e)".contains("sluice-test-pw")
            }
            #expect {
                _ = try PostgresEventStore.open(other, forAppend: false)
            } throws: { e in "\(e)".contains("Sluice did not make") }
            #expect(try server.psql("SELECT x FROM events", database: "other") == "42\n")
            #expect(try server.psql("SELECT to_regclass('sluice_store') IS NULL", database: "other") == "t\n")

            let empty = try server.createDatabase("empty")
            #expect {
                _ = try PostgresEventStore.open(empty, forAppend: false)
            } throws: { e in "\(e)".contains("is not a Sluice event store: it has no 'events' table") }
        }
    }

    /// A batch the server refuses midway (its second event's data has a NUL byte, which
    /// PostgreSQL text cannot hold) leaves nothing of it: positions continue as if it never
    /// happened.
    @Test func aFailedBatchWritesNothing() throws {
        try PostgresServer.run { server in
            let store = try PostgresEventStore.open(server.url(), forAppend: true)
            defer { store.close() }
            _ = try store.append([newEvent("o1", "a")])
            #expect(throws: StoreError.self) {
                var bad = newEvent("o2", "c")
                bad.data = [UInt8(ascii: "{"), 0, UInt8(ascii: "}")]
                _ = try store.append([newEvent("o1", "b"), bad])
            }
            #expect(try store.readAll().map(\.eventID) == ["a"])
            #expect(try store.append([newEvent("o1", "d")]) == [.appended(position: 2, version: 2)])
        }
    }
}

@Suite struct PostgresConfigTests {
    @Test func passwordsAreHiddenInMessages() {
        #expect(redactedConnectionString("postgres://u:p%40ss@h:5432/db") == "postgres://u:***@h:5432/db")
        #expect(redactedConnectionString("postgresql://u@h/db") == "postgresql://u@h/db")
        #expect(
            redactedConnectionString("postgres://h/db?password=x&sslmode=off")
                == "postgres://h/db?password=***&sslmode=off")
        #expect(redactedConnectionString("host=h password=secret dbname=d") == "host=h password=*** dbname=d")
    }

    @Test func theBackendIsSqliteOrPostgres() throws {
        let dir = try scratchDirectory("pg-config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try compilePipeline(
            """
            inputs: { h: { store: { postgres: "postgres://u@127.0.0.1:1/d", follow: true } } }
            outputs: { out: { from: [h], store: { postgres: "postgres://u@127.0.0.1:1/d", stream: s, id: id, type: t } } }
            """, in: dir)
        #expect(p.inputNames == ["h"])
        #expect(
            compileErrors(
                """
                inputs: { h: { store: { postgres: "postgres://u@h/d", sqlite: s.db } } }
                outputs: { out: { from: [h], stdout: {} } }
                """
            ).contains { $0.contains("give either 'sqlite' or 'postgres', not both") })
        #expect(
            compileErrors(
                """
                inputs: { h: { store: { postgres: "" } } }
                outputs: { out: { from: [h], stdout: {} } }
                """
            ).contains { $0.contains("'postgres' needs a connection URL") })
    }
}
