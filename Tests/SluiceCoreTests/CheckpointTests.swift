import Foundation
import SluiceJSON
import Synchronization
import Testing

@testable import SluiceCore

/// Barriers, alignment, the coordinator and the on-disk format, without a pipeline.
@Suite struct CheckpointTests {
    static func tempDir() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-ckpt-\(UUID().uuidString)").path
        return dir
    }

    static func batch(_ n: Int) -> Message { .events([Event(.int(Int64(n)))]) }

    static func label(_ m: Message) -> String {
        switch m {
        case .events(let es): es.map { "\($0.value)" }.joined(separator: ",")
        case .sequenced: "seq"
        case .watermark(let w): "w\(w)"
        case .barrier(let id): "B\(id)"
        case .end: "end"
        }
    }

    /// Drains what `merge` has ready, as labels.
    static func drain(_ merge: InputMerge) -> [String] {
        var out: [String] = []
        while let (_, m) = merge.poll() { out.append(label(m)) }
        return out
    }

    @Test func anInputThatDeliveredABarrierIsHeldUntilEveryInputHas() {
        let rings = (0..<2).map { _ in SPSCRing<Message>(capacity: 16) }
        let merge = InputMerge(rings: rings, parker: Parker())
        rings[0].push(Self.batch(1))
        rings[0].push(.barrier(1))
        rings[0].push(Self.batch(2))  // after the barrier: must wait
        rings[1].push(Self.batch(10))
        var seen = Self.drain(merge)
        #expect(seen.contains("1") && seen.contains("10"))
        #expect(!seen.contains("2") && !seen.contains("B1"))
        rings[1].push(Self.batch(11))
        rings[1].push(.barrier(1))
        rings[1].push(Self.batch(12))
        seen = Self.drain(merge)
        // 11 comes before the barrier; 2 and 12 only after it.
        guard let b = seen.firstIndex(of: "B1"), let i11 = seen.firstIndex(of: "11"),
            let i2 = seen.firstIndex(of: "2"), let i12 = seen.firstIndex(of: "12")
        else {
            Issue.record("missing messages in \(seen)")
            return
        }
        #expect(i11 < b && b < i2 && b < i12)
        #expect(seen.filter { $0 == "B1" }.count == 1)
    }

    @Test func anInputThatEndsNoLongerHoldsBackTheBarrier() {
        let rings = (0..<2).map { _ in SPSCRing<Message>(capacity: 16) }
        let merge = InputMerge(rings: rings, parker: Parker())
        rings[0].push(.barrier(3))
        rings[0].push(Self.batch(1))
        #expect(Self.drain(merge) == [])
        rings[1].push(.end)
        #expect(Self.drain(merge) == ["end", "B3", "1"])
    }

    @Test func oneInputPassesItsBarrierStraightThrough() {
        let ring = SPSCRing<Message>(capacity: 8)
        let merge = InputMerge(rings: [ring], parker: Parker())
        ring.push(Self.batch(1))
        ring.push(.barrier(1))
        ring.push(Self.batch(2))
        #expect(Self.drain(merge) == ["1", "B1", "2"])
    }

    static func stage(_ name: String, copy: Int = 0, copies: Int = 1, state: [Int: [UInt8]] = [:]) -> StageSnapshot {
        StageSnapshot(
            stream: name, copy: copy, copies: copies, watermark: 42, inputMarks: [42], keyText: "user",
            steps: [
                StepSnapshot(id: "\(name)[0].filter", kind: "filter", mark: 42, keySource: nil, state: nil),
                StepSnapshot(
                    id: "\(name)[1].count", kind: "count", mark: 40, keySource: "user",
                    state: StepState(version: 2, shared: [1, 2, 3], groups: state)),
            ])
    }

    @Test func aStageSnapshotReadsBackAsWritten() throws {
        let s = Self.stage(
            "work", copy: 1, copies: 2, state: [0: [9, 9], 200: [], 255: Array(repeating: 7, count: 300)])
        #expect(try StageSnapshot.decode(s.encoded()) == s)
        // Cut short anywhere: an error, not a crash or a wrong value.
        let bytes = s.encoded()
        for cut in [1, bytes.count / 2, bytes.count - 1] {
            #expect(throws: StateError.self) { try StageSnapshot.decode(Array(bytes.prefix(cut))) }
        }
    }

    static func checkpoint(_ id: Int, fingerprint: String = "p-1") -> Checkpoint {
        Checkpoint(
            id: id, fingerprint: fingerprint,
            sources: ["in": SourceSnapshot(position: [UInt8(id), 2], maxTime: 100, watermark: 90)],
            stages: ["work": stage("work", state: [3: [UInt8(id)]])], sinks: ["out": [4, UInt8(id)], "stdout": []])
    }

    @Test func checkpointsAreWrittenAndReadBackAndOnlyTheNewestThreeKept() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try CheckpointStore(directory: dir)
        for id in 1...5 { try store.write(Self.checkpoint(id)) }
        #expect(store.ids() == [5, 4, 3])
        var warnings: [String] = []
        #expect(store.latest { warnings.append($0) } == Self.checkpoint(5))
        #expect(warnings.isEmpty)
        // No temporary directory is left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(!names.contains { $0.hasPrefix(".tmp") })
    }

    /// Damages file `name` of checkpoint `id` with `damage`, then reads the newest.
    func restoreAfterDamaging(_ name: String, _ damage: (inout Data) -> Void) throws -> (Checkpoint?, [String]) {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try CheckpointStore(directory: dir)
        try store.write(Self.checkpoint(1))
        try store.write(Self.checkpoint(2))
        let path = "\(dir)/\(CheckpointStore.dirName(2))/\(name)"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        damage(&data)
        try data.write(to: URL(fileURLWithPath: path))
        var warnings: [String] = []
        let c = store.latest { warnings.append($0) }
        return (c, warnings)
    }

    @Test(arguments: ["ends", "stage-0", "MANIFEST"])
    func aTruncatedFileMakesTheRestoreUseThePreviousCheckpointAndSaySo(_ name: String) throws {
        let (c, warnings) = try restoreAfterDamaging(name) { $0 = $0.prefix($0.count / 2) }
        #expect(c == Self.checkpoint(1))
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("checkpoint 2") == true)
        #expect(warnings.first?.contains("using checkpoint 1 instead") == true)
    }

    @Test(arguments: ["ends", "stage-0", "MANIFEST"])
    func aFlippedByteMakesTheRestoreUseThePreviousCheckpointAndSaySo(_ name: String) throws {
        let (c, warnings) = try restoreAfterDamaging(name) { $0[$0.count / 2] ^= 0x20 }
        #expect(c == Self.checkpoint(1))
        #expect(warnings.first?.contains("is damaged") == true)
    }

    @Test func aSecondStoreOnOneDirectoryIsRefusedWhileTheFirstHoldsIt() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var first: CheckpointStore? = try CheckpointStore(directory: dir)
        #expect(first != nil)
        do {
            _ = try CheckpointStore(directory: dir)
            Issue.record("a second store opened a locked directory")
        } catch {
            #expect(error.message.contains("in use by another run"))
        }
        first = nil
        // Released with the first: a later run may use it.
        #expect(throws: Never.self) { _ = try CheckpointStore(directory: dir) }
    }

    @Test func anUnwritableDirectoryIsReportedWithItsName() {
        #expect(throws: StateError.self) { _ = try CheckpointStore(directory: "/proc/no-such/ckpt") }
    }

    @Test func theCoordinatorCompletesACheckpointOnceEveryPartIsIn() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try CheckpointStore(directory: dir)
        let c = CheckpointCoordinator(
            config: CheckpointConfig(directory: dir, interval: 1_000_000_000, fingerprint: "p-1"), store: store
        ) { _ in }
        c.expect(sources: ["in"], stages: ["work"], sinks: ["out", "stdout"])
        #expect(c.requestNext() == 1)
        // Still in flight: no second request.
        #expect(c.requestNext() == nil)
        let want = Self.checkpoint(1)
        c.source("in", reached: 1, want.sources["in"]!)
        c.stage("work", reached: 1, want.stages["work"]!)
        c.sink("out", reached: 1, want.sinks["out"]!)
        c.stop()
        #expect(store.ids().isEmpty)
        // A sink that has finished stands in with its final part.
        c.sinkFinished("stdout", [])
        c.stop()
        #expect(store.ids() == [1])
        #expect(try store.read(1) == want)
        #expect(c.stats.count == 1 && c.stats.lastID == 1)
        #expect(c.requestNext() == 2)
    }

    /// Records the checkpoints it is told of.
    final class Listener: CheckpointListener {
        let ids = Mutex<[Int]>([])
        func checkpointCompleted(_ id: Int) { ids.withLock { $0.append(id) } }
    }

    @Test func listenersHearOfACheckpointOnlyOnceItIsWritten() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try CheckpointStore(directory: dir)
        let c = CheckpointCoordinator(
            config: CheckpointConfig(directory: dir, interval: 1_000_000_000, fingerprint: "p-1"), store: store
        ) { _ in }
        let listener = Listener()
        c.addListener(listener)
        c.expect(sources: ["in"], stages: [], sinks: [])
        let part = SourceSnapshot(position: nil, maxTime: 0, watermark: 0)
        #expect(c.requestNext() == 1)
        c.stop()
        #expect(listener.ids.withLock { $0 }.isEmpty)
        c.source("in", reached: 1, part)
        c.stop()
        #expect(listener.ids.withLock { $0 } == [1])
        #expect(c.requestNext() == 2)
        c.source("in", reached: 2, part)
        c.stop()
        #expect(listener.ids.withLock { $0 } == [1, 2])
        // A checkpoint that cannot be written is not announced.
        try FileManager.default.removeItem(atPath: dir)
        #expect(c.requestNext() == 3)
        c.source("in", reached: 3, part)
        c.stop()
        #expect(listener.ids.withLock { $0 } == [1, 2])
    }

    @Test func aCheckpointThatCannotBeWrittenIsWarnedAboutAndTheRunGoesOn() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try CheckpointStore(directory: dir)
        let warnings = Mutex<[String]>([])
        let c = CheckpointCoordinator(
            config: CheckpointConfig(directory: dir, interval: 1_000_000_000, fingerprint: "p-1"), store: store
        ) { m in warnings.withLock { $0.append(m) } }
        c.expect(sources: ["in"], stages: [], sinks: [])
        // The directory goes away under the run.
        try FileManager.default.removeItem(atPath: dir)
        c.requestNext()
        c.source("in", reached: 1, SourceSnapshot(position: nil, maxTime: 0, watermark: 0))
        c.stop()
        #expect(c.stats.failed == 1)
        #expect(warnings.withLock { $0.count } == 1)
        #expect(warnings.withLock { $0.first?.contains("checkpoint 1 was not written") } == true)
        // The next one is requested all the same.
        #expect(c.requestNext() == 2)
    }
}
