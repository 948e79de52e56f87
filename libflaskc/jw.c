/* jw.c — the JSON writer: JSON text appended to one growing buffer under a
 * grammar check (containers, keys, one top value), sticky errors, draining. */
#include "internal.h"

#include <json-c/json.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LVL_OBJECT = 1, LVL_NONEMPTY = 2 };

struct fc_jw {
    char *buf;      /* the text; [off, len) not drained yet; cap > len always (room for a NUL) */
    size_t off;
    size_t len;
    size_t cap;
    bool drained;   /* some text left through fc_jw_drain: no whole text to give any more */
    int err;                      /* the first error, sticky */
    unsigned depth;               /* containers open */
    bool key_due;                 /* in an object: a key was written, its value is due */
    bool done;                    /* the top-level value is complete */
    uint8_t lvl[FC_JW_MAX_DEPTH]; /* per open container: LVL_OBJECT, LVL_NONEMPTY */
};

fc_jw *fc_jw_new(void)
{
    return calloc(1, sizeof(fc_jw));
}

void fc_jw_free(fc_jw *w)
{
    if (!w)
        return;
    free(w->buf);
    free(w);
}

int fc__jw_fail(fc_jw *w, int err)
{
    if (!w->err)
        w->err = err;
    return w->err;
}

/* Room for @p n more bytes and a NUL: the drained bytes' room first, then a bigger buffer. */
static int grow(fc_jw *w, size_t n)
{
    if (w->off) {
        memmove(w->buf, w->buf + w->off, w->len - w->off);
        w->len -= w->off;
        w->off = 0;
        if (w->cap - w->len > n)
            return 0;
    }
    if (n >= SIZE_MAX / 2 - w->len)
        return fc__jw_fail(w, FC_ENOMEM);
    size_t need = w->len + n + 1, cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(w->buf, cap);
    if (!p)
        return fc__jw_fail(w, FC_ENOMEM);
    w->buf = p;
    w->cap = cap;
    return 0;
}

char *fc__jw_buf(fc_jw *w)
{
    return w->buf + w->off;
}

unsigned fc__jw_depth_left(const fc_jw *w)
{
    return FC_JW_MAX_DEPTH - w->depth;
}

void fc__jw_hint(fc_jw *w, size_t n)
{
    /* a guess, not a need: a failure here is no error */
    if (n > w->cap - w->len && n < SIZE_MAX / 2 - w->len) {
        char *p = realloc(w->buf, w->len + n + 1);
        if (p) {
            w->buf = p;
            w->cap = w->len + n + 1;
        }
    }
}

void fc__jw_advance(fc_jw *w, size_t n)
{
    w->len += n;
}

int fc__jw_reserve(fc_jw *w, size_t n)
{
    return w->cap - w->len > n ? 0 : grow(w, n);
}

int fc__jw_put(fc_jw *w, const char *s, size_t n)
{
    if (fc__jw_reserve(w, n))
        return w->err;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return 0;
}

static int put_c(fc_jw *w, char c)
{
    if (fc__jw_reserve(w, 1))
        return w->err;
    w->buf[w->len++] = c;
    return 0;
}

/* 0: as it is; 1: escaped; 2: the first byte of a multi-byte character (checked) */
static const uint8_t esc_class[256] = {
    [0 ... 0x1F] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xFF] = 2,
};

int fc__jw_put_str(fc_jw *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef"; /* json-c's lower case */
    const unsigned char *s = (const unsigned char *)str;
    /* most strings need no escape: room for all of it at once */
    if (fc__jw_reserve(w, n + 2))
        return w->err;
    w->buf[w->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !esc_class[s[j]])
            j++;
        if (j > i) {
            if (fc__jw_reserve(w, j - i + 1))
                return w->err;
            memcpy(w->buf + w->len, s + i, j - i);
            w->len += j - i;
            i = j;
            if (i == n)
                break;
        }
        if (fc__jw_reserve(w, 7))
            return w->err;
        char *o = w->buf + w->len;
        unsigned char c = s[i];
        if (esc_class[c] == 2) {
            size_t k = fc__utf8_seq((const char *)s + i, n - i);
            if (k) {
                if (fc__jw_put(w, (const char *)s + i, k))
                    return w->err;
                i += k;
            } else { /* U+FFFD for the maximal invalid subsequence */
                memcpy(o, "\xEF\xBF\xBD", 3);
                w->len += 3;
                i += fc__utf8_bad(str + i, n - i);
            }
            continue;
        }
        o[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            o[1] = (char)c;
            break;
        case '\b':
            o[1] = 'b';
            break;
        case '\f':
            o[1] = 'f';
            break;
        case '\n':
            o[1] = 'n';
            break;
        case '\r':
            o[1] = 'r';
            break;
        case '\t':
            o[1] = 't';
            break;
        default:
            memcpy(o + 1, "u00", 3);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            w->len += 4;
            break;
        }
        w->len += 2;
        i++;
    }
    return put_c(w, '"');
}

