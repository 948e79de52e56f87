/* test_jw.c — unit tests of libflaskc/jw.c and pg_json.c: the JSON writer's grammar and its
 * misuse (sticky errors, never malformed text), strings against json-c's writer and a
 * reference U+FFFD decoder, doubles, draining, fc_response_jw, and results written as text
 * against the json-c objects of fc_pg_json, over random rows of every column type. */
#include "internal.h"
#include "pg_int.h"
#include "tap.h"

#include <json-c/json.h>
#include <locale.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

static const int JC_FLAGS = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

/* A small PRNG (xorshift64*), seeded and printed so a failure can be replayed. */
static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}
static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* The writer's finished text, copied (static buffer), or "(none)". */
static const char *text_of(const fc_jw *w)
{
    static char out[65536];
    size_t n = 0;
    const char *t = fc_jw_text(w, &n);
    if (!t)
        return "(none)";
    snprintf(out, sizeof out, "%.*s", (int)n, t);
    return out;
}

/* ===== the grammar ====================================================== */

static void test_grammar(void)
{
    fc_jw *w = fc_jw_new();
    CHECK(w != NULL);
    CHECK(fc_jw_text(w, NULL) == NULL);
    CHECK(!fc_jw_done(w));
    CHECK_INT(fc_jw_object_begin(w), 0);
    CHECK_INT(fc_jw_member_int(w, "a", 1), 0);
    CHECK_INT(fc_jw_key(w, "b"), 0);
    CHECK_INT(fc_jw_array_begin(w), 0);
    CHECK(fc_jw_text(w, NULL) == NULL); /* incomplete */
    CHECK_INT(fc_jw_null(w), 0);
    CHECK_INT(fc_jw_bool(w, true), 0);
    CHECK_INT(fc_jw_bool(w, false), 0);
    CHECK_INT(fc_jw_string(w, "x"), 0);
    CHECK_INT(fc_jw_string(w, NULL), 0);
    CHECK_INT(fc_jw_double(w, 1.5), 0);
    CHECK_INT(fc_jw_uint(w, 18446744073709551615ULL), 0);
    CHECK_INT(fc_jw_int(w, INT64_MIN), 0);
    CHECK_INT(fc_jw_int(w, 0), 0);
    CHECK_INT(fc_jw_array_begin(w), 0);
    CHECK_INT(fc_jw_array_end(w), 0);
    CHECK_INT(fc_jw_object_begin(w), 0);
    CHECK_INT(fc_jw_object_end(w), 0);
    CHECK_INT(fc_jw_raw(w, " {\"k\": [1, 2.5e3]} ", 19), 0);
    CHECK_INT(fc_jw_array_end(w), 0);
    CHECK_INT(fc_jw_member_string(w, "c", "é/\"\n"), 0);
    CHECK_INT(fc_jw_key_len(w, "d\0e", 3), 0);
    CHECK_INT(fc_jw_string_len(w, "\0", 1), 0);
    CHECK_INT(fc_jw_object_end(w), 0);
    CHECK(fc_jw_done(w));
    CHECK_STR(text_of(w), "{\"a\":1,\"b\":[null,true,false,\"x\",null,1.5,18446744073709551615,"
                          "-9223372036854775808,0,[],{}, {\"k\": [1, 2.5e3]} ],"
                          "\"c\":\"é/\\\"\\n\",\"d\\u0000e\":\"\\u0000\"}");
    size_t len;
    const char *t = fc_jw_text(w, &len);
    size_t off;
    const char *why;
    CHECK(t && fc__json_check_depth(t, len, FC_JW_MAX_DEPTH, false, &off, &why) == 0);
    fc_jw_free(w);

    /* a top-level scalar is a document too */
    w = fc_jw_new();
    CHECK_INT(fc_jw_string(w, "solo"), 0);
    CHECK_STR(text_of(w), "\"solo\"");
    fc_jw_free(w);
    fc_jw_free(NULL);
}

