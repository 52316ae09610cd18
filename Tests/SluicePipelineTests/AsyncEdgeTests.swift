import Sluice
import SluiceConnectors
import Testing

/// The async edges of an embedded run (``AsyncOutput``, ``PushInput``): their state
/// machines, driven directly with tokens for continuations (no threads), and the runs
/// that used to hang.
@Suite struct AsyncOutputStateMachineTests {
    typealias Machine = AsyncOutputStateMachine<Int>

    @Test func aWaitingReaderGetsTheNextValueDirectly() {
        var m = Machine(capacity: 2)
        guard case .suspended = m.next(1) else { Issue.record("should suspend"); return }
        guard case .resume(1, .int(7)) = m.write(.int(7)) else { Issue.record("should hand over"); return }
        #expect(m.buffered == 0)
    }

    @Test func theWriterWaitsWhenFullAndIsWokenOnceByARead() {
        var m = Machine(capacity: 2)
        guard case .none = m.write(.int(1)) else { Issue.record("room"); return }
        guard case .wait = m.write(.int(2)) else { Issue.record("full: wait"); return }
        guard case .resume(5, .int(1)?, wakeWriter: true) = m.next(5) else { Issue.record("wake"); return }
        guard case .resume(6, .int(2)?, wakeWriter: false) = m.next(6) else { Issue.record("one wake only"); return }
    }

    @Test func closeEndsAfterTheBuffer() {
        var m = Machine(capacity: 4)
        _ = m.write(.int(1))
        let waiting = m.close()
        #expect(waiting == nil)
        guard case .resume(1, .int(1)?, _) = m.next(1) else { Issue.record("buffered first"); return }
        guard case .resume(2, nil, _) = m.next(2) else { Issue.record("then the end"); return }
    }

    @Test func closeResumesAWaitingReaderWithTheEnd() {
        var m = Machine(capacity: 4)
        _ = m.next(3)
        let waiting = m.close()
        #expect(waiting == 3)
    }

    @Test func aConsumerThatLeavesWakesTheWriterAndFailsLaterWrites() {
        var m = Machine(capacity: 1)
        guard case .wait = m.write(.int(1)) else { Issue.record("full"); return }
        let (reader, wake) = m.consumerGone()
        #expect(reader == nil && wake)
        guard case .consumerGone = m.write(.int(2)) else { Issue.record("writes fail"); return }
        guard case .resume(4, nil, wakeWriter: false) = m.next(4) else { Issue.record("the end"); return }
    }

    @Test func aCancelledReaderIsResumedWithTheEnd() {
        var m = Machine(capacity: 1)
        _ = m.next(9)
        let (reader, wake) = m.consumerGone()
        #expect(reader == 9 && !wake)
    }

    @Test func aCancelledRunStopsTheWriterWaiting() {
        var m = Machine(capacity: 1)
        guard case .wait = m.write(.int(1)) else { Issue.record("full"); return }
        let wake = m.runCancelled()
        #expect(wake)
        guard case .none = m.write(.int(2)) else { Issue.record("no more waiting"); return }
        #expect(m.buffered == 2)
        let again = m.runCancelled()
        #expect(!again)
    }
}

@Suite struct PushInputStateMachineTests {
    typealias Machine = PushInputStateMachine<Int>

    @Test func offersFillTheBufferThenAskToSuspend() {
        var m = Machine(capacity: 2)
        let offers = [m.offer(Event(.int(1))), m.offer(Event(.int(2))), m.offer(Event(.int(3)))]
        #expect(offers == [.accepted(wakeReader: false), .accepted(wakeReader: false), .full])
        guard case .stored = m.suspend(id: 1, 100) else { Issue.record("stored"); return }
        guard case .events(let events, let resume) = m.take() else { Issue.record("events"); return }
        #expect(events.count == 2 && resume == [100])
        guard case .wait = m.take() else { Issue.record("wait"); return }
        let last = m.offer(Event(.int(3)))
        #expect(last == .accepted(wakeReader: true))
    }

    @Test func aSuspendThatRacesWithATakeResumesAtOnce() {
        var m = Machine(capacity: 1)
        _ = m.offer(Event(.int(1)))
        let second = m.offer(Event(.int(2)))
        #expect(second == .full)
        _ = m.take()
        guard case .resume(7, true) = m.suspend(id: 1, 7) else { Issue.record("room now"); return }
    }

