#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
int sluice_flat_object(const unsigned char *p, size_t n, uint32_t *members);
int main(void) {
    FILE *f = fopen("/tmp/e200k.jsonl", "rb"); fseek(f, 0, SEEK_END); long sz = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(sz + 64); fread(buf, 1, sz, f);
    long acc = 0, lines = 0; unsigned char *p = buf, *e = buf + sz;
    while (p < e) { unsigned char *nl = memchr(p, '\n', e - p); if (!nl) nl = e; int r = sluice_flat_object(p, nl - p, NULL); acc += r >= 0; lines++; p = nl + 1; }
    printf("%ld %ld\n", acc, lines); return 0;
}
