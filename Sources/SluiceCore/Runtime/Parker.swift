import Atomics
import Dispatch

/// Puts one thread to sleep until another wakes it, without a lost wake-up.
///
/// The sleeper calls ``prepare()``, checks its condition again, then ``park()`` or
/// ``cancel()``; the waker calls ``unpark()`` after making the condition true. The flag
/// and the condition are both touched with sequentially consistent atomics, so either the
/// sleeper sees the new state or the waker sees the flag (Dekker's argument).
@usableFromInline package final class Parker: Sendable {
    private let waiting = ManagedAtomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    @usableFromInline package init() {}

    /// Announces the intent to sleep. Check the condition again after this.
    @inline(__always)
    @usableFromInline package func prepare() { waiting.store(true, ordering: .sequentiallyConsistent) }

    /// The condition came true after ``prepare()``: do not sleep.
    @usableFromInline package func cancel() {
        if !waiting.exchange(false, ordering: .sequentiallyConsistent) {
            // A waker took the flag and signals (or has signalled): absorb it.
            semaphore.wait()
        }
    }

    /// Sleeps until ``unpark()``.
    @usableFromInline package func park() { semaphore.wait() }

    /// Sleeps until ``unpark()`` or until `nanoseconds` pass; true when woken.
    @usableFromInline package func park(timeoutNanos nanoseconds: UInt64) -> Bool {
        if semaphore.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success { return true }
        // Timed out: withdraw, unless a waker already took the flag (then absorb its signal).
        if waiting.exchange(false, ordering: .sequentiallyConsistent) { return false }
        semaphore.wait()
        return true
    }

    /// Wakes the sleeper if it is asleep or about to be.
    @inline(__always)
    @usableFromInline package func unpark() {
        if waiting.load(ordering: .sequentiallyConsistent),
            waiting.exchange(false, ordering: .sequentiallyConsistent)
        {
            semaphore.signal()
        }
    }
}
