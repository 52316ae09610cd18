// The reader's first look at a JSON line: see sluice_flat_object in include/shims.h.
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "shims.h"
#include "common.h"

typedef unsigned __int128 u128;

/// The longest line read here: one bit a byte in a 128-bit mask (longer lines go to the
/// Swift loop).
#define FLAT_MAX_BYTES 128

/// One bit a byte of the line (bit i: byte i), for the kinds of byte the check tells apart.
struct masks {
    u128 quote, colon, comma, brace;
};

/// Sets the bits of bytes p[from..<to] in `m`; false when one of them is a control byte,
/// a backslash or not ASCII. One byte at a time: short lines, and off SSE2.
static inline int classify_bytes(const unsigned char *p, size_t from, size_t to, struct masks *m) {
    for (size_t i = from; i < to; i++) {
        unsigned char b = p[i];
        u128 bit = (u128)1 << i;
        if (b < 0x20 || b >= 0x80 || b == '\\') return 0;
        if (b == '"') m->quote |= bit;
        if (b == ':') m->colon |= bit;
        if (b == ',') m->comma |= bit;
        if (b == '{' || b == '}') m->brace |= bit;
    }
    return 1;
}

/// ``classify_bytes`` of the whole line, sixteen bytes a step where SSE2 is there (on
/// every x86-64 processor). The last step loads the line's last sixteen bytes again
/// rather than reading past its end.
static inline int classify(const unsigned char *p, size_t n, struct masks *m) {
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i colon = _mm_set1_epi8(':');
        const __m128i comma = _mm_set1_epi8(',');
        const __m128i open = _mm_set1_epi8('{');
        const __m128i close = _mm_set1_epi8('}');
        // Sixteen bits a step, stored side by side (little-endian: bit i is byte i).
        uint16_t q[FLAT_MAX_BYTES / 16] = {0}, c[FLAT_MAX_BYTES / 16] = {0};
        uint16_t k[FLAT_MAX_BYTES / 16] = {0}, b[FLAT_MAX_BYTES / 16] = {0};
        for (size_t o = 0; o < n; o += 16) {
            __m128i v;
            unsigned shift;
            if (!step16(p, n, o, &v, &shift)) return 0;
            size_t w = o >> 4;
            q[w] = (uint16_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) >> shift);
            c[w] = (uint16_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, colon)) >> shift);
            k[w] = (uint16_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) >> shift);
            b[w] = (uint16_t)((unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, open), _mm_cmpeq_epi8(v, close)))
                >> shift);
        }
        memcpy(&m->quote, q, sizeof q);
        memcpy(&m->colon, c, sizeof c);
        memcpy(&m->comma, k, sizeof k);
        memcpy(&m->brace, b, sizeof b);
        return 1;
    }
#endif
    return classify_bytes(p, 0, n, m);
}

/// Writes the places of the set bits of `x`, lowest first; returns how many.
static inline int places(u128 x, uint32_t *out) {
    int k = 0;
    for (uint64_t w = (uint64_t)x; w != 0; w &= w - 1) out[k++] = (uint32_t)__builtin_ctzll(w);
    for (uint64_t w = (uint64_t)(x >> 64); w != 0; w &= w - 1) out[k++] = 64 + (uint32_t)__builtin_ctzll(w);
    return k;
}

/// Bit i set when an odd number of bits 0...i of `x` are: the bytes from an opening quote
/// up to (not including) its closing quote.
static inline u128 prefix_xor(u128 x) {
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    for (int s = 1; s < 64; s <<= 1) {
        lo ^= lo << s;
        hi ^= hi << s;
    }
    hi ^= (uint64_t)0 - (lo >> 63);
    return ((u128)hi << 64) | lo;
}


