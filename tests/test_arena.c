/* test_arena.c — unit tests of libflaskc/arena.c: alignment, big blocks,
 * string copies, cleanup callbacks (newest first) and many allocations. */
#include "internal.h"
#include "tap.h"

#include <stdint.h>

static int order[16];
static int norder;

static void record(void *p)
{
    if (norder < 16)
        order[norder++] = *(int *)p;
}

static void free_it(void *p)
{
    free(p); /* a heap object owned by the arena; valgrind/ASan check it goes */
}

static void test_alignment(void)
{
    fc__arena *a = fc__arena_new(0);
    CHECK(a != NULL);
    int misaligned = 0;
    for (size_t n = 1; n < 200; n++) {
        char *p = fc__arena_alloc(a, n);
        if (!p || ((uintptr_t)p & 15u) != 0)
            misaligned++;
        else
            memset(p, 0xAB, n);
    }
    CHECK_INT(misaligned, 0);
    /* consecutive small allocations are packed on 16-byte steps */
    char *x = fc__arena_alloc(a, 1);
    char *y = fc__arena_alloc(a, 1);
    CHECK(x && y && (y - x == 16 || y < x));
    char *z = fc__arena_alloc(a, 17);
    char *w = fc__arena_alloc(a, 1);
    CHECK(z && w && (w - z == 32 || w < z));
    fc__arena_free(a);
}

static void test_big(void)
{
    fc__arena *a = fc__arena_new(256);
    char *s1 = fc__arena_alloc(a, 16);
    /* larger than half a block: its own block, the head keeps its free space */
    char *big = fc__arena_alloc(a, 1u << 20);
    char *s2 = fc__arena_alloc(a, 16);
    CHECK(s1 && big && s2);
    CHECK(((uintptr_t)big & 15u) == 0);
    CHECK_INT(s2 - s1, 16);
    if (big) {
        memset(big, 0x5A, 1u << 20);
        CHECK(big[0] == 0x5A && big[(1u << 20) - 1] == 0x5A);
    }
    /* several big ones, each fully writable and distinct */
    char *bigs[8];
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        bigs[i] = fc__arena_alloc(a, 100000 + (size_t)i);
        if (!bigs[i])
            bad++;
        else
            memset(bigs[i], i, 100000 + (size_t)i);
    }
    for (int i = 0; i < 8; i++)
        if (bigs[i] && (bigs[i][0] != i || bigs[i][100000 + i - 1] != i))
            bad++;
    CHECK_INT(bad, 0);
    /* a request a block cannot hold at its default size but under half a block:
     * a new, larger head */
    char *mid = fc__arena_alloc(a, 120);
    CHECK(mid != NULL);
    /* an impossible size fails cleanly */
    CHECK(fc__arena_alloc(a, SIZE_MAX) == NULL);
    CHECK(fc__arena_alloc(a, SIZE_MAX - 3) == NULL);
    fc__arena_free(a);
}

static void test_strings(void)
{
    fc__arena *a = fc__arena_new(64);
    char src[] = "hello";
    char *d = fc__arena_strdup(a, src);
    src[0] = 'J';
    CHECK_STR(d, "hello");
    CHECK(d != src);
    CHECK_STR(fc__arena_strdup(a, ""), "");
    char *n = fc__arena_strndup(a, "abcdef", 3);
    CHECK_STR(n, "abc");
    CHECK(n && n[3] == '\0');
    char *z = fc__arena_strndup(a, "a\0b", 3);
    CHECK(z && z[0] == 'a' && z[1] == '\0' && z[2] == 'b' && z[3] == '\0');
    CHECK_STR(fc__arena_strndup(a, "xyz", 0), "");
    /* longer than the block size */
    char longs[300];
    memset(longs, 'L', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    char *l = fc__arena_strdup(a, longs);
    CHECK_STR(l, longs);
    unsigned char *c = fc__arena_calloc(a, 1000);
    int nz = 0;
    for (int i = 0; c && i < 1000; i++)
        nz += c[i] != 0;
    CHECK(c != NULL);
    CHECK_INT(nz, 0);
    fc__arena_free(a);
}

static void test_cleanup(void)
{
    static int ids[5] = {1, 2, 3, 4, 5};
    norder = 0;
    fc__arena *a = fc__arena_new(0);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(fc__arena_defer(a, record, &ids[i]), 0);
        fc__arena_alloc(a, 3000); /* interleave with block changes */
    }
    CHECK_INT(fc__arena_defer(a, free_it, malloc(64)), 0);
    CHECK_INT(norder, 0); /* nothing runs before the free */
    fc__arena_free(a);
    CHECK_INT(norder, 5);
    for (int i = 0; i < 5; i++)
        CHECK_INT(order[i], 5 - i); /* newest first */
    fc__arena_free(NULL); /* harmless */
}

static void test_many(void)
{
    fc__arena *a = fc__arena_new(0);
    enum { N = 100000 };
    uint32_t **ptrs = malloc(N * sizeof(*ptrs));
    int bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        size_t words = 1 + i % 37;
        ptrs[i] = fc__arena_alloc(a, words * sizeof(uint32_t));
        if (!ptrs[i]) {
            bad++;
            continue;
        }
        for (size_t k = 0; k < words; k++)
            ptrs[i][k] = i;
    }
    /* nothing overlapped: every allocation still holds its own pattern */
    for (uint32_t i = 0; i < N; i++) {
        size_t words = 1 + i % 37;
        for (size_t k = 0; ptrs[i] && k < words; k++)
            if (ptrs[i][k] != i) {
                bad++;
                break;
            }
    }
    CHECK_INT(bad, 0);
    free(ptrs);
    fc__arena_free(a);

    /* many arenas, each with a cleanup */
    int count = 0;
    for (int i = 0; i < 1000; i++) {
        fc__arena *b = fc__arena_new((size_t)(i % 5) * 100);
        if (!b)
            continue;
        fc__arena_strdup(b, "x");
        fc__arena_defer(b, free_it, malloc(8));
        fc__arena_free(b);
        count++;
    }
    CHECK_INT(count, 1000);
}

int main(void)
{
    test_alignment();
    test_big();
    test_strings();
    test_cleanup();
    test_many();
    TAP_DONE();
}
