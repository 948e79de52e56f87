/* arena.c — the per-request memory arena: bump allocation in growing blocks,
 * cleanup callbacks, everything released in one call when the request ends. */
#include "internal.h"

#include <stdlib.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define FC__ARENA_ALIGN 16u

struct fc__arena_block {
    struct fc__arena_block *next;
    size_t cap;
    size_t used;
    /* data follows, aligned */
    max_align_t data[];
};

struct fc__arena_cleanup {
    struct fc__arena_cleanup *next;
    void (*fn)(void *);
    void *p;
};

struct fc__arena {
    struct fc__arena_block *head;
    struct fc__arena_block *first; /* holds this header */
    struct fc__arena_cleanup *cleanups;
    size_t block_size;
};

static struct fc__arena_block *block_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(struct fc__arena_block))
        return NULL;
    struct fc__arena_block *b = malloc(sizeof(*b) + cap);
    if (!b)
        return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

/* The arena header lives in its first block (one malloc per arena), and each
 * thread keeps one released single-block arena for its next request: the
 * request path then allocates nothing in the common case. */
#define FC__ARENA_HDR ((sizeof(struct fc__arena) + FC__ARENA_ALIGN - 1) & ~(size_t)(FC__ARENA_ALIGN - 1))

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static __thread fc__arena *cached;

static void arena_release(fc__arena *a);

static void cache_dtor(void *p)
{
    cached = NULL;
    arena_release(p);
}

static void cache_init(void)
{
    pthread_key_create(&cache_key, cache_dtor);
}

fc__arena *fc__arena_new(size_t block_size)
{
    if (!block_size)
        block_size = 4096;
    fc__arena *a = cached;
    if (a && a->block_size == block_size) {
        cached = NULL;
        pthread_setspecific(cache_key, NULL);
        return a;
    }
    struct fc__arena_block *b = block_new(block_size + FC__ARENA_HDR);
    if (!b)
        return NULL;
    a = (fc__arena *)(void *)b->data;
    b->used = FC__ARENA_HDR;
    a->head = b;
    a->first = b;
    a->cleanups = NULL;
    a->block_size = block_size;
    return a;
}

void *fc__arena_alloc(fc__arena *a, size_t n)
{
    size_t need = (n + FC__ARENA_ALIGN - 1) & ~(size_t)(FC__ARENA_ALIGN - 1);
    struct fc__arena_block *b = a->head;
    if (need < n)
        return NULL; /* overflow */
    if (b->cap - b->used < need) {
        size_t cap = a->block_size;
        if (need > cap / 2) {
            /* large allocation: its own block, kept behind the head so the
             * head's free space stays usable */
            struct fc__arena_block *big = block_new(need);
            if (!big)
                return NULL;
            big->used = need;
            big->next = b->next;
            b->next = big;
            return big->data;
        }
        while (cap < need)
            cap *= 2;
        b = block_new(cap);
        if (!b)
            return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += need;
    return p;
}

void *fc__arena_calloc(fc__arena *a, size_t n)
{
    void *p = fc__arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *fc__arena_strndup(fc__arena *a, const char *s, size_t n)
{
    char *p = fc__arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *fc__arena_strdup(fc__arena *a, const char *s)
{
    return fc__arena_strndup(a, s, strlen(s));
}

int fc__arena_defer(fc__arena *a, void (*fn)(void *), void *p)
{
    struct fc__arena_cleanup *c = fc__arena_alloc(a, sizeof(*c));
    if (!c)
        return FC_ENOMEM;
    c->fn = fn;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

static void arena_release(fc__arena *a)
{
    struct fc__arena_block *b = a->head;
    while (b) {
        struct fc__arena_block *n = b->next;
        free(b); /* the block holding *a goes last: it is the list's tail */
        b = n;
    }
}

void fc__arena_free(fc__arena *a)
{
    if (!a)
        return;
    /* cleanups run newest first, like a stack unwinding */
    for (struct fc__arena_cleanup *c = a->cleanups; c; c = c->next)
        c->fn(c->p);
    a->cleanups = NULL;
    if (a->head == a->first && !a->first->next && !cached) {
        a->first->used = FC__ARENA_HDR;
        pthread_once(&cache_once, cache_init);
        cached = a;
        pthread_setspecific(cache_key, a); /* freed at thread exit */
        return;
    }
    arena_release(a);
}