/// Whether p[s..<e] is a number without exponent or `true`, `false` or `null` (p[e] is
/// a ',' or the closing '}', which ends every digit run).
static inline int scalar(const unsigned char *p, size_t s, size_t e) {
    size_t i = s;
    switch (p[i]) {
    case 't': return e - s == 4 && memcmp(p + s, "true", 4) == 0;
    case 'f': return e - s == 5 && memcmp(p + s, "false", 5) == 0;
    case 'n': return e - s == 4 && memcmp(p + s, "null", 4) == 0;
    case '-': i++; break;
    default: break;
    }
    if ((unsigned char)(p[i] - '0') >= 10) return 0;
    if (p[i] == '0') {
        i++;
    } else {
        do i++;
        while ((unsigned char)(p[i] - '0') < 10);
    }
    if (p[i] == '.') {
        i++;
        if ((unsigned char)(p[i] - '0') >= 10) return 0;
        do i++;
        while ((unsigned char)(p[i] - '0') < 10);
    }
    // Anything else (an exponent, whose range the general path checks, a space, a
    // second point) ends the number before `e`.
    return i == e;
}

int sluice_flat_object(const unsigned char *p, size_t n, uint32_t *members) {
    if (n < 2 || n > FLAT_MAX_BYTES || p[0] != '{' || p[n - 1] != '}') return -1;
    struct masks m = {0, 0, 0, 0};
    if (!classify(p, n, &m)) return -1;
    const u128 first = 1;
    const u128 last = (u128)1 << (n - 1);
    // From here every byte is printable ASCII and no string has an escape, so a string
    // runs from a quote to the next one: `in` holds each string's opening quote and
    // contents, and `out` the bytes outside strings.
    u128 in = prefix_xor(m.quote);
    u128 all = n == 128 ? ~(u128)0 : (((u128)1 << n) - 1);
    u128 out = all & ~in & ~m.quote;
    u128 opens = m.quote & in;
    u128 colon = m.colon & out, comma = m.comma & out;
    // The only braces outside strings: the first byte and the last.
    if ((m.brace & out) != (first | last)) return -1;
    if (n == 2) return 0;
    // Each '{' and ',' is followed by a key's opening quote, each ':' by a value.
    u128 keyOpens = (first | comma) << 1;
    if ((keyOpens & ~opens) != 0) return -1;
    u128 valueStarts = colon << 1;
    u128 valueOpens = valueStarts & opens;
    if ((keyOpens | valueOpens) != opens) return -1;
    // Carrying through a string's bits from its opening quote gives its closing quote.
    u128 keyCloses = (in + keyOpens) & ~in;
    u128 valueCloses = (in + valueOpens) & ~in;
    // Each key is followed by a ':' and each ':' follows a key.
    if ((keyCloses << 1) != colon) return -1;
    // The scalar values: the rest of the bytes outside strings, in runs from a ':' to a
    // ',' or the closing '}'.
    u128 scalars = out & ~(colon | comma | first | last);
    u128 scalarStarts = scalars & ~(scalars << 1);
    u128 scalarEnds = (scalars << 1) & ~scalars;
    if ((valueOpens | scalarStarts) != valueStarts) return -1;
    if (((valueCloses << 1) | scalarEnds) != (comma | last)) return -1;
    uint32_t starts[FLAT_MAX_BYTES / 2], ends[FLAT_MAX_BYTES / 2];
    int runs = places(scalarStarts, starts);
    places(scalarEnds, ends);
    for (int j = 0; j < runs; j++) {
        if (!scalar(p, starts[j], ends[j])) return -1;
    }
    // The keys: no repeated one, at most SLUICE_FLAT_MAX_MEMBERS. A key's value starts
    // two bytes after its closing quote.
    uint32_t opensAt[FLAT_MAX_BYTES / 2], closesAt[FLAT_MAX_BYTES / 2];
    int count = places(keyOpens, opensAt);
    if (count > SLUICE_FLAT_MAX_MEMBERS) return -1;
    places(keyCloses, closesAt);
    uint64_t filter = 0;
    for (int j = 0; j < count; j++) {
        size_t ks = opensAt[j] + 1;
        size_t kc = closesAt[j] - ks;
        uint64_t bit = (uint64_t)1 << key_bit(p, ks, kc, n);
        if (filter & bit) {
            for (int i = 0; i < j; i++) {
                if (closesAt[i] - opensAt[i] - 1 == kc && memcmp(p + opensAt[i] + 1, p + ks, kc) == 0) return -1;
            }
        }
        filter |= bit;
        if (members) {
            members[3 * j] = (uint32_t)ks;
            members[3 * j + 1] = (uint32_t)kc;
            members[3 * j + 2] = closesAt[j] + 2;
        }
    }
    return count;
}