/* Each misuse: the call fails, writes nothing, and the error sticks. */
typedef int (*misuse_fn)(fc_jw *w);
static int m_value_no_key(fc_jw *w)
{
    fc_jw_object_begin(w);
    return fc_jw_int(w, 1);
}
static int m_key_top(fc_jw *w)
{
    return fc_jw_key(w, "a");
}
static int m_key_in_array(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_key(w, "a");
}
static int m_key_twice(fc_jw *w)
{
    fc_jw_object_begin(w);
    fc_jw_key(w, "a");
    return fc_jw_key(w, "b");
}
static int m_key_null(fc_jw *w)
{
    fc_jw_object_begin(w);
    return fc_jw_key(w, NULL);
}
static int m_wrong_end(fc_jw *w)
{
    fc_jw_object_begin(w);
    return fc_jw_array_end(w);
}
static int m_wrong_end2(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_object_end(w);
}
static int m_end_after_key(fc_jw *w)
{
    fc_jw_object_begin(w);
    fc_jw_key(w, "a");
    return fc_jw_object_end(w);
}
static int m_end_at_top(fc_jw *w)
{
    return fc_jw_array_end(w);
}
static int m_second_top(fc_jw *w)
{
    fc_jw_int(w, 1);
    return fc_jw_int(w, 2);
}
static int m_second_top_container(fc_jw *w)
{
    fc_jw_array_begin(w);
    fc_jw_array_end(w);
    return fc_jw_object_begin(w);
}
static int m_nan(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_double(w, NAN);
}
static int m_inf(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_double(w, -INFINITY);
}
static int m_raw_open(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_raw(w, "{", 1);
}
static int m_raw_two(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_raw(w, "1 2", 3);
}
static int m_raw_surrogate(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_raw(w, "\"\\ud800\"", 8);
}
static int m_raw_null(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_raw(w, NULL, 0);
}
static int m_raw_empty(fc_jw *w)
{
    fc_jw_array_begin(w);
    return fc_jw_raw(w, "  ", 2);
}
static int m_json_bad_utf8(fc_jw *w)
{
    fc_jw_array_begin(w);
    struct json_object *o = json_object_new_string("\xff");
    int rc = fc_jw_json(w, o);
    json_object_put(o);
    return rc;
}
static int m_json_nan(fc_jw *w)
{
    fc_jw_array_begin(w);
    struct json_object *o = json_object_new_double(NAN);
    int rc = fc_jw_json(w, o);
    json_object_put(o);
    return rc;
}
static int m_too_deep(fc_jw *w)
{
    for (int i = 0; i < FC_JW_MAX_DEPTH; i++)
        if (fc_jw_array_begin(w))
            return -100; /* the limit itself must be allowed */
    return fc_jw_array_begin(w);
}
static int m_raw_too_deep(fc_jw *w)
{
    char deep[FC_JW_MAX_DEPTH * 2];
    for (int i = 0; i < FC_JW_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[FC_JW_MAX_DEPTH * 2 - 1 - i] = ']';
    }
    fc_jw_array_begin(w); /* one level used: the raw text's 512 more are too many */
    return fc_jw_raw(w, deep, sizeof deep);
}

