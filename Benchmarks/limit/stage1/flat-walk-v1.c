// The reader's first look at a JSON line: see sluice_flat_object in include/shims.h.
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "shims.h"
#include "common.h"

/// Sets in `quotes` (one bit a byte, (n + 63) / 64 words, zeroed by the caller) the
/// bytes of p[from..<to] that are '"'; false when one of them is a control byte, a
/// backslash or not ASCII. One byte at a time: short lines, lines' tails off SSE2.
static inline int scan_bytes(const unsigned char *p, size_t from, size_t to, uint64_t *quotes) {
    for (size_t i = from; i < to; i++) {
        unsigned char b = p[i];
        if (b < 0x20 || b >= 0x80 || b == '\\') return 0;
        if (b == '"') quotes[i >> 6] |= (uint64_t)1 << (i & 63);
    }
    return 1;
}

/// ``scan_bytes`` of the whole line, sixteen bytes a step where SSE2 is there (it is on
/// every x86-64 processor). The last step loads the line's last sixteen bytes again
/// rather than reading past its end.
static inline int scan_line(const unsigned char *p, size_t n, uint64_t *quotes) {
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i quote = _mm_set1_epi8('"');
        for (size_t o = 0; o < n; o += 16) {
            __m128i v;
            unsigned shift;
            if (!step16(p, n, o, &v, &shift)) return 0;
            uint64_t q = (uint64_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) >> shift);
            quotes[o >> 6] |= q << (o & 63);
        }
        return 1;
    }
#endif
    return scan_bytes(p, 0, n, quotes);
}

/// The first '"' from `from` on, or `n`.
static inline size_t next_quote(const uint64_t *quotes, size_t words, size_t from, size_t n) {
    size_t w = from >> 6;
    if (w >= words) return n;
    uint64_t bits = quotes[w] & (~(uint64_t)0 << (from & 63));
    while (bits == 0) {
        if (++w >= words) return n;
        bits = quotes[w];
    }
    return (w << 6) + (size_t)__builtin_ctzll(bits);
}


int sluice_flat_object(const unsigned char *p, size_t n, uint32_t *members) {
    if (n < 2 || n > SLUICE_FLAT_MAX_BYTES || p[0] != '{' || p[n - 1] != '}') return -1;
    uint64_t quotes[SLUICE_FLAT_MAX_BYTES / 64];
    size_t words = (n + 63) >> 6;
    for (size_t w = 0; w < words; w++) quotes[w] = 0;
    if (!scan_line(p, n, quotes)) return -1;
    // From here every byte is printable ASCII and no string has an escape, so a string
    // runs from a quote to the next one. The '}' at n - 1 stops every loop below that
    // looks for a byte of another kind.
    uint32_t keys[2 * SLUICE_FLAT_MAX_MEMBERS];
    uint64_t filter = 0;
    int count = 0;
    size_t i = 1;
    while (p[i] == ' ') i++;
    if (p[i] == '}') return i == n - 1 ? 0 : -1;
    for (;;) {
        if (p[i] != '"' || count == SLUICE_FLAT_MAX_MEMBERS) return -1;
        size_t ks = i + 1;
        size_t ke = next_quote(quotes, words, ks, n);
        if (ke >= n - 1) return -1;
        size_t kc = ke - ks;
        uint64_t bit = (uint64_t)1 << key_bit(p, ks, kc, n);
        if (filter & bit) {
            for (int k = 0; k < count; k++) {
                if (keys[2 * k + 1] == kc && memcmp(p + keys[2 * k], p + ks, kc) == 0) return -1;
            }
        }
        filter |= bit;
        keys[2 * count] = (uint32_t)ks;
        keys[2 * count + 1] = (uint32_t)kc;
        i = ke + 1;
        while (p[i] == ' ') i++;
        if (p[i] != ':') return -1;
        i++;
        while (p[i] == ' ') i++;
        if (members) {
            members[3 * count] = (uint32_t)ks;
            members[3 * count + 1] = (uint32_t)kc;
            members[3 * count + 2] = (uint32_t)i;
        }
        count++;
        switch (p[i]) {
        case '"': {
            size_t close = next_quote(quotes, words, i + 1, n);
            if (close >= n - 1) return -1;
            i = close + 1;
            break;
        }
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            if (p[i] == '-') i++;
            if ((unsigned char)(p[i] - '0') >= 10) return -1;
            if (p[i] == '0') {
                i++;
                if ((unsigned char)(p[i] - '0') < 10) return -1;
            } else {
                do i++;
                while ((unsigned char)(p[i] - '0') < 10);
            }
            if (p[i] == '.') {
                i++;
                if ((unsigned char)(p[i] - '0') >= 10) return -1;
                do i++;
                while ((unsigned char)(p[i] - '0') < 10);
            }
            // An exponent: the general path checks its range.
            if ((p[i] | 0x20) == 'e') return -1;
            break;
        case 't':
            if (n - i < 4 || memcmp(p + i, "true", 4) != 0) return -1;
            i += 4;
            break;
        case 'f':
            if (n - i < 5 || memcmp(p + i, "false", 5) != 0) return -1;
            i += 5;
            break;
        case 'n':
            if (n - i < 4 || memcmp(p + i, "null", 4) != 0) return -1;
            i += 4;
            break;
        default:
            return -1;
        }
        if (i >= n) return -1;
        while (p[i] == ' ') i++;
        if (p[i] == ',') {
            i++;
            while (p[i] == ' ') i++;
            continue;
        }
        return p[i] == '}' && i == n - 1 ? count : -1;
    }
}
