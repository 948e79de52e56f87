/* fuzz.h — shared helpers of the libFuzzer harnesses in tests/fuzz/: input
 * splitting and an invariant check that crashes loudly (libFuzzer saves it). */
#ifndef FLASKC_FUZZ_H
#define FLASKC_FUZZ_H

#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: on failure print where and why, then abort so that both
 * libFuzzer and the replay program report the input. */
#define FZ_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Take the next piece of [*d, *d + *n) up to @p sep (not included) as a
 * malloc'ed NUL-terminated string; *len gets its length (which may hold NUL
 * bytes). The separator is consumed. NULL on out of memory. */
static inline char *fz_take(const uint8_t **d, size_t *n, char sep, size_t *len)
{
    const uint8_t *e = memchr(*d, sep, *n);
    size_t l = e ? (size_t)(e - *d) : *n;
    char *s = malloc(l + 1);
    if (!s)
        return NULL;
    if (l)
        memcpy(s, *d, l);
    s[l] = '\0';
    *d += e ? l + 1 : l;
    *n -= e ? l + 1 : l;
    if (len)
        *len = l;
    return s;
}

/* The whole remaining input as a malloc'ed NUL-terminated copy. */
static inline char *fz_rest(const uint8_t *d, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, d, n);
    s[n] = '\0';
    return s;
}

#endif /* FLASKC_FUZZ_H */