static void test_misuse(void)
{
    static const struct {
        const char *name;
        misuse_fn fn;
        int want;
    } cases[] = {
        {"value without key", m_value_no_key, FC_EINVAL},
        {"key at the top", m_key_top, FC_EINVAL},
        {"key in an array", m_key_in_array, FC_EINVAL},
        {"key twice", m_key_twice, FC_EINVAL},
        {"NULL key", m_key_null, FC_EINVAL},
        {"array end in an object", m_wrong_end, FC_EINVAL},
        {"object end in an array", m_wrong_end2, FC_EINVAL},
        {"end after a key", m_end_after_key, FC_EINVAL},
        {"end at the top", m_end_at_top, FC_EINVAL},
        {"second top value", m_second_top, FC_EINVAL},
        {"second top container", m_second_top_container, FC_EINVAL},
        {"NaN", m_nan, FC_EINVAL},
        {"-Infinity", m_inf, FC_EINVAL},
        {"raw: open object", m_raw_open, FC_EINVAL},
        {"raw: two values", m_raw_two, FC_EINVAL},
        {"raw: lone surrogate", m_raw_surrogate, FC_EINVAL},
        {"raw: NULL", m_raw_null, FC_EINVAL},
        {"raw: only whitespace", m_raw_empty, FC_EINVAL},
        {"json-c string of invalid UTF-8", m_json_bad_utf8, FC_EINVAL},
        {"json-c NaN", m_json_nan, FC_EINVAL},
        {"deeper than FC_JW_MAX_DEPTH", m_too_deep, FC_ERANGE},
        {"raw text too deep", m_raw_too_deep, FC_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fc_jw *w = fc_jw_new();
        int rc = cases[i].fn(w);
        size_t pending = fc_jw_pending(w);
        int later = fc_jw_null(w); /* sticky: refused, nothing written */
        int ends = fc_jw_array_end(w) | fc_jw_object_end(w);
        char buf[8];
        if (rc != cases[i].want || later != rc || !ends || fc_jw_pending(w) != pending ||
            fc_jw_error(w) != rc || fc_jw_done(w) || fc_jw_text(w, NULL) != NULL ||
            fc_jw_drain(w, buf, sizeof buf) != rc) {
            tap_failed++;
            fprintf(stderr, "misuse '%s': rc %d (want %d), later %d, error %d, done %d\n",
                    cases[i].name, rc, cases[i].want, later, fc_jw_error(w), fc_jw_done(w));
        }
        tap_checks++;
        fc_jw_free(w);
    }
    /* NULL writer */
    CHECK_INT(fc_jw_object_begin(NULL), FC_EINVAL);
    CHECK_INT(fc_jw_int(NULL, 1), FC_EINVAL);
    CHECK_INT(fc_jw_string(NULL, "x"), FC_EINVAL);
    CHECK_INT(fc_jw_error(NULL), FC_EINVAL);
    CHECK(!fc_jw_done(NULL));
    /* the misuse before a complete value leaves the writer's text unusable */
    fc_jw *w = fc_jw_new();
    fc_jw_array_begin(w);
    fc_jw_key(w, "k");
    fc_jw_array_end(w);
    CHECK(fc_jw_text(w, NULL) == NULL);
    fc_jw_free(w);
}

/* ===== strings ========================================================== */

/* Reference decoder, written apart from the library's: UTF-8 by the rows of Unicode's
 * table 3-7, each maximal subpart of an ill-formed sequence one U+FFFD. */
static size_t ref_clean(const unsigned char *s, size_t n, char *out)
{
    static const struct {
        unsigned char lead_lo, lead_hi, second_lo, second_hi;
        int len;
    } rows[] = {
        {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3}, {0xE1, 0xEC, 0x80, 0xBF, 3},
        {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3}, {0xF0, 0xF0, 0x90, 0xBF, 4},
        {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
    };
    size_t o = 0, i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            out[o++] = (char)s[i++];
            continue;
        }
        int row = -1;
        for (int r = 0; r < 8; r++)
            if (s[i] >= rows[r].lead_lo && s[i] <= rows[r].lead_hi)
                row = r;
        size_t good = 1; /* bytes of s[i..] that are a prefix of a well-formed sequence */
        if (row >= 0 && i + 1 < n && s[i + 1] >= rows[row].second_lo &&
            s[i + 1] <= rows[row].second_hi) {
            good = 2;
            while (good < (size_t)rows[row].len && i + good < n && s[i + good] >= 0x80 &&
                   s[i + good] <= 0xBF)
                good++;
        }
        if (row >= 0 && good == (size_t)rows[row].len) {
            memcpy(out + o, s + i, good);
            o += good;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
        i += good;
    }
    return o;
}

/* The writer's string of [s, +n): its text, checked to be JSON; json-c reads it back as
 * ref_clean(s); when s is UTF-8, the text is byte for byte json-c's. */
static void check_string(const char *s, size_t n, int line)
{
    fc_jw *w = fc_jw_new();
    int rc = fc_jw_string_len(w, s, n);
    size_t len = 0, off;
    const char *t = fc_jw_text(w, &len), *why;
    bool ok = rc == 0 && t && fc__json_check_depth(t, len, 8, false, &off, &why) == 0;
    char *want = malloc(n * 3 + 1);
    size_t want_len = ref_clean((const unsigned char *)s, n, want);
    struct json_object *back = ok ? json_tokener_parse(t) : NULL;
    ok = ok && back && json_object_is_type(back, json_type_string) &&
         (size_t)json_object_get_string_len(back) == want_len &&
         memcmp(json_object_get_string(back), want, want_len) == 0;
    if (ok && fc__utf8_valid(s, n)) {
        struct json_object *js = json_object_new_string_len(s, (int)n);
        size_t jl = 0;
        const char *jt = json_object_to_json_string_length(js, JC_FLAGS, &jl);
        ok = jl == len && memcmp(jt, t, len) == 0;
        json_object_put(js);
    }
    json_object_put(back);
    tap_checks++;
    if (!ok) {
        tap_failed++;
        fprintf(stderr, "%s:%d: string of %zu bytes:", __FILE__, line, n);
        for (size_t i = 0; i < n && i < 40; i++)
            fprintf(stderr, " %02x", (unsigned char)s[i]);
        fprintf(stderr, " -> %.*s\n", (int)(t ? len : 6), t ? t : "(none)");
    }
    free(want);
    fc_jw_free(w);
}
#define CHECK_STRING(s, n) check_string(s, n, __LINE__)

static void test_strings(void)
{
    char one[1];
    for (int c = 0; c < 0x80; c++) { /* every ASCII character, controls, quote, backslash, DEL */
        one[0] = (char)c;
        CHECK_STRING(one, 1);
    }
    static const char *const utf8[] = {
        "",
        "plain",
        "é",
        "€uro",
        "日本語",
        "😀 astral 𝄞",
        "e\xCC\x81 combining",
        "\xEF\xBB\xBF bom",
        "\xE2\x80\xA8 line separator",
        "\xF4\x8F\xBF\xBF max",
        "quote \" back \\ slash /",
    };
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++)
        CHECK_STRING(utf8[i], strlen(utf8[i]));

    /* invalid UTF-8: what Python's bytes.decode("utf-8", "replace") gives (CPython 3.11) */
    static const struct {
        const char *in, *out;
    } bad[] = {
        {"a\xF1\x80\x80\xE1\x80\xC2"
         "b\x80"
         "c\x80\xBF"
         "d",
         "\"a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
         "b\xEF\xBF\xBD"
         "c\xEF\xBF\xBD\xEF\xBF\xBD"
         "d\""},
        {"\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"\xC0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"\xE0\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"\xF0\x80\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"\xF4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"x\xE2\x82", "\"x\xEF\xBF\xBD\""},
        {"\xF0\x9F\x98", "\"\xEF\xBF\xBD\""},
        {"\xF0\x9F\x98x", "\"\xEF\xBF\xBDx\""},
        {"\xFE\xFF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"\xE2\x82\xACok\xC3", "\"\xE2\x82\xACok\xEF\xBF\xBD\""},
        {"\xF5\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"\xDF\xDF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fc_jw *w = fc_jw_new();
        fc_jw_string(w, bad[i].in);
        CHECK_STR(text_of(w), bad[i].out);
        fc_jw_free(w);
        CHECK_STRING(bad[i].in, strlen(bad[i].in));
    }

    /* random strings: ASCII, controls, well-formed multi-byte characters, stray bytes */
    static const char *const pieces[] = {"\xC3\xA9",     "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                         "\xED\x9F\xBF", "\xEE\x80\x80", "\xF4\x8F\xBF\xBF",
                                         "\"",           "\\",           "/"};
    char s[64];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0, want = rn(40);
        while (n < want) {
            unsigned k = rn(10);
            if (k < 4) {
                s[n++] = (char)(0x20 + rn(0x5F));
            } else if (k < 5) {
                s[n++] = (char)rn(0x20);
            } else if (k < 8) {
                const char *p = pieces[rn(sizeof pieces / sizeof pieces[0])];
                size_t pl = strlen(p);
                if (n + pl > sizeof s)
                    break;
                memcpy(s + n, p, pl);
                n += pl;
            } else {
                s[n++] = (char)(0x80 + rn(0x80)); /* any high byte */
            }
        }
        CHECK_STRING(s, n);
    }
}

