/* str.c — plain strings: growable buffers (fc__buf), ordered multi-maps (fc__kvlist), ASCII
 * case-insensitive compare, UTF-8 validation, whole-integer parsing. HTTP syntax is in http.c. */
#include "internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===== fc__buf ============================================================ */

/* Make room for @p extra more bytes plus the terminating NUL. */
static int buf_reserve(fc__buf *b, size_t extra)
{
    if (extra > SIZE_MAX - 1 - b->len)
        return FC_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap && b->data)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return FC_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int fc__buf_append(fc__buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return FC_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int fc__buf_puts(fc__buf *b, const char *s)
{
    return fc__buf_append(b, s, strlen(s));
}

int fc__buf_printf(fc__buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int rc = 0;
    /* first try in the space we have; on truncation, grow and format again */
    if (buf_reserve(b, 0) != 0) {
        rc = FC_ENOMEM;
        goto out;
    }
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        rc = FC_EINVAL;
        goto out;
    }
    if ((size_t)n >= room) {
        if (buf_reserve(b, (size_t)n) != 0) {
            b->data[b->len] = '\0';
            rc = FC_ENOMEM;
            goto out;
        }
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    b->len += (size_t)n;
out:
    va_end(ap2);
    va_end(ap);
    return rc;
}

const char *fc__buf_cstr(fc__buf *b)
{
    if (buf_reserve(b, 0) != 0)
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

void fc__buf_free(fc__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* ===== fc__kvlist ========================================================= */

int fc__kv_add(fc__kvlist *l, fc__arena *a, const char *key, const char *value, size_t vlen)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        if (cap < l->cap || cap > SIZE_MAX / sizeof(fc__kv))
            return FC_ENOMEM;
        fc__kv *items = fc__arena_alloc(a, cap * sizeof(fc__kv));
        if (!items)
            return FC_ENOMEM;
        if (l->n)
            memcpy(items, l->items, l->n * sizeof(fc__kv));
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n].key = key;
    l->items[l->n].value = value;
    l->items[l->n].vlen = vlen;
    l->n++;
    return 0;
}

const char *fc__kv_get(const fc__kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

const char *fc__kv_get_ci(const fc__kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (fc__strcasecmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

const char *const *fc__kv_list(const fc__kvlist *l, fc__arena *a, const char *key, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            count++;
    *n = 0;
    if (!count)
        return NULL;
    /* NULL-terminated as a convenience for callers that prefer a sentinel */
    const char **out = fc__arena_alloc(a, (count + 1) * sizeof(*out));
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            out[j++] = l->items[i].value;
    out[j] = NULL;
    *n = count;
    return out;
}

/* ===== ASCII case ========================================================= */

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int fc__strcasecmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (;; x++, y++) {
        int d = lower(*x) - lower(*y);
        if (d || !*x)
            return d;
    }
}

int fc__strncasecmp(const char *a, const char *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (; n; n--, x++, y++) {
        int d = lower(*x) - lower(*y);
        if (d || !*x)
            return d;
    }
    return 0;
}

/* ===== UTF-8 ============================================================== */

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), 0 if invalid. */
size_t fc__utf8_seq(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* no overlongs */
        else if (c == 0xF4)
            hi = 0x8F; /* max U+10FFFF */
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

size_t fc__utf8_bad(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 1; /* not a lead byte */
    /* the lead byte and the continuation bytes a valid sequence could still go on with */
    size_t k = 1;
    if (k < n && p[k] >= lo && p[k] <= hi)
        for (k++; k < len && k < n && p[k] >= 0x80 && p[k] <= 0xBF;)
            k++;
    return k < len ? k : 1;
}

bool fc__utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t k = fc__utf8_seq(s + i, len - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* The byte length of a character Python's str.isspace() is true for at the
 * start (or, when @p back, the end) of [s, e); 0 when there is none. In
 * UTF-8 a two- or three-byte suffix that spells one of these cannot be the
 * tail of another character (no continuation byte starts one). */
static size_t py_space(const unsigned char *s, const unsigned char *e, bool back)
{
    size_t n = (size_t)(e - s);
    if (!n)
        return 0;
    unsigned char c = back ? e[-1] : s[0];
    if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F))
        return 1;
    const unsigned char *t = back ? e - 2 : s;
    if (n >= 2 && t[0] == 0xC2 && (t[1] == 0x85 || t[1] == 0xA0))
        return 2; /* U+0085, U+00A0 */
    t = back ? e - 3 : s;
    if (n < 3 || t[0] < 0xE1 || t[0] > 0xE3 || (t[1] & 0xC0) != 0x80 || (t[2] & 0xC0) != 0x80)
        return 0;
    unsigned cp = ((t[0] & 0x0Fu) << 12) | ((t[1] & 0x3Fu) << 6) | (t[2] & 0x3Fu);
    bool space = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
                 cp == 0x202F || cp == 0x205F || cp == 0x3000;
    return space ? 3 : 0;
}

void fc__space_trim(const char **b, const char **e)
{
    size_t k;
    while ((k = py_space((const unsigned char *)*b, (const unsigned char *)*e, false)) != 0)
        *b += k;
    while ((k = py_space((const unsigned char *)*b, (const unsigned char *)*e, true)) != 0)
        *e -= k;
}

char *fc__text_clean(fc__arena *a, const char *s, size_t n, fc__charset cs, size_t *out_len)
{
    static const char hexdig[] = "0123456789ABCDEF";
    /* worst case: every byte becomes "%XX" (latin-1 takes 2 bytes at most) */
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *t = fc__arena_alloc(a, n * 3 + 1);
    if (!t)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, j = 0;
    while (i < n) {
        size_t k = 0;
        if (p[i] && p[i] < 0x80)
            k = 1;
        else if (p[i] && cs == FC__CS_UTF8)
            k = fc__utf8_seq(s + i, n - i);
        if (k) {
            memcpy(t + j, p + i, k);
            j += k;
            i += k;
        } else if (p[i] && cs == FC__CS_LATIN1) {
            /* U+0080..U+00FF */
            t[j++] = (char)(0xC0 | (p[i] >> 6));
            t[j++] = (char)(0x80 | (p[i] & 0x3F));
            i++;
        } else {
            t[j++] = '%';
            t[j++] = hexdig[p[i] >> 4];
            t[j++] = hexdig[p[i] & 15];
            i++;
        }
    }
    t[j] = '\0';
    *out_len = j;
    return t;
}

/* ===== numbers ============================================================ */

int fc__parse_ll(const char *s, size_t len, bool allow_sign, long long *out)
{
    if (!s || !len)
        return FC_ERANGE;
    size_t i = 0;
    bool neg = false;
    if (allow_sign && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return FC_ERANGE;
    /* accumulate negatively so LLONG_MIN is reachable */
    long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FC_ERANGE;
        int d = s[i] - '0';
        if (v < (LLONG_MIN + d) / 10)
            return FC_ERANGE;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == LLONG_MIN)
            return FC_ERANGE;
        v = -v;
    }
    *out = v;
    return 0;
}
