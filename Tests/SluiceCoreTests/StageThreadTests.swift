#if os(Linux)
    import Glibc
    import SluiceCore
    import Synchronization
    import Testing

    /// What a stage sees of its own thread: its name and its scheduling policy.
    struct ThreadFacts: Equatable, Sendable {
        var name: String
        var policy: Int32

        static func current() -> ThreadFacts {
            var name = ""
            if let f = fopen("/proc/thread-self/comm", "r") {
                var buf = [CChar](repeating: 0, count: 64)
                if fgets(&buf, 64, f) != nil {
                    name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
                fclose(f)
            }
            return ThreadFacts(
                name: name.hasSuffix("\n") ? String(name.dropLast()) : name, policy: sched_getscheduler(0))
        }
    }

    final class FactsSource: EventSource, @unchecked Sendable {
        let name = "facts"
        let seen = Mutex<ThreadFacts?>(nil)
        func run(_ out: SourceOutput) throws {
            seen.withLock { $0 = ThreadFacts.current() }
            out.emit([Event(.int(1))])
        }
    }

    final class FactsStep: Step {
        let seen = Mutex<ThreadFacts?>(nil)
        func process(_ event: Event, into out: inout StepOutput) {
            seen.withLock { $0 = ThreadFacts.current() }
            out.emit(event)
        }
    }

    final class FactsSink: EventSink, @unchecked Sendable {
        let name = "facts-out"
        let seen = Mutex<ThreadFacts?>(nil)
        func write(_ events: [Event]) throws { seen.withLock { $0 = ThreadFacts.current() } }
        func flush() throws {}
        func close() throws {}
    }

    @Suite struct StageThreadTests {
        /// Sources and sinks run under SCHED_BATCH (3), so that waking them does not
        /// preempt a worker; steps keep the normal policy (0). Every stage thread is
        /// named after its node (at most 15 bytes).
        @Test func sourcesAndSinksRunAsBatchThreadsAndStepsDoNot() {
            let flow = Dataflow()
            let source = FactsSource()
            let step = FactsStep()
            let sink = FactsSink()
            let s = flow.addSource(source)
            let mid = flow.addStream(
                name: "main", chain: StepChain([StepChain.Entry(step: step, name: "facts", kind: "facts")]))
            let k = flow.addSink(sink)
            flow.connect(s, port: SourcePort.main, to: mid)
            flow.connect(mid, port: Dataflow.mainPort, to: k)
            #expect(Execution(flow).wait() == .completed)
            #expect(source.seen.withLock { $0 } == ThreadFacts(name: "in:facts", policy: 3))
            #expect(step.seen.withLock { $0 } == ThreadFacts(name: "st:main", policy: 0))
            #expect(sink.seen.withLock { $0 } == ThreadFacts(name: "out:facts-out", policy: 3))
        }
    }
#endif