/* ===== numbers, draining, json-c objects ================================ */

static void test_numbers(void)
{
    static const struct {
        double v;
        const char *want;
    } known[] = {
        {0.1, "0.1"},
        {1.0, "1.0"},
        {-0.0, "-0.0"},
        {1e300, "1e+300"},
        {123456.75, "123456.75"},
        {1.0 / 3, "0.3333333333333333"},
        {5e-324, "4.94065645841247e-324"},
        {-2.5, "-2.5"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        fc_jw *w = fc_jw_new();
        CHECK_INT(fc_jw_double(w, known[i].v), 0);
        CHECK_STR(text_of(w), known[i].want);
        fc_jw_free(w);
    }
    /* random doubles read back exactly, as doubles */
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        fc_jw *w = fc_jw_new();
        fc_jw_double(w, v);
        const char *t = fc_jw_text(w, NULL);
        struct json_object *o = t ? json_tokener_parse(t) : NULL;
        bool ok = o && json_object_is_type(o, json_type_double) && json_object_get_double(o) == v;
        tap_checks++;
        if (!ok) {
            tap_failed++;
            fprintf(stderr, "double %.17g written as %s\n", v, t ? t : "(none)");
        }
        json_object_put(o);
        fc_jw_free(w);
    }
    char b[32];
    for (int i = 0; i < 2000; i++) {
        long long v = (long long)rnd();
        fc_jw *w = fc_jw_new();
        fc_jw_int(w, v);
        snprintf(b, sizeof b, "%lld", v);
        CHECK_STR(text_of(w), b);
        fc_jw_free(w);
    }
}

static void test_drain(void)
{
    fc_jw *whole = fc_jw_new(), *parts = fc_jw_new();
    fc__buf got = {0};
    char chunk[7];
    fc_jw_array_begin(whole);
    fc_jw_array_begin(parts);
    for (int i = 0; i < 1000; i++) {
        fc_jw_member_int(NULL, "x", i); /* NULL: refused, nothing happens */
        fc_jw_int(whole, i * 7919);
        fc_jw_int(parts, i * 7919);
        if (i % 3 == 0) {
            long n = fc_jw_drain(parts, chunk, sizeof chunk);
            CHECK(n > 0);
            fc__buf_append(&got, chunk, (size_t)n);
        }
    }
    fc_jw_array_end(whole);
    fc_jw_array_end(parts);
    long n;
    while ((n = fc_jw_drain(parts, chunk, sizeof chunk)) > 0)
        fc__buf_append(&got, chunk, (size_t)n);
    CHECK_INT(n, 0);
    CHECK_INT(fc_jw_pending(parts), 0);
    CHECK(fc_jw_done(parts));
    size_t len;
    const char *t = fc_jw_text(whole, &len);
    CHECK(t && got.len == len && memcmp(got.data, t, len) == 0);
    CHECK_INT(fc_jw_drain(parts, NULL, 4), FC_EINVAL);
    /* a drained writer has no whole text any more: neither fc_jw_text nor an answer */
    CHECK(fc_jw_done(parts));
    CHECK(fc_jw_text(parts, NULL) == NULL);
    fc_jw *half = fc_jw_new();
    fc_jw_array_begin(half);
    fc_jw_int(half, 12345);
    fc_jw_array_end(half);
    CHECK_INT(fc_jw_drain(half, chunk, 3), 3);
    CHECK(fc_jw_done(half) && fc_jw_text(half, NULL) == NULL);
    CHECK_INT(fc_jw_pending(half), 4);
    fc_jw_free(half);
    /* drained room is reused: a long stream in small chunks stays one small buffer */
    fc_jw *stream = fc_jw_new();
    fc_jw_array_begin(stream);
    size_t total = 0, wrote = 1;
    for (int i = 0; i < 200000; i++) {
        fc_jw_string(stream, "0123456789abcdefghij");
        wrote += (i ? 1 : 0) + 22;
        while (fc_jw_pending(stream) >= sizeof chunk)
            total += (size_t)fc_jw_drain(stream, chunk, sizeof chunk);
    }
    CHECK_INT(total + fc_jw_pending(stream), wrote);
    CHECK(fc_jw_pending(stream) < sizeof chunk);
    fc_jw_free(stream);
    fc__buf_free(&got);
    fc_jw_free(whole);
    fc_jw_free(parts);
}

