/* json.c — json-c glue: the request body as JSON (415/400 with reasons),
 * JSON responses (compact, '/' unescaped, trailing newline). */
#include "internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

int fc__response_body(fc_request *req, int status, const char *ctype, const void *data, size_t len,
                      bool copy, const char *what);
int fc__abort_json(fc_request *req, int status, const char *description);

static void put_json(void *p)
{
    json_object_put(p);
}

/* ===== the RFC 8259 check ================================================ */

/* json-c 0.16 reads more than JSON even with JSON_TOKENER_STRICT: invalid
 * UTF-8 and raw control characters in strings, single-quoted strings, "1.",
 * "00", "-01", NaN and Infinity; it clamps integers past 64 bits, cuts a key
 * at "\u0000" and makes each lone surrogate U+FFFD. This pass, in front of
 * it, lets only RFC 8259 JSON through: a loop with the open containers as a
 * bit stack (no recursion), linear in the body. */

/* Depth of the deepest value json-c's tokener takes (json_tokener_new_ex):
 * the top value is at depth 1, each container adds one. */
#define JSON_DEPTH 64

typedef struct jscan {
    const unsigned char *s;
    size_t n, i;
    const char *why;
    bool jsonc; /* json-c's limits too: integers in int64..uint64, no U+0000 in keys */
} jscan;

static bool js_fail(jscan *j, size_t at, const char *why)
{
    j->i = at;
    j->why = why;
    return false;
}

