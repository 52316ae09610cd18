// The declarations the two first-look versions need (from the experiment's CSluiceShims/include/shims.h).
#include <stddef.h>
#include <stdint.h>
/// The longest line and the most members ``sluice_flat_object`` reads.
#define SLUICE_FLAT_MAX_BYTES 1024
#define SLUICE_FLAT_MAX_MEMBERS 16

/// The reader's first look at a JSON line of `n` bytes: the number of members when it is
/// one object of at most SLUICE_FLAT_MAX_MEMBERS scalar members, in printable ASCII with
/// no backslash, no repeated key, no number with an exponent and no whitespace but
/// spaces; else -1, whether the line is valid or not (the caller reads it again with the
/// full validator, which alone reports errors). With `members`, writes each member's key
/// start, key length and value start (offsets from `p`), three a member.
int sluice_flat_object(const unsigned char *p, size_t n, uint32_t *members);