/* At the deepest level a refused container writes nothing (not even its ','). */
static void test_depth_edges(void)
{
    fc_jw *w = fc_jw_new();
    for (int i = 0; i < FC_JW_MAX_DEPTH; i++)
        fc_jw_array_begin(w);
    CHECK_INT(fc_jw_int(w, 1), 0); /* a scalar at the deepest level is fine */
    size_t before = fc_jw_pending(w);
    CHECK_INT(fc_jw_array_begin(w), FC_ERANGE);
    CHECK_INT(fc_jw_pending(w), before);
    fc_jw_free(w);
}

/* Numbers are JSON in any LC_NUMERIC: in ps_AF (built here with localedef, which Debian's
 * libc-bin has) printf writes 1.5 with U+066B for the point, the writer 1.5. */
static void test_locale(void)
{
    char dir[] = "/tmp/test_jw_locXXXXXX", cmd[256];
    if (!mkdtemp(dir))
        return;
    snprintf(cmd, sizeof cmd, "localedef -i ps_AF -f UTF-8 %s/ps_AF.UTF-8 >/dev/null 2>&1", dir);
    char *old = getenv("LOCPATH") ? strdup(getenv("LOCPATH")) : NULL;
    if (system(cmd) == 0 && setenv("LOCPATH", dir, 1) == 0 && setlocale(LC_NUMERIC, "ps_AF.UTF-8")) {
        char b[16];
        snprintf(b, sizeof b, "%.1f", 1.5);
        CHECK_STR(b, "1\xD9\xAB" "5"); /* the locale is in force */
        fc_jw *w = fc_jw_new();
        fc_jw_array_begin(w);
        CHECK_INT(fc_jw_double(w, 1.5), 0);
        CHECK_INT(fc_jw_double(w, -0.25e-10), 0);
        fc_jw_array_end(w);
        CHECK_STR(text_of(w), "[1.5,-2.5e-11]");
        fc_jw_free(w);
        setlocale(LC_NUMERIC, "C");
    } else {
        fprintf(stderr, "test_jw: no ps_AF locale could be built: the locale check did not run\n");
    }
    if (old)
        setenv("LOCPATH", old, 1);
    else
        unsetenv("LOCPATH");
    free(old);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_jw: could not remove %s\n", dir);
}

static void test_json_embed(void)
{
    struct json_object *o = json_tokener_parse("{\"path\":\"/a/b\",\"n\":[1,2.5,null,true],"
                                               "\"u\":\"\\u00e9\\ud83d\\ude00\",\"e\":{}}");
    CHECK(o != NULL);
    fc_jw *w = fc_jw_new();
    fc_jw_object_begin(w);
    fc_jw_key(w, "obj");
    CHECK_INT(fc_jw_json(w, o), 0);
    fc_jw_key(w, "none");
    CHECK_INT(fc_jw_json(w, NULL), 0);
    fc_jw_object_end(w);
    char want[512];
    snprintf(want, sizeof want, "{\"obj\":%s,\"none\":null}",
             json_object_to_json_string_ext(o, JC_FLAGS));
    CHECK_STR(text_of(w), want);
    CHECK(strstr(want, "\"/a/b\"") != NULL); /* '/' not escaped */
    fc_jw_free(w);
    json_object_put(o);
}

/* ===== results ========================================================== */

enum {
    T_BOOL = 16,
    T_BYTEA = 17,
    T_NAME = 19,
    T_INT8 = 20,
    T_INT2 = 21,
    T_INT4 = 23,
    T_TEXT = 25,
    T_OID = 26,
    T_JSON = 114,
    T_FLOAT4 = 700,
    T_FLOAT8 = 701,
    T_VARCHAR = 1043,
    T_DATE = 1082,
    T_TIMESTAMP = 1114,
    T_TIMESTAMPTZ = 1184,
    T_NUMERIC = 1700,
    T_UUID = 2950,
    T_JSONB = 3802,
};
static const Oid TYPES[] = {T_BOOL, T_BYTEA,     T_NAME,        T_INT8,    T_INT2,   T_INT4,
                            T_TEXT, T_OID,       T_JSON,        T_FLOAT4,  T_FLOAT8, T_VARCHAR,
                            T_DATE, T_TIMESTAMP, T_TIMESTAMPTZ, T_NUMERIC, T_UUID,   T_JSONB};

