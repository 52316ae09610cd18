#ifndef SLUICE_SHIMS_H
#define SLUICE_SHIMS_H

/// Asks the CPU to start loading the cache line at `p` for reading, without waiting for
/// it (a hint: never faults, whatever `p` is). Swift exposes no prefetch instruction.
static inline __attribute__((always_inline)) void sluice_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// ``sluice_prefetch`` for a line about to be written.
static inline __attribute__((always_inline)) void sluice_prefetch_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

/// Names the calling thread (at most 15 bytes are kept) and, when `io` is nonzero, puts
/// it under Linux's SCHED_BATCH policy, whose threads do not preempt a running thread
/// when they wake. Both are hints: failures are ignored; a no-op off Linux. (GNU
/// functions and macros that Swift's Glibc module does not export.)
void sluice_thread_setup(const char *name, int io);

/// Asks glibc's allocator to keep up to `keep` bytes of freed memory instead of giving
/// it back to the system (`M_TRIM_THRESHOLD`), and to take blocks under `mmap_from`
/// bytes from its heaps rather than from `mmap` (`M_MMAP_THRESHOLD`). A hint for the
/// command line's process only: a no-op off glibc.
void sluice_malloc_keep_freed(unsigned long keep, unsigned long mmap_from);

#endif
