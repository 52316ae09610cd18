/*
 * The I/O and framing floor for docs/performance.md ("limit" row): reads standard
 * input in 64 KiB chunks, finds each line end with memchr and writes each non-empty
 * line (with its newline) to standard output through a 64 KiB buffer. No JSON is
 * read; every Sluice figure can be read as a multiple of this one.
 *
 *   cc -O2 -o /tmp/limit Benchmarks/limit/limit.c
 *   /tmp/limit < events.jsonl > out.jsonl
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CHUNK = 64 << 10 };

static char out[CHUNK];
static size_t outLen;

static void flush(void) {
    size_t done = 0;
    while (done < outLen) {
        ssize_t n = write(1, out + done, outLen - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            exit(1);
        }
        done += (size_t)n;
    }
    outLen = 0;
}

static void emit(const char *line, size_t count) {
    if (count == 0) return;
    if (outLen + count + 1 > sizeof out) flush();
    if (count + 1 > sizeof out) {
        /* A line longer than the buffer: written straight through. */
        ssize_t n;
        size_t done = 0;
        while (done < count) {
            n = write(1, line + done, count - done);
            if (n < 0) exit(1);
            done += (size_t)n;
        }
        out[outLen++] = '\n';
        return;
    }
    memcpy(out + outLen, line, count);
    outLen += count;
    out[outLen++] = '\n';
}

int main(void) {
    size_t cap = CHUNK, filled = 0;
    char *buf = malloc(cap);
    if (!buf) return 1;
    for (;;) {
        if (filled == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) return 1;
        }
        ssize_t n = read(0, buf + filled, cap - filled);
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        if (n == 0) break;
        size_t from = filled, start = 0;
        filled += (size_t)n;
        char *nl;
        while ((nl = memchr(buf + from, '\n', filled - from)) != NULL) {
            size_t end = (size_t)(nl - buf);
            emit(buf + start, end - start);
            start = from = end + 1;
        }
        memmove(buf, buf + start, filled - start);
        filled -= start;
    }
    emit(buf, filled);
    flush();
    free(buf);
    return 0;
}