/* A value in PostgreSQL's text form for @p type, in @p b. */
static const char *pg_text(Oid type, char *b, size_t cap)
{
    static const char *const floats[] = {"NaN",    "Infinity", "-Infinity", "-0",
                                         "1e+100", "1.5e-07",  "0"};
    static const char *const numerics[] = {"NaN",
                                           "Infinity",
                                           "-Infinity",
                                           "12.50",
                                           "0.000",
                                           "123456789012345678901234567890.5",
                                           "-98765432109876543210987654321"};
    static const char *const jsons[] = {"{\"a\": [1, 2.5, null, true, \"x\\u00e9\"]}",
                                        "[]",
                                        "\"str\"",
                                        "123",
                                        "null",
                                        "{\"big\": 123456789012345678901234567890}",
                                        "{\"k\\u0000\": 1}",
                                        "[[[[[[[[[[1]]]]]]]]]]",
                                        " {\"sp\" : \"a/b\"} "};
    static const char *const texts[] = {"",
                                        "plain",
                                        "tab\there",
                                        "quote\"back\\",
                                        "日本 😀",
                                        "bad \xFF\xFE utf8",
                                        "ctl \x01\x1F\x7F",
                                        "nul-free / slash",
                                        "\xC3",
                                        "line\nbreak\r\n"};
    switch (type) {
    case T_BOOL:
        return rn(2) ? "t" : "f";
    case T_INT2:
        snprintf(b, cap, "%d", (int)(int16_t)rnd());
        return b;
    case T_INT4:
        snprintf(b, cap, "%d", (int)(int32_t)rnd());
        return b;
    case T_INT8:
        snprintf(b, cap, "%lld", (long long)rnd());
        return b;
    case T_OID:
        snprintf(b, cap, "%u", (unsigned)rnd());
        return b;
    case T_FLOAT4:
    case T_FLOAT8:
        if (rn(3) == 0)
            return floats[rn(sizeof floats / sizeof floats[0])];
        snprintf(b, cap, "%.*g", type == T_FLOAT4 ? 9 : 17,
                 (double)(int64_t)rnd() / (double)(1 + rn(100000)));
        return b;
    case T_NUMERIC:
        if (rn(2) == 0)
            return numerics[rn(sizeof numerics / sizeof numerics[0])];
        snprintf(b, cap, "%lld.%02u", (long long)(int32_t)rnd(), rn(100));
        return b;
    case T_JSON:
    case T_JSONB:
        return jsons[rn(sizeof jsons / sizeof jsons[0])];
    case T_DATE:
        return rn(8) ? "2013-05-26" : "infinity";
    case T_TIMESTAMP:
        return rn(8) ? "2013-05-26 14:50:58.951" : "-infinity";
    case T_TIMESTAMPTZ:
        return rn(8) ? "2006-02-15 09:34:33+00" : "infinity";
    case T_UUID:
        return "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    case T_BYTEA:
        return "\\x0001ff";
    default:
        return texts[rn(sizeof texts / sizeof texts[0])];
    }
}

/* A random result: 1..8 columns of random types, 0..30 rows, ~10% NULLs. */
static PGresult *random_result(bool *has_json)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    int ncols = 1 + (int)rn(8), nrows = (int)rn(31);
    PGresAttDesc att[8];
    char names[8][16];
    *has_json = false;
    for (int c = 0; c < ncols; c++) {
        memset(&att[c], 0, sizeof att[c]);
        snprintf(names[c], sizeof names[c], rn(5) ? "col%d" : "c\"ol\\%d é", c);
        att[c].name = names[c];
        att[c].typid = TYPES[rn(sizeof TYPES / sizeof TYPES[0])];
        att[c].typlen = -1;
        att[c].atttypmod = -1;
        *has_json |= att[c].typid == T_JSON || att[c].typid == T_JSONB;
    }
    PQsetResultAttrs(res, ncols, att);
    char b[64];
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) {
            if (rn(10) == 0) {
                PQsetvalue(res, r, c, NULL, -1);
            } else {
                const char *v = pg_text(att[c].typid, b, sizeof b);
                PQsetvalue(res, r, c, (char *)v, (int)strlen(v));
            }
        }
    return res;
}

/* json-c's reading of a text, for comparing two texts by value */
static struct json_object *parse(const char *t)
{
    return t ? json_tokener_parse(t) : NULL;
}

/* The text the writer makes of @p r in @p shape, and the text json-c makes of the same
 * value built from fc_pg_json's objects: equal as values; equal bytes without json columns. */
static void check_result(const fc_pg_result *r, fc_pg_shape shape, int key_col, bool has_json,
                         uint64_t seed)
{
    fc_jw *w = fc_jw_new();
    int rc = fc_jw_pg(w, r, shape, key_col);
    int nrows = fc_pg_nrows(r), ncols = fc_pg_ncols(r);
    struct json_object *want = NULL;
    if (shape == FC_PG_OBJECTS) {
        want = fc_pg_json(r);
    } else if (shape == FC_PG_OBJECT) {
        if (nrows == 0) {
            CHECK_INT(rc, FC_ENOENT);
            CHECK_INT(fc_jw_error(w), 0);
            CHECK_INT(fc_jw_pending(w), 0);
            fc_jw_free(w);
            return;
        }
        want = fc_pg_row_json(r, 0);
    } else {
        want = shape == FC_PG_ARRAYS ? json_object_new_array() : json_object_new_object();
        for (int i = 0; i < nrows; i++) {
            struct json_object *row = fc_pg_row_json(r, i);
            struct json_object *v =
                shape == FC_PG_ARRAYS ? json_object_new_array() : json_object_new_object();
            for (int c = 0; c < ncols; c++) {
                struct json_object *x =
                    json_object_get(json_object_object_get(row, fc_pg_colname(r, c)));
                if (shape == FC_PG_ARRAYS)
                    json_object_array_add(v, x);
                else if (c != key_col)
                    json_object_object_add(v, fc_pg_colname(r, c), x);
                else
                    json_object_put(x);
            }
            if (shape == FC_PG_ARRAYS) {
                json_object_array_add(want, v);
            } else {
                const char *k = fc_pg_value(r, i, key_col);
                char kb[128];
                size_t kl = k ? ref_clean((const unsigned char *)k, strlen(k), kb) : 4;
                if (!k)
                    memcpy(kb, "null", 4);
                kb[kl] = '\0';
                json_object_object_add(want, kb, v);
            }
            json_object_put(row);
        }
    }
    size_t len = 0, off;
    const char *t = fc_jw_text(w, &len), *why;
    const char *jt = json_object_to_json_string_ext(want, JC_FLAGS);
    struct json_object *a = parse(t), *b = parse(jt);
    bool ok = rc == 0 && t &&
              fc__json_check_depth(t, len, FC_JW_MAX_DEPTH, false, &off, &why) == 0 &&
              json_object_equal(a, b);
    if (ok && !has_json && shape != FC_PG_KEYED)
        ok = strlen(jt) == len && memcmp(jt, t, len) == 0;
    tap_checks++;
    if (!ok) {
        tap_failed++;
        fprintf(stderr, "result (seed %llu) shape %d key %d: rc %d\n writer: %s\n json-c: %s\n",
                (unsigned long long)seed, (int)shape, key_col, rc, t ? t : "(none)", jt);
    }
    json_object_put(a);
    json_object_put(b);
    json_object_put(want);
    fc_jw_free(w);
}