/* ===== the grammar ===================================================== */

int fc__jw_value_begin(fc_jw *w)
{
    if (w->err)
        return w->err;
    if (w->depth == 0) {
        if (w->done)
            return fc__jw_fail(w, FC_EINVAL); /* a second top-level value */
        return 0;
    }
    uint8_t *l = &w->lvl[w->depth - 1];
    if (*l & LVL_OBJECT) {
        if (!w->key_due)
            return fc__jw_fail(w, FC_EINVAL); /* a value where a key is due */
        w->key_due = false;
        return 0;
    }
    if (*l & LVL_NONEMPTY)
        return put_c(w, ',');
    *l |= LVL_NONEMPTY;
    return 0;
}

void fc__jw_value_end(fc_jw *w)
{
    if (w->depth == 0 && !w->err) {
        w->done = true;
        w->buf[w->len] = '\0'; /* the text is whole: fc_jw_text gives it as a C string */
    }
}

static int container_begin(fc_jw *w, bool object)
{
    if (w->err)
        return w->err;
    if (w->depth >= FC_JW_MAX_DEPTH) /* before value_begin, which may write a ',' */
        return fc__jw_fail(w, FC_ERANGE);
    if (fc__jw_value_begin(w))
        return w->err;
    if (put_c(w, object ? '{' : '['))
        return w->err;
    w->lvl[w->depth++] = object ? LVL_OBJECT : 0;
    return 0;
}

static int container_end(fc_jw *w, bool object)
{
    if (w->err)
        return w->err;
    if (w->depth == 0 || !(w->lvl[w->depth - 1] & LVL_OBJECT) != !object || w->key_due)
        return fc__jw_fail(w, FC_EINVAL);
    if (put_c(w, object ? '}' : ']'))
        return w->err;
    w->depth--;
    fc__jw_value_end(w);
    return 0;
}

int fc_jw_object_begin(fc_jw *w)
{
    return w ? container_begin(w, true) : FC_EINVAL;
}

int fc_jw_object_end(fc_jw *w)
{
    return w ? container_end(w, true) : FC_EINVAL;
}

int fc_jw_array_begin(fc_jw *w)
{
    return w ? container_begin(w, false) : FC_EINVAL;
}

int fc_jw_array_end(fc_jw *w)
{
    return w ? container_end(w, false) : FC_EINVAL;
}

int fc_jw_key_len(fc_jw *w, const char *key, size_t len)
{
    if (!w)
        return FC_EINVAL;
    if (w->err)
        return w->err;
    if (!key || w->depth == 0 || !(w->lvl[w->depth - 1] & LVL_OBJECT) || w->key_due)
        return fc__jw_fail(w, FC_EINVAL);
    uint8_t *l = &w->lvl[w->depth - 1];
    if ((*l & LVL_NONEMPTY) && put_c(w, ','))
        return w->err;
    *l |= LVL_NONEMPTY;
    if (fc__jw_put_str(w, key, len) || put_c(w, ':'))
        return w->err;
    w->key_due = true;
    return 0;
}

int fc_jw_key(fc_jw *w, const char *key)
{
    return fc_jw_key_len(w, key, key ? strlen(key) : 0);
}

/* One scalar: the grammar, then @p n bytes of text as they are. */
static int scalar(fc_jw *w, const char *text, size_t n)
{
    if (!w)
        return FC_EINVAL;
    if (fc__jw_value_begin(w) || fc__jw_put(w, text, n))
        return w->err;
    fc__jw_value_end(w);
    return 0;
}

int fc_jw_string_len(fc_jw *w, const char *s, size_t len)
{
    if (!w)
        return FC_EINVAL;
    if (!s)
        return fc_jw_null(w);
    if (fc__jw_value_begin(w) || fc__jw_put_str(w, s, len))
        return w->err;
    fc__jw_value_end(w);
    return 0;
}

int fc_jw_string(fc_jw *w, const char *s)
{
    return fc_jw_string_len(w, s, s ? strlen(s) : 0);
}

/* Decimal digits of @p v, right-aligned in buf[0..24); returns the first. */
static char *utoa(unsigned long long v, char *end)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

int fc_jw_uint(fc_jw *w, unsigned long long v)
{
    char b[24];
    char *p = utoa(v, b + sizeof b);
    return scalar(w, p, (size_t)(b + sizeof b - p));
}

int fc_jw_int(fc_jw *w, long long v)
{
    char b[24];
    char *p = utoa(v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, b + sizeof b);
    if (v < 0)
        *--p = '-';
    return scalar(w, p, (size_t)(b + sizeof b - p));
}

