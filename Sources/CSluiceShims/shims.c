// Most shims are inline functions in include/shims.h; the thread setup needs GNU
// extensions, declared only with _GNU_SOURCE before the first system header.
#ifdef __linux__
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "shims.h"

void sluice_thread_setup(const char *name, int io) {
#ifdef __linux__
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    (void)pthread_setname_np(pthread_self(), short_name);
    if (io) {
        struct sched_param param = {0};
        (void)sched_setscheduler(0, SCHED_BATCH, &param);
    }
#else
    (void)name;
    (void)io;
#endif
}

void sluice_malloc_keep_freed(unsigned long keep, unsigned long mmap_from) {
#ifdef __GLIBC__
    (void)mallopt(M_TRIM_THRESHOLD, (int)keep);
    (void)mallopt(M_MMAP_THRESHOLD, (int)mmap_from);
#else
    (void)keep;
    (void)mmap_from;
#endif
}