static void test_results(void)
{
    for (int iter = 0; iter < 3000; iter++) {
        uint64_t seed = rng;
        bool has_json;
        PGresult *res = random_result(&has_json);
        fc_pg_result r = {res, 0, NULL, NULL};
        for (int shape = FC_PG_OBJECTS; shape <= FC_PG_KEYED; shape++)
            check_result(&r, (fc_pg_shape)shape, (int)rn((unsigned)PQnfields(res)), has_json, seed);
        PQclear(res);
    }
    /* misuse: a failed result, a bad key column, a bad shape */
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att = {.name = "a", .typid = T_INT4, .typlen = 4, .atttypmod = -1};
    PQsetResultAttrs(res, 1, &att);
    PQsetvalue(res, 0, 0, "1", 1);
    fc_pg_result ok = {res, 0, NULL, NULL}, failed = {NULL, FC_EDB, "boom", "XX000"};
    fc_jw *w = fc_jw_new();
    CHECK_INT(fc_jw_pg(w, &failed, FC_PG_OBJECTS, 0), FC_EINVAL);
    CHECK_INT(fc_jw_error(w), FC_EINVAL);
    fc_jw_free(w);
    w = fc_jw_new();
    CHECK_INT(fc_jw_pg(w, &ok, FC_PG_KEYED, 1), FC_EINVAL);
    fc_jw_free(w);
    w = fc_jw_new();
    CHECK_INT(fc_jw_pg(w, &ok, (fc_pg_shape)9, 0), FC_EINVAL);
    fc_jw_free(w);
    /* a huge first row does not make the size guess ask for rows x its size */
    PGresult *big = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc batt = {.name = "t", .typid = T_TEXT, .typlen = -1, .atttypmod = -1};
    PQsetResultAttrs(big, 1, &batt);
    size_t hugelen = (size_t)4 << 20;
    char *huge = malloc(hugelen);
    memset(huge, 'x', hugelen);
    PQsetvalue(big, 0, 0, huge, (int)hugelen);
    free(huge);
    for (int i = 1; i < 100000; i++)
        PQsetvalue(big, i, 0, "y", 1);
    fc_pg_result bigr = {big, 0, NULL, NULL};
    w = fc_jw_new();
    CHECK_INT(fc_jw_pg(w, &bigr, FC_PG_ARRAYS, 0), 0);
    CHECK_INT(fc_jw_pending(w), 2 + (hugelen + 4) + 99999 * (1 + 5));
    fc_jw_free(w);
    PQclear(big);
    /* timestamps other than DateStyle ISO's, and BC ones, stay as PostgreSQL wrote them */
    PGresult *ts = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc tatt = {.name = "ts", .typid = T_TIMESTAMP, .typlen = 8, .atttypmod = -1};
    PQsetResultAttrs(ts, 1, &tatt);
    static const char *const tsv[] = {"05/26/2013 14:50:58", "Sun May 26 14:50:58.951 2013",
                                      "0044-03-15 12:00:00 BC", "2013-05-26 14:50:58.951"};
    for (int i = 0; i < 4; i++)
        PQsetvalue(ts, i, 0, (char *)tsv[i], (int)strlen(tsv[i]));
    fc_pg_result tsr = {ts, 0, NULL, NULL};
    w = fc_jw_new();
    CHECK_INT(fc_jw_pg(w, &tsr, FC_PG_ARRAYS, 0), 0);
    CHECK_STR(text_of(w), "[[\"05/26/2013 14:50:58\"],[\"Sun May 26 14:50:58.951 2013\"],"
                          "[\"0044-03-15 12:00:00 BC\"],[\"2013-05-26T14:50:58.951\"]]");
    fc_jw_free(w);
    struct json_object *tso = fc_pg_json(&tsr);
    CHECK_STR(json_object_to_json_string_ext(tso, JC_FLAGS),
              "[{\"ts\":\"05/26/2013 14:50:58\"},{\"ts\":\"Sun May 26 14:50:58.951 2013\"},"
              "{\"ts\":\"0044-03-15 12:00:00 BC\"},{\"ts\":\"2013-05-26T14:50:58.951\"}]");
    json_object_put(tso);
    PQclear(ts);
    /* too deep in a writer for a result and its json values: refused, nothing written */
    w = fc_jw_new();
    for (int i = 0; i < FC_JW_MAX_DEPTH - 10; i++)
        fc_jw_array_begin(w);
    size_t before = fc_jw_pending(w);
    CHECK_INT(fc_jw_pg(w, &ok, FC_PG_ARRAYS, 0), FC_ERANGE);
    CHECK_INT(fc_jw_pending(w), before);
    fc_jw_free(w);
    /* inside a document, as a member */
    w = fc_jw_new();
    fc_jw_object_begin(w);
    fc_jw_key(w, "rows");
    CHECK_INT(fc_jw_pg(w, &ok, FC_PG_ARRAYS, 0), 0);
    fc_jw_key(w, "first");
    CHECK_INT(fc_jw_pg(w, &ok, FC_PG_OBJECT, 0), 0);
    fc_jw_object_end(w);
    CHECK_STR(text_of(w), "{\"rows\":[[1]],\"first\":{\"a\":1}}");
    fc_jw_free(w);
    PQclear(res);
}