static void js_ws(jscan *j)
{
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

/* The value of 4 hex digits at @p p, -1 if they are not. */
static int js_hex4(const unsigned char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int d = fc__hexval(p[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A string from its opening quote at j->i; @p key: U+0000 is refused. */
static bool js_string(jscan *j, bool key)
{
    size_t i = j->i + 1;
    while (i < j->n) {
        unsigned char c = j->s[i];
        if (c == '"') {
            j->i = i + 1;
            return true;
        }
        if (c < 0x20)
            return js_fail(j, i, "control character in a string");
        if (c >= 0x80) {
            size_t k = fc__utf8_seq((const char *)j->s + i, j->n - i);
            if (!k)
                return js_fail(j, i, "invalid UTF-8");
            i += k;
            continue;
        }
        if (c != '\\') {
            i++;
            continue;
        }
        if (i + 1 >= j->n)
            break;
        unsigned char e = j->s[i + 1];
        if (e != 'u') {
            if (!e || !strchr("\"\\/bfnrt", e))
                return js_fail(j, i, "invalid escape");
            i += 2;
            continue;
        }
        if (j->n - i < 6) {
            /* cut short: the end of the data, unless what is there is no hex */
            for (size_t k = i + 2; k < j->n; k++)
                if (fc__hexval(j->s[k]) < 0)
                    return js_fail(j, i, "invalid escape");
            break;
        }
        int u = js_hex4(j->s + i + 2);
        if (u < 0)
            return js_fail(j, i, "invalid escape");
        if (u == 0 && key && j->jsonc)
            return js_fail(j, i, "U+0000 in an object key");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return js_fail(j, i, "lone surrogate escape");
        if (u >= 0xD800 && u <= 0xDBFF) {
            /* a high surrogate needs a low one right after it */
            int lo = (j->n - i >= 12 && j->s[i + 6] == '\\' && j->s[i + 7] == 'u')
                         ? js_hex4(j->s + i + 8)
                         : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return js_fail(j, i, "lone surrogate escape");
            i += 6;
        }
        i += 6;
    }
    return js_fail(j, j->n, "unexpected end of data");
}

/* A number at j->i, as RFC 8259 has it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
 * An integer (no fraction, no exponent) must also fit json-c's int64_t or
 * uint64_t: json-c clamps the others, and C has no type for them. */
static bool js_number(jscan *j)
{
    const unsigned char *s = j->s;
    size_t n = j->n, start = j->i, i = start;
    bool neg = s[i] == '-';
    if (neg)
        i++;
    size_t d0 = i;
    if (i < n && s[i] == '0') {
        i++;
        if (i < n && s[i] >= '0' && s[i] <= '9')
            return js_fail(j, start, "invalid number");
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return js_fail(j, start, "invalid number");
    }
    size_t ndig = i - d0;
    bool integer = true;
    if (i < n && s[i] == '.') {
        integer = false;
        i++;
        if (i == n || s[i] < '0' || s[i] > '9')
            return js_fail(j, start, "invalid number");
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integer = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i == n || s[i] < '0' || s[i] > '9')
            return js_fail(j, start, "invalid number");
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (integer && j->jsonc) {
        /* no leading zeros here, so longer means larger */
        static const char int64_min[] = "9223372036854775808"; /* without its '-' */
        static const char uint64_max[] = "18446744073709551615";
        const char *lim = neg ? int64_min : uint64_max;
        size_t llen = neg ? sizeof(int64_min) - 1 : sizeof(uint64_max) - 1;
        if (ndig > llen || (ndig == llen && memcmp(s + d0, lim, llen) > 0))
            return js_fail(j, start, "integer out of range");
    }
    j->i = i;
    return true;
}

bool fc__json_number(const char *s, size_t n)
{
    jscan j = {(const unsigned char *)s, n, 0, NULL, false};
    return n && js_number(&j) && j.i == n;
}

/* true, false or null at j->i. */
static bool js_literal(jscan *j)
{
    static const char *const words[] = {"true", "false", "null"};
    unsigned char c = j->s[j->i];
    for (size_t w = 0; w < 3; w++) {
        if (c != (unsigned char)words[w][0])
            continue;
        size_t len = strlen(words[w]), avail = j->n - j->i;
        if (avail < len && memcmp(j->s + j->i, words[w], avail) == 0)
            return js_fail(j, j->n, "unexpected end of data");
        if (avail < len || memcmp(j->s + j->i, words[w], len) != 0)
            return js_fail(j, j->i, "invalid literal");
        j->i += len;
        return true;
    }
    return js_fail(j, j->i, "unexpected character");
}

int fc__json_check(const char *text, size_t len, size_t *off, const char **why)
{
    return fc__json_check_depth(text, len, JSON_DEPTH, true, off, why);
}

int fc__json_check_depth(const char *text, size_t len, unsigned max_depth, bool jsonc, size_t *off,
                         const char **why)
{
    jscan j = {(const unsigned char *)text, len, 0, NULL, jsonc};
    /* bit d set: the container at depth d + 1 is an object */
    uint64_t objects[(FC_JW_MAX_DEPTH + 63) / 64] = {0};
    if (max_depth > FC_JW_MAX_DEPTH)
        max_depth = FC_JW_MAX_DEPTH;
    unsigned depth = 0;   /* containers open */
    enum { VALUE, KEY, AFTER } st = VALUE;
    bool ok = true;
    while (ok) {
        js_ws(&j);
        if (j.i == len && !(st == AFTER && depth == 0)) {
            ok = js_fail(&j, len, "unexpected end of data");
            break;
        }
        unsigned char c = j.i < len ? j.s[j.i] : 0;
        if (st == VALUE) {
            if (depth >= max_depth) {
                ok = js_fail(&j, j.i, "nesting too deep");
            } else if (c == '{' || c == '[') {
                uint64_t bit = (uint64_t)1 << (depth % 64);
                objects[depth / 64] = c == '{' ? objects[depth / 64] | bit : objects[depth / 64] & ~bit;
                depth++;
                j.i++;
                js_ws(&j);
                if (j.i < len && j.s[j.i] == (c == '{' ? '}' : ']')) {
                    depth--;
                    j.i++;
                    st = AFTER;
                } else {
                    st = c == '{' ? KEY : VALUE;
                }
            } else {
                if (c == '"')
                    ok = js_string(&j, false);
                else if (c == '-' || (c >= '0' && c <= '9'))
                    ok = js_number(&j);
                else if (c == '\'')
                    ok = js_fail(&j, j.i, "single-quoted string");
                else
                    ok = js_literal(&j);
                st = AFTER;
            }
        } else if (st == KEY) {
            if (c == '\'') {
                ok = js_fail(&j, j.i, "single-quoted string");
            } else if (c != '"') {
                ok = js_fail(&j, j.i, "object key expected");
            } else if ((ok = js_string(&j, true))) {
                js_ws(&j);
                if (j.i < len && j.s[j.i] == ':') {
                    j.i++;
                    st = VALUE;
                } else {
                    ok = js_fail(&j, j.i, j.i < len ? "':' expected" : "unexpected end of data");
                }
            }
        } else if (depth == 0) {
            if (j.i < len)
                ok = js_fail(&j, j.i, "extra data");
            else
                break; /* the one value and nothing after it */
        } else {
            bool obj = (objects[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1;
            if (c == (obj ? '}' : ']')) {
                depth--;
                j.i++;
            } else if (c == ',') {
                j.i++;
                st = obj ? KEY : VALUE;
            } else {
                ok = js_fail(&j, j.i, obj ? "',' or '}' expected" : "',' or ']' expected");
            }
        }
    }
    if (ok)
        return 0;
    *off = j.i;
    *why = j.why;
    return FC_ERANGE;
}

/* json-c 0.16 makes U+FFFD of an escaped surrogate pair whose code point's
 * low 16 bits fall in D800..DFFF (U+1D800..U+1DFFF, U+2D800.., up to
 * U+10DFFF: 32768 characters, CJK extensions among them): its UTF-8 writer
 * tests the whole code point for a surrogate. Those pairs go to it as UTF-8. */
static unsigned pair_cp(int hi, int lo)
{
    return 0x10000u + ((unsigned)(hi - 0xD800) << 10) + (unsigned)(lo - 0xDC00);
}

/* Whether [s, +n) may hold such a pair: a backslash, 'u', then D8..DB. */
static bool may_hold_pairs(const char *s, size_t n)
{
    for (const char *p = memchr(s, '\\', n); p; p = memchr(p + 1, '\\', (size_t)(s + n - p - 1)))
        if (s + n - p >= 12 && p[1] == 'u' && (p[2] == 'd' || p[2] == 'D') && p[3] &&
            strchr("89abAB", p[3]))
            return true;
    return false;
}

/* Rewrite in place, as UTF-8, those pairs in [s, +n), a text fc__json_check
 * passed; returns the new length. */
static size_t fix_pairs(char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, j = 0;
    bool in = false;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            in = !in;
        } else if (in && c == '\\') {
            int hi = s[i + 1] == 'u' ? js_hex4(u + i + 2) : -1;
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                /* checked: a low surrogate escape follows */
                unsigned cp = pair_cp(hi, js_hex4(u + i + 8));
                if ((cp & 0xF800u) == 0xD800u) {
                    s[j++] = (char)(0xF0 | (cp >> 18));
                    s[j++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    s[j++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    s[j++] = (char)(0x80 | (cp & 0x3F));
                    i += 12;
                    continue;
                }
            }
            s[j++] = s[i++]; /* the backslash; the escaped character below */
        }
        s[j++] = s[i++];
    }
    return j;
}

/* json-c's reading of @p text (< 2 GiB), strict and as deep as fc__json_check lets
 * texts be: *out (NULL for null), *used the bytes it took, *jerr its verdict;
 * FC_ENOMEM when it could not start. */
static int jc_parse(const char *text, size_t len, struct json_object **out, size_t *used,
                    enum json_tokener_error *jerr)
{
    *out = NULL;
    *used = 0;
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok)
        return FC_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    *jerr = json_tokener_get_error(tok);
    *used = json_tokener_get_parse_end(tok);
    if (*jerr == json_tokener_continue) {
        /* a bare scalar at the end of the input ("42", "null") needs the
         * end of input to be seen: feed the terminating NUL */
        obj = json_tokener_parse_ex(tok, "", 1);
        *jerr = json_tokener_get_error(tok);
        *used = len;
    }
    json_tokener_free(tok);
    *out = obj;
    return 0;
}

struct json_object *fc__json_read(const char *text, size_t len, bool *ok)
{
    size_t off, used;
    const char *why;
    struct json_object *obj = NULL;
    *ok = false;
    if (len > (size_t)INT32_MAX - 1 || fc__json_check(text, len, &off, &why))
        return NULL;
    char *copy = NULL;
    if (may_hold_pairs(text, len)) {
        if (!(copy = malloc(len)))
            return NULL;
        memcpy(copy, text, len);
        len = fix_pairs(copy, len);
        text = copy;
    }
    enum json_tokener_error jerr = json_tokener_success;
    int rc = jc_parse(text, len, &obj, &used, &jerr);
    free(copy);
    if (rc || jerr != json_tokener_success) {
        json_object_put(obj);
        return NULL;
    }
    *ok = true;
    return obj;
}

/* 0 ok (*out may be NULL for "null"), FC_EINVAL wrong type, FC_ERANGE bad JSON;
 * *why gets a request-owned reason */
static int parse_body(fc_request *req, struct json_object **out, const char **why)
{
    *out = NULL;
    const char *ct = fc_request_header(req, "Content-Type");
    if (!ct || !fc__is_json_type(ct)) {
        *why = "Did not attempt to load JSON data because the request Content-Type was not "
               "'application/json'.";
        return FC_EINVAL;
    }
    if (req->body_len == 0) {
        *why = "Failed to decode JSON object: the request body is empty.";
        return FC_ERANGE;
    }
    /* a UTF-8 byte order mark may be ignored (RFC 8259 8.1; Flask does) */
    size_t skip = req->body_len >= 3 && memcmp(req->body, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    const char *text = req->body + skip;
    size_t text_len = req->body_len - skip;
    size_t bad_at = 0;
    const char *bad = NULL;
    if (fc__json_check(text, text_len, &bad_at, &bad) != 0) {
        if (bad_at == text_len)
            *why = fc_request_printf(req, "Failed to decode JSON object: %s.", bad);
        else
            *why = fc_request_printf(req, "Failed to decode JSON object: %s at offset %zu.", bad,
                                     bad_at + skip);
        if (!*why)
            *why = "Failed to decode JSON object.";
        return FC_ERANGE;
    }
    if (may_hold_pairs(text, text_len)) {
        char *copy = fc_request_alloc(req, text_len);
        if (!copy) {
            *why = "out of memory";
            return FC_ENOMEM;
        }
        memcpy(copy, text, text_len);
        text_len = fix_pairs(copy, text_len);
        text = copy;
    }
    if (text_len > (size_t)INT32_MAX - 1) {
        *why = "Failed to decode JSON object: body too large.";
        return FC_ERANGE;
    }
    struct json_object *obj = NULL;
    size_t used = 0;
    enum json_tokener_error jerr = json_tokener_success;
    if (jc_parse(text, text_len, &obj, &used, &jerr)) {
        *why = "out of memory";
        return FC_ENOMEM;
    }
    int rc = 0;
    if (jerr == json_tokener_continue) {
        *why = "Failed to decode JSON object: unexpected end of data.";
        rc = FC_ERANGE;
    } else if (jerr != json_tokener_success) {
        *why = fc_request_printf(req, "Failed to decode JSON object: %s at offset %zu.",
                                 json_tokener_error_desc(jerr), used + skip);
        rc = FC_ERANGE;
    } else {
        /* trailing garbage after the value (whitespace is fine) */
        for (size_t i = used; i < text_len; i++) {
            char c = text[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
                *why = fc_request_printf(
                    req, "Failed to decode JSON object: extra data at offset %zu.", i + skip);
                rc = FC_ERANGE;
                break;
            }
        }
    }
    if (rc) {
        json_object_put(obj);
        if (!*why)
            *why = "Failed to decode JSON object.";
        return rc;
    }
    *out = obj;
    return 0;
}

static struct json_object *request_json(fc_request *req, bool silent)
{
    if (req->json_parsed)
        return req->json;
    const char *why = NULL;
    struct json_object *obj = NULL;
    int rc = parse_body(req, &obj, &why);
    if (rc == 0 && obj && fc_request_on_cleanup(req, put_json, obj) != 0) {
        json_object_put(obj);
        obj = NULL;
        rc = FC_ENOMEM;
        why = "out of memory";
    }
    req->json_parsed = true;
    req->json = obj;
    if (rc && !silent)
        fc__abort_json(req, rc == FC_EINVAL ? 415 : rc == FC_ENOMEM ? 500 : 400, why);
    return obj;
}

struct json_object *fc_request_json(fc_request *req)
{
    return request_json(req, false);
}

struct json_object *fc_request_json_silent(fc_request *req)
{
    return request_json(req, true);
}

char *fc__json_to_arena(fc_request *req, struct json_object *obj, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s)
        return NULL;
    pthread_mutex_lock(&req->mu);
    char *p = fc__arena_alloc(req->arena, n + 2);
    pthread_mutex_unlock(&req->mu);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\n';
    p[n + 1] = '\0';
    *len = n + 1;
    return p;
}

int fc_response_json(fc_request *req, int status, struct json_object *obj)
{
    size_t len = 0;
    char *p = fc__json_to_arena(req, obj, &len);
    json_object_put(obj);
    if (!p)
        return fc__response_body(req, 500, NULL, NULL, 0, false, "json");
    return fc__response_body(req, status, "application/json", p, len, false, "json");
}

int fc_response_json_str(fc_request *req, int status, const char *json)
{
    if (!json)
        return FC_EINVAL;
    size_t n = strlen(json);
    if (n && json[n - 1] == '\n')
        return fc__response_body(req, status, "application/json", json, n, true, "json");
    pthread_mutex_lock(&req->mu);
    char *p = fc__arena_alloc(req->arena, n + 1);
    pthread_mutex_unlock(&req->mu);
    if (!p)
        return fc__response_body(req, 500, NULL, NULL, 0, false, "json");
    memcpy(p, json, n);
    p[n] = '\n';
    return fc__response_body(req, status, "application/json", p, n + 1, false, "json");
}
