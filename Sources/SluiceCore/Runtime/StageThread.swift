import CSluiceShims
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts the dedicated threads stages run on.
///
/// A stage blocks while its rings are empty or full, so it gets a thread of its own
/// rather than a worker of a shared pool (which it would hold hostage). The stack is
/// large (16 MiB) because parsing, validating and converting JSON recurse once per
/// nesting level, and events may nest up to the reader's depth limit.
@usableFromInline package enum StageThread {
    /// Stack size of every stage thread.
    static let stackSize = 16 << 20

    final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// How a stage's thread is scheduled.
    enum Role {
        /// Steps: the work that bounds throughput.
        case compute
        /// Sources and sinks: short bursts between sleeps on their rings. On Linux they
        /// run under `SCHED_BATCH`, whose threads do not preempt a running thread when
        /// they wake. Otherwise, with every core busy, each batch's wake-up of the reader
        /// or the writer interrupted a worker at once (two context switches and a cold
        /// cache for the worker); with it, they run when a core frees up or at the next
        /// scheduler tick. An idle core still takes them at once, so latency is unchanged
        /// while the machine has room.
        case io
    }

    /// Why a stage's thread could not be created.
    struct StartError: Error, CustomStringConvertible {
        var name: String
        var errno: Int32
        var description: String {
            "cannot start a thread for stage '\(name)': \(String(cString: strerror(errno)))"
        }
    }

    /// Names of stages whose threads tests make fail to start (as if `pthread_create`
    /// returned EAGAIN).
    @usableFromInline package static let refusedForTesting = Mutex<Set<String>>([])

    /// Runs `body` on a new detached thread named `name` (for debuggers and `top -H`).
    /// Falls back to a default-sized thread if the large stack is refused; throws when no
    /// thread can be had. A stage never runs inline on the caller's thread instead: it
    /// would block there on its rings, waiting for stages not yet started (a deadlock).
    static func start(name: String, role: Role = .compute, _ body: @escaping @Sendable () -> Void) throws(StartError) {
        if refusedForTesting.withLock({ $0.contains(name) }) { throw StartError(name: name, errno: EAGAIN) }
        let body: () -> Void = {
            sluice_thread_setup(name, role == .io ? 1 : 0)
            body()
        }
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, stackSize)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var tid = pthread_t()
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { arg in
            guard let arg else { return nil }
            let body = Unmanaged<Body>.fromOpaque(arg).takeRetainedValue()
            body.run()
            return nil
        }
        if pthread_create(&tid, &attr, entry, box) != 0 {
            // Could not get the large stack: try the default size rather than not run.
            let error = pthread_create(&tid, nil, entry, box)
            if error != 0 {
                Unmanaged<Body>.fromOpaque(box).release()
                throw StartError(name: name, errno: error)
            }
        }
    }
}
