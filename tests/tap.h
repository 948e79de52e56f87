/* tap.h — the tiny assertion harness of the unit tests: each CHECK prints a
 * line on failure; a test program exits 1 when any check failed (automake's
 * harness counts programs: exit 0 pass, 1 fail, 77 skip). */
#ifndef FC_TESTS_TAP_H
#define FC_TESTS_TAP_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_failed;
static int tap_checks;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        tap_checks++;                                                                    \
        if (!(cond)) {                                                                   \
            tap_failed++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_INT(a, b)                                                                  \
    do {                                                                                 \
        long long tap_a = (long long)(a), tap_b = (long long)(b);                        \
        tap_checks++;                                                                    \
        if (tap_a != tap_b) {                                                            \
            tap_failed++;                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, tap_a, tap_b);                                               \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *tap_a = (a), *tap_b = (b);                                           \
        tap_checks++;                                                                    \
        if (!tap_a || !tap_b || strcmp(tap_a, tap_b) != 0) {                             \
            tap_failed++;                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,       \
                    __LINE__, #a, #b, tap_a ? tap_a : "(null)", tap_b ? tap_b : "(null)"); \
        }                                                                                \
    } while (0)

#define TAP_DONE()                                                                       \
    do {                                                                                 \
        fprintf(stderr, "%s: %d checks, %d failed\n", __FILE__, tap_checks, tap_failed); \
        return tap_failed ? 1 : 0;                                                       \
    } while (0)
#endif
