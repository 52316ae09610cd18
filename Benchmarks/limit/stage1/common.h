// What both first-look versions share: a sixteen-byte step, an 8-byte load and the
// repeated-key filter's bit.
#include <stdint.h>
#include <string.h>

static inline uint64_t load8(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/// A key's bit in the repeated-key filter: from its first and last eight bytes (or
/// fewer) and its length. Equal keys get equal bits; a set bit is checked exactly.
static inline unsigned key_bit(const unsigned char *p, size_t start, size_t count, size_t n) {
    uint64_t h;
    if (count >= 8) {
        h = load8(p + start) ^ (load8(p + start + count - 8) * 0xFF51AFD7ED558CCDull);
    } else if (start + 8 <= n) {
        h = count == 0 ? 0 : load8(p + start) & (~(uint64_t)0 >> (64 - 8 * count));
    } else {
        h = 0;
        for (size_t i = 0; i < count; i++) h |= (uint64_t)p[start + i] << (8 * i);
    }
    h = (h + count) * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 58);
}

#if defined(__SSE2__)
#include <emmintrin.h>
/// The sixteen bytes of step `o` of a line of `n` >= 16 bytes into `v`. The last step
/// loads the line's last sixteen bytes again rather than reading past its end, and
/// `*shift` is then how many of them an earlier step saw. False when one of the new
/// bytes is a control byte, a backslash or not ASCII (signed: below 0x20 is a control
/// byte or, negative, one from 0x80).
static inline int step16(const unsigned char *p, size_t n, size_t o, __m128i *v, unsigned *shift) {
    size_t at = o;
    *shift = 0;
    if (o + 16 > n) {
        at = n - 16;
        *shift = (unsigned)(o - at);
    }
    *v = _mm_loadu_si128((const __m128i *)(const void *)(p + at));
    __m128i bad = _mm_or_si128(_mm_cmpgt_epi8(_mm_set1_epi8(0x20), *v), _mm_cmpeq_epi8(*v, _mm_set1_epi8('\\')));
    return ((unsigned)_mm_movemask_epi8(bad) >> *shift) == 0;
}
#endif