    @Test func finishDrainsThenEnds() {
        var m = Machine(capacity: 1)
        _ = m.offer(Event(.int(1)))
        _ = m.suspend(id: 1, 5)
        let (senders, wake) = m.finish()
        #expect(senders == [5] && !wake)
        let late = m.offer(Event(.int(2)))
        #expect(late == .closed)
        guard case .events(let e, _) = m.take(), e.count == 1 else { Issue.record("drain"); return }
        guard case .end = m.take() else { Issue.record("end"); return }
    }

    @Test func aCancelledRunEndsTheReaderAndReleasesSenders() {
        var m = Machine(capacity: 1)
        _ = m.take()
        _ = m.offer(Event(.int(1)))
        _ = m.suspend(id: 1, 5)
        let (senders, wake) = m.runCancelled()
        #expect(senders == [5] && !wake)
        guard case .end = m.take() else { Issue.record("end at once"); return }
        guard case .resume(6, false) = m.suspend(id: 2, 6) else { Issue.record("give up"); return }
    }

    @Test func aWaitingReaderIsWokenByFinish() {
        var m = Machine(capacity: 1)
        guard case .wait = m.take() else { Issue.record("wait"); return }
        let wake = m.finish().wakeReader
        #expect(wake)
    }

    @Test func aCancelledSenderIsFoundById() {
        var m = Machine(capacity: 1)
        _ = m.offer(Event(.int(1)))
        _ = m.suspend(id: 1, 10)
        _ = m.suspend(id: 2, 20)
        let found = m.senderCancelled(id: 2)
        let again = m.senderCancelled(id: 2)
        #expect(found == 20 && again == nil)
        guard case .events(_, let resume) = m.take() else { Issue.record("events"); return }
        #expect(resume == [10])
    }
}

/// Runs that used to hang: a consumer that stops reading, then cancels the run.
@Suite(.timeLimit(.minutes(1))) struct AsyncEdgeRunTests {
    func start(capacity: Int = 4) throws -> (PipelineRun, PushInput, AsyncOutput) {
        let pipeline = try Pipeline.compile(yaml: "steps: [ { filter: 'true' } ]")
        let input = PushInput(name: "in", capacity: capacity)
        let output = AsyncOutput(name: "out", capacity: capacity)
        var options = RunOptions()
        options.sources["in"] = input
        options.sinks["out"] = output
        return (try pipeline.start(options), input, output)
    }

    /// Feeds events until the input stops taking them (which a stop makes happen).
    func feed(_ input: PushInput) -> Task<Void, Never> {
        Task {
            var i: Int64 = 0
            while await input.send(["i": .int(i)]) { i += 1 }
        }
    }

    @Test func breakingOutThenCancellingFinishes() async throws {
        let (run, input, output) = try start()
        let sender = feed(input)
        var n = 0
        for await _ in output {
            n += 1
            if n == 3 { break }
        }
        run.execution.cancel()
        let outcome = await run.finished()
        #expect(outcome == .completed || outcome == .outputClosed)
        await sender.value
    }

    @Test func breakingOutAloneEndsTheRunAsAClosedOutput() async throws {
        let (run, input, output) = try start()
        let sender = feed(input)
        for await _ in output { break }
        #expect(await run.finished() == .outputClosed)
        await sender.value
    }

    @Test func cancellingTheConsumerEndsTheRun() async throws {
        let (run, input, output) = try start()
        let sender = feed(input)
        let consumer = Task {
            var n = 0
            for await _ in output { n += 1 }
            return n
        }
        while run.execution.eventsOut.load(ordering: .relaxed) < 10 { await Task.yield() }
        consumer.cancel()
        _ = await consumer.value
        #expect(await run.finished() == .outputClosed)
        await sender.value
    }

    @Test func cancellingTheTaskAwaitingFinishedCancelsTheRun() async throws {
        let (run, input, output) = try start()
        let sender = feed(input)
        // Nobody reads: the run is stuck on the full output until the wait is cancelled.
        let waiter = Task { await run.finished() }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        #expect(await waiter.value == .completed)
        await sender.value
        _ = output
    }
}