/* Numbers are written in the C locale whatever the program's LC_NUMERIC (a decimal comma, or
 * U+066B, would make them text that is not JSON); one locale object for the process. */
static locale_t c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void c_numeric_init(void)
{
    c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

int fc_jw_double(fc_jw *w, double v)
{
    if (!w)
        return FC_EINVAL;
    if (w->err)
        return w->err;
    if (!isfinite(v))
        return fc__jw_fail(w, FC_EINVAL);
    pthread_once(&c_numeric_once, c_numeric_init);
    locale_t old = c_numeric ? uselocale(c_numeric) : (locale_t)0;
    char b[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) { /* the shortest of these that reads back */
        n = snprintf(b, sizeof b - 2, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    if (c_numeric)
        uselocale(old);
    if (!strpbrk(b, ".eE")) { /* keep it a double when read back: 1 -> 1.0, as json-c */
        memcpy(b + n, ".0", 3);
        n += 2;
    }
    if (n < 0 || !fc__json_number(b, (size_t)n)) /* no C locale to be had, and a foreign one */
        return fc__jw_fail(w, FC_EINVAL);
    return scalar(w, b, (size_t)n);
}

int fc_jw_bool(fc_jw *w, bool v)
{
    return v ? scalar(w, "true", 4) : scalar(w, "false", 5);
}

int fc_jw_null(fc_jw *w)
{
    return scalar(w, "null", 4);
}

int fc_jw_raw(fc_jw *w, const char *json, size_t len)
{
    if (!w)
        return FC_EINVAL;
    if (w->err)
        return w->err;
    size_t off;
    const char *why;
    /* its containers and the writer's together within FC_JW_MAX_DEPTH (the check counts a
     * scalar as a level too: a raw scalar at the very deepest level is refused) */
    if (!json || fc__json_check_depth(json, len, FC_JW_MAX_DEPTH - w->depth, false, &off, &why))
        return fc__jw_fail(w, FC_EINVAL);
    return scalar(w, json, len);
}

int fc_jw_json(fc_jw *w, struct json_object *obj)
{
    if (!w)
        return FC_EINVAL;
    if (!obj)
        return fc_jw_null(w);
    if (w->err)
        return w->err;
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s)
        return fc__jw_fail(w, FC_ENOMEM);
    /* json-c writes any bytes a string holds, and NaN: only JSON goes out */
    return fc_jw_raw(w, s, n);
}

int fc_jw_member_string(fc_jw *w, const char *key, const char *s)
{
    return fc_jw_key(w, key) ? fc_jw_error(w) : fc_jw_string(w, s);
}

int fc_jw_member_int(fc_jw *w, const char *key, long long v)
{
    return fc_jw_key(w, key) ? fc_jw_error(w) : fc_jw_int(w, v);
}

int fc_jw_error(const fc_jw *w)
{
    return w ? w->err : FC_EINVAL;
}

bool fc_jw_done(const fc_jw *w)
{
    return w && !w->err && w->done;
}

const char *fc_jw_text(const fc_jw *w, size_t *len)
{
    if (!fc_jw_done(w) || w->drained)
        return NULL;
    if (len)
        *len = w->len;
    return w->buf; /* NUL-terminated when the value completed */
}

long fc_jw_drain(fc_jw *w, char *buf, size_t max)
{
    if (!w || (!buf && max))
        return FC_EINVAL;
    if (w->err)
        return w->err;
    size_t pending = w->len - w->off, n = pending < max ? pending : max;
    if (n > (size_t)LONG_MAX)
        n = (size_t)LONG_MAX;
    if (!n)
        return 0;
    memcpy(buf, w->buf + w->off, n);
    w->drained = true;
    w->off += n; /* the room goes back to appends when the buffer would grow */
    if (w->off == w->len)
        w->off = w->len = 0;
    if (w->done)
        w->buf[w->len] = '\0';
    return (long)n;
}

size_t fc_jw_pending(const fc_jw *w)
{
    return w ? w->len - w->off : 0;
}

int fc_response_jw(fc_request *req, int status, fc_jw *w)
{
    if (!req) {
        fc_jw_free(w);
        return FC_EINVAL;
    }
    /* a drained writer no longer holds the whole text */
    int err = !w ? FC_EINVAL : w->err ? w->err : !w->done || w->drained ? FC_EINVAL : 0;
    if (!err && put_c(w, '\n'))
        err = w->err;
    if (err) {
        fc_jw_free(w);
        fc_abort(req, 500,
                 err == FC_ENOMEM ? "JSON writer: out of memory"
                                  : "JSON writer: the JSON is not complete, not valid, or was drained");
        return err;
    }
    char *body = w->buf;
    size_t len = w->len;
    free(w);
    return fc_response_bytes_take(req, status, "application/json", body, len);
}