/* ===== as answers ======================================================= */

static fc_pg_result *g_ok, *g_empty, *g_down;

static void h_jw(fc_request *req)
{
    fc_jw *w = fc_jw_new();
    fc_jw_object_begin(w);
    fc_jw_member_string(w, "hello", "wörld");
    if (!fc_query(req, "broken"))
        fc_jw_object_end(w);
    fc_response_jw(req, 201, w);
}

static void h_pg(fc_request *req)
{
    const char *which = fc_query(req, "which");
    const fc_pg_result *r = !which                   ? g_ok
                            : !strcmp(which, "empty") ? g_empty
                            : !strcmp(which, "null")  ? NULL
                                                      : g_down;
    fc_response_pg(req, r, FC_PG_OBJECT, 0);
}

static void test_answers(void)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK),
             *none = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att = {.name = "id", .typid = T_INT4, .typlen = 4, .atttypmod = -1};
    PQsetResultAttrs(res, 1, &att);
    PQsetResultAttrs(none, 1, &att);
    PQsetvalue(res, 0, 0, "995", 3);
    fc_pg_result ok = {res, 0, NULL, NULL}, empty = {none, 0, NULL, NULL},
                 down = {NULL, FC_EDBDOWN, "no database", "08001"};
    g_ok = &ok;
    g_empty = &empty;
    g_down = &down;

    fc_app *app = fc_app_new("jw");
    fc_app_set_json_errors(app, true);
    fc_blueprint *bp = fc_blueprint_new("j", "");
    CHECK_INT(fc_route(bp, "GET", "/jw", h_jw, "jw", 0), 0);
    CHECK_INT(fc_route(bp, "GET", "/pg", h_pg, "pg", 0), 0);
    CHECK_INT(fc_app_register(app, bp), 0);
    fc_test_response *r = fc_test_request(app, "GET", "/jw", NULL, NULL, 0);
    CHECK(r && fc_test_status(r) == 201);
    CHECK_STR(r ? fc_test_body(r, NULL) : NULL, "{\"hello\":\"wörld\"}\n");
    CHECK_STR(r ? fc_test_header(r, "Content-Type") : NULL, "application/json");
    fc_test_response_free(r);
    r = fc_test_request(app, "GET", "/jw?broken=1", NULL, NULL, 0);
    CHECK(r && fc_test_status(r) == 500);
    CHECK(r && strstr(fc_test_body(r, NULL), "JSON writer") != NULL);
    fc_test_response_free(r);
    r = fc_test_request(app, "GET", "/pg", NULL, NULL, 0);
    CHECK(r && fc_test_status(r) == 200);
    CHECK_STR(r ? fc_test_body(r, NULL) : NULL, "{\"id\":995}\n");
    fc_test_response_free(r);
    r = fc_test_request(app, "GET", "/pg?which=empty", NULL, NULL, 0);
    CHECK(r && fc_test_status(r) == 404);
    fc_test_response_free(r);
    r = fc_test_request(app, "GET", "/pg?which=null", NULL, NULL, 0); /* no result at all */
    CHECK(r && fc_test_status(r) == 500);
    fc_test_response_free(r);
    r = fc_test_request(app, "GET", "/pg?which=down", NULL, NULL, 0);
    CHECK(r && fc_test_status(r) == 503);
    CHECK(r && strstr(fc_test_body(r, NULL), "database unavailable") != NULL);
    fc_test_response_free(r);
    fc_app_free(app);
    fc_blueprint_free(bp);
    PQclear(res);
    PQclear(none);
}

int main(void)
{
    const char *s = getenv("JW_SEED");
    rng = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) * 2654435761ULL + 1;
    if (!rng)
        rng = 1;
    fprintf(stderr, "test_jw: seed %llu (replay: JW_SEED=%llu)\n", (unsigned long long)rng,
            (unsigned long long)rng);
    test_grammar();
    test_misuse();
    test_strings();
    test_numbers();
    test_drain();
    test_depth_edges();
    test_locale();
    test_json_embed();
    test_results();
    test_answers();
    TAP_DONE();
}
