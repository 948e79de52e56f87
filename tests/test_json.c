/* test_json.c — unit tests of libflaskc/json.c: request bodies as JSON
 * (what Flask's request.get_json() accepts and rejects), the RFC 8259 check
 * that runs before json-c, the depth limit, and the echo through
 * fc_response_json. */
#include "internal.h"
#include "tap.h"

#include <json-c/json.h>
#include <time.h>

static void echo(fc_request *req)
{
    json_object *o = fc_request_json(req);
    if (!o && fc_request_answered(req))
        return;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "got", json_object_get(o));
    /* the length json-c holds for a string (it may hold NUL bytes) */
    if (json_object_is_type(o, json_type_string))
        json_object_object_add(r, "len", json_object_new_int(json_object_get_string_len(o)));
    fc_response_json(req, 200, r);
}

static const char *JH[] = {"Content-Type", "application/json", NULL};

/* POST @p body (len bytes) and check the status and, when @p want is not
 * NULL, that the body contains it. */
static void post(fc_app *app, const char *body, size_t len, int status, const char *want, int line)
{
    fc_test_response *r = fc_test_request(app, "POST", "/json", JH, body, len);
    CHECK(r != NULL);
    if (!r)
        return;
    int st = fc_test_status(r);
    const char *b = fc_test_body(r, NULL);
    if (st != status || (want && !strstr(b, want))) {
        tap_failed++;
        fprintf(stderr, "%s:%d: body '%.*s': status %d (want %d), body %s (want '%s')\n", __FILE__,
                line, (int)(len > 60 ? 60 : len), body, st, status, b, want ? want : "-");
    }
    tap_checks++;
    if (status == 400)
        CHECK_STR(fc_test_header(r, "Content-Type"), "application/json");
    fc_test_response_free(r);
}
#define POST(app, lit, status, want) post(app, lit, sizeof(lit) - 1, status, want, __LINE__)

/* What Flask 3.1 answers 400 to and json-c 0.16 (even with
 * JSON_TOKENER_STRICT) accepted. */
static void test_rejected(fc_app *app)
{
    /* invalid UTF-8 inside strings (bad byte, truncated, overlong,
     * encoded surrogate, past U+10FFFF) and outside them */
    POST(app, "\"\xff\"", 400, "invalid UTF-8 at offset 1");
    POST(app, "{\"a\":\"\xc3\x28\"}", 400, "invalid UTF-8 at offset 6");
    POST(app, "[\"\xc0\x80\"]", 400, "invalid UTF-8");
    POST(app, "\"\xed\xa0\x80\"", 400, "invalid UTF-8");
    POST(app, "\"\xf4\x90\x80\x80\"", 400, "invalid UTF-8");
    POST(app, "{\"\xe2\x82\":1}", 400, "invalid UTF-8");
    POST(app, "\xff", 400, "Failed to decode JSON object");
    /* raw control characters inside strings (U+0000..U+001F) */
    POST(app, "\"a\001b\"", 400, "control character in a string at offset 2");
    POST(app, "\"tab\there\"", 400, "control character in a string");
    POST(app, "{\"a\nb\":1}", 400, "control character in a string");
    POST(app, "\"a\0b\"", 400, "control character in a string at offset 2");
    POST(app, "\"\x1f\"", 400, "control character");
    /* single quotes */
    POST(app, "{'a':1}", 400, "single-quoted string at offset 1");
    POST(app, "['a']", 400, "single-quoted string");
    /* numbers outside RFC 8259's grammar */
    POST(app, "1.", 400, "invalid number at offset 0");
    POST(app, "00", 400, "invalid number");
    POST(app, "-01", 400, "invalid number");
    POST(app, "1.e5", 400, "invalid number");
    POST(app, "01.5", 400, "invalid number");
    POST(app, "[1.]", 400, "invalid number at offset 1");
    POST(app, "{\"a\":00}", 400, "invalid number at offset 5");
    POST(app, "-", 400, "invalid number");
    POST(app, "1e", 400, "invalid number");
    POST(app, "1e+", 400, "invalid number");
    POST(app, "-a", 400, "invalid number");
    POST(app, ".5", 400, "Failed to decode JSON object");
    POST(app, "+1", 400, "Failed to decode JSON object");
    POST(app, "NaN", 400, "Failed to decode JSON object");
    POST(app, "[Infinity]", 400, "Failed to decode JSON object");
    POST(app, "-Infinity", 400, "Failed to decode JSON object");
    /* integers json-c cannot hold (it clamped them) */
    POST(app, "18446744073709551616", 400, "integer out of range at offset 0");
    POST(app, "[99999999999999999999999]", 400, "integer out of range at offset 1");
    POST(app, "-9223372036854775809", 400, "integer out of range");
    POST(app, "{\"n\":-18446744073709551615}", 400, "integer out of range at offset 5");
    /* U+0000 in a key: json-c keys are C strings, so "a\u0000" read as "a" */
    POST(app, "{\"a\\u0000\":1,\"a\":2}", 400, "U+0000 in an object key at offset 3");
    POST(app, "{\"\\u0000\":1}", 400, "U+0000 in an object key");
    /* lone surrogates: no UTF-8 for them (json-c made each one U+FFFD, so
     * {"\ud800":1,"\ud801":2} had one key) */
    POST(app, "\"\\ud800\"", 400, "lone surrogate escape at offset 1");
    POST(app, "\"x\\udc00\"", 400, "lone surrogate escape at offset 2");
    POST(app, "\"\\ud83d\\u0041\"", 400, "lone surrogate escape");
    POST(app, "\"\\ud83dx\"", 400, "lone surrogate escape");
    POST(app, "{\"\\ud800\":1,\"\\ud801\":2}", 400, "lone surrogate escape");
    /* the rest of the grammar, still 400 */
    POST(app, "[1,]", 400, "Failed to decode JSON object");
    POST(app, "{\"a\":1,}", 400, "Failed to decode JSON object");
    POST(app, "{\"a\" 1}", 400, "Failed to decode JSON object");
    POST(app, "{a:1}", 400, "Failed to decode JSON object");
    POST(app, "[1 2]", 400, "Failed to decode JSON object");
    POST(app, "\"\\x41\"", 400, "invalid escape at offset 1");
    POST(app, "\"\\u12\"", 400, "invalid escape");
    POST(app, "tRue", 400, "Failed to decode JSON object");
    POST(app, "nul", 400, "Failed to decode JSON object");
    POST(app, "[1]\0", 400, "extra data at offset 3");
    POST(app, "1 2", 400, "extra data at offset 2");
    POST(app, "\0141", 400, "Failed to decode JSON object");
    POST(app, "/*c*/1", 400, "Failed to decode JSON object");
    POST(app, "[1", 400, "unexpected end of data");
    POST(app, "\"abc", 400, "unexpected end of data");
    POST(app, " ", 400, "unexpected end of data");
    POST(app, "\xef\xbb\xbf", 400, "unexpected end of data");
}

/* What Flask accepts, and the echo fc_response_json writes of it (valid JSON). */
static void test_accepted(fc_app *app)
{
    POST(app, "{\"a\":1}", 200, "{\"got\":{\"a\":1}}\n");
    POST(app, "18446744073709551615", 200, "{\"got\":18446744073709551615}\n");
    POST(app, "-9223372036854775808", 200, "{\"got\":-9223372036854775808}\n");
    POST(app, "9223372036854775807", 200, "{\"got\":9223372036854775807}\n");
    POST(app, "-0", 200, "{\"got\":0}\n");
    POST(app, "[0,-0.5,1.5E+3,0.1e-2,1e5,2E-3]", 200,
         "{\"got\":[0,-0.5,1.5E+3,0.1e-2,1e5,2E-3]}\n");
    /* U+0000 in a value: json-c strings carry their length */
    POST(app, "\"x\\u0000y\"", 200, "{\"got\":\"x\\u0000y\",\"len\":3}\n");
    POST(app, "\"\\ud83d\\ude00\"", 200, "{\"got\":\"\xf0\x9f\x98\x80\",\"len\":4}\n");
    POST(app, "\"\\u00e9\\/\\b\\f\\n\\r\\t\\\"\\\\\"", 200, "\"len\":10}\n");
    POST(app, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"", 200, "\"len\":10}\n");
    POST(app, " \t\r\n[ 1 , { \"a\" : [ ] } ] \r\n", 200, "{\"got\":[1,{\"a\":[]}]}\n");
    POST(app, "{\"a\":1,\"a\":2}", 200, "{\"got\":{\"a\":2}}\n");
    POST(app, "{\"\":0}", 200, "{\"got\":{\"\":0}}\n");
    POST(app, "[true,false,null]", 200, "{\"got\":[true,false,null]}\n");
    /* a UTF-8 byte order mark (RFC 8259 8.1 lets a parser ignore it; Flask does) */
    POST(app, "\xef\xbb\xbf{\"b\":[]}", 200, "{\"got\":{\"b\":[]}}\n");
}

/* Escaped surrogate pairs: json-c 0.16 read the 32768 whose code point ends
 * in D800..DFFF (U+1D800..U+1DFFF ... U+10D800..U+10DFFF) as U+FFFD. */
static void test_pairs(fc_app *app)
{
    POST(app, "\"\\ud836\\udc00\"", 200, "{\"got\":\"\xf0\x9d\xa0\x80\",\"len\":4}\n");
    POST(app, "{\"\\uD877\\uDFFF\":\"\\udbf7\\udc00x\"}", 200,
         "{\"got\":{\"\xf0\xad\xbf\xbf\":\"\xf4\x8d\xb0\x80x\"}}\n");
    /* an escaped backslash before "ud836" is no escape; one before a pair is */
    POST(app, "[\"\\\\\\ud836\\udc00\",\"\\\\ud836\",\"\\\"\\ud836\\udfff\"]", 200,
         "{\"got\":[\"\\\\\xf0\x9d\xa0\x80\",\"\\\\ud836\",\"\\\"\xf0\x9d\xaf\xbf\"]}\n");
    POST(app, "\"\\\\ud836\\udc00\"", 400, "lone surrogate escape at offset 8");
    int bad = 0;
    for (int hi = 0xD800; hi <= 0xDBFF; hi++) {
        int low6 = hi & 0x3F;
        if (low6 < 0x35 || low6 > 0x38)
            continue; /* the affected ones (36, 37) and their neighbours */
        static const int lows[] = {0xDC00, 0xDE5A, 0xDFFF};
        for (size_t k = 0; k < 3; k++) {
            char body[32], want[64];
            unsigned cp = 0x10000u + ((unsigned)(hi - 0xD800) << 10) + (unsigned)(lows[k] - 0xDC00);
            snprintf(body, sizeof(body), "\"\\u%04X\\u%04x\"", (unsigned)hi, (unsigned)lows[k]);
            snprintf(want, sizeof(want), "{\"got\":\"%c%c%c%c\",\"len\":4}\n", 0xF0 | (cp >> 18),
                     0x80 | ((cp >> 12) & 0x3F), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F));
            fc_test_response *r = fc_test_request(app, "POST", "/json", JH, body, strlen(body));
            if (!r || fc_test_status(r) != 200 || strcmp(fc_test_body(r, NULL), want) != 0) {
                bad++;
                fprintf(stderr, "%s: U+%X read as %s\n", body, cp, r ? fc_test_body(r, NULL) : "-");
            }
            fc_test_response_free(r);
        }
    }
    CHECK_INT(bad, 0);
}

/* json-c's depth limit, kept: a value may sit at depth 64 at most (the top
 * value is at depth 1). */
static void test_depth(fc_app *app)
{
    char b[400];
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        b[n++] = '[';
    for (int i = 0; i < 64; i++)
        b[n++] = ']';
    post(app, b, n, 200, NULL, __LINE__);
    n = 0;
    for (int i = 0; i < 65; i++)
        b[n++] = '[';
    for (int i = 0; i < 65; i++)
        b[n++] = ']';
    post(app, b, n, 400, "nesting too deep at offset 64", __LINE__);
    n = 0;
    for (int i = 0; i < 64; i++)
        b[n++] = '[';
    b[n++] = '1';
    for (int i = 0; i < 64; i++)
        b[n++] = ']';
    post(app, b, n, 400, "nesting too deep at offset 64", __LINE__);
    /* objects: 63 levels and a number is fine, 64 is not */
    n = 0;
    for (int i = 0; i < 63; i++) {
        memcpy(b + n, "{\"\":", 4);
        n += 4;
    }
    b[n++] = '1';
    for (int i = 0; i < 63; i++)
        b[n++] = '}';
    post(app, b, n, 200, NULL, __LINE__);
}

/* fc__json_check alone: offsets and reasons, the container stack. */
static int check(const char *s, size_t n, size_t *off, const char **why)
{
    *off = (size_t)-1;
    *why = NULL;
    return fc__json_check(s, n, off, why);
}
#define OK(lit) CHECK_INT(check(lit, sizeof(lit) - 1, &off, &why), 0)
#define BAD(lit, at, reason)                                                                       \
    do {                                                                                           \
        CHECK_INT(check(lit, sizeof(lit) - 1, &off, &why), FC_ERANGE);                             \
        CHECK_INT(off, at);                                                                        \
        CHECK_STR(why, reason);                                                                    \
    } while (0)

static void test_check(void)
{
    size_t off;
    const char *why;
    OK("[{\"a\":[{\"b\":1}]},2]");
    OK("{\"a\":[1,{\"b\":[]}],\"c\":{}}");
    OK("[[],{},[[]],{\"\":{\"\":[]}}]");
    OK("\"\\u0000\"");
    OK("{\"k\":\"\\u0000\"}");
    OK("\"\\uD83D\\uDE00\\uFFFF\\uE000\\uD7FF\"");
    OK("0");
    OK("-0.0e-0");
    OK("1E+2");
    BAD("[}", 1, "unexpected character");
    BAD("{]", 1, "object key expected");
    BAD("{\"a\":1]", 6, "',' or '}' expected");
    BAD("[1}", 2, "',' or ']' expected");
    BAD("[{\"a\":[1}]}", 8, "',' or ']' expected");
    BAD("{\"a\":[1]]", 8, "',' or '}' expected");
    BAD("[1,2]]", 5, "extra data");
    BAD("{\"a\"}", 4, "':' expected");
    BAD("{\"a\"", 4, "unexpected end of data");
    BAD("{\"a\":", 5, "unexpected end of data");
    BAD("[", 1, "unexpected end of data");
    BAD("", 0, "unexpected end of data");
    BAD("\"\\u12", 5, "unexpected end of data");
    BAD("\"\\", 2, "unexpected end of data");
    BAD("\"\\uD800\\u", 1, "lone surrogate escape");
    BAD("\"\\uDBFF\\uDBFF\"", 1, "lone surrogate escape");
    BAD("\"\\u00G0\"", 1, "invalid escape");
    BAD("\"\\U0041\"", 1, "invalid escape");
    BAD("tru", 3, "unexpected end of data");
    BAD("trux", 0, "invalid literal");
    BAD("nulls", 4, "extra data");
    BAD("x", 0, "unexpected character");
    BAD("1x", 1, "extra data");
    BAD("-9223372036854775809", 0, "integer out of range");
    BAD("18446744073709551616", 0, "integer out of range");
    BAD("100000000000000000000", 0, "integer out of range");
    OK("-9223372036854775808");
    OK("18446744073709551615");
    OK("100000000000000000000.0");
    OK("1e400");
    BAD("[\"a\",'b']", 5, "single-quoted string");
    BAD("{\"a\":1,'b':2}", 7, "single-quoted string");
    BAD("\"\x80\"", 1, "invalid UTF-8");
    BAD("\"\xe2\x82\"", 1, "invalid UTF-8");
    BAD("\"a\x7f\x1f\"", 3, "control character in a string");
    {
        static const char nul[] = "[\"a\0\"]";
        CHECK_INT(check(nul, sizeof(nul) - 1, &off, &why), FC_ERANGE);
        CHECK_INT(off, 3);
        CHECK_STR(why, "control character in a string");
    }

    /* big inputs: linear, no recursion (a stack overflow or a quadratic
     * scan would show here) */
    size_t n = 8u << 20;
    char *b = malloc(n);
    CHECK(b != NULL);
    if (!b)
        return;
    memset(b, '[', n);
    CHECK_INT(check(b, n, &off, &why), FC_ERANGE);
    CHECK_INT(off, 64);
    CHECK_STR(why, "nesting too deep");
    b[0] = '[';
    for (size_t i = 1; i + 1 < n; i += 2) {
        b[i] = '1';
        b[i + 1] = ',';
    }
    b[n - 2] = '1';
    b[n - 1] = ']';
    clock_t t0 = clock();
    CHECK_INT(check(b, n, &off, &why), 0);
    b[0] = '"';
    memset(b + 1, 'a', n - 2);
    b[n - 1] = '"';
    CHECK_INT(check(b, n, &off, &why), 0);
    for (size_t i = 1; i + 6 < n; i += 6)
        memcpy(b + i, "\\u00e9", 6);
    CHECK_INT(check(b, n, &off, &why), 0);
    CHECK(clock() - t0 < 2 * CLOCKS_PER_SEC);
    free(b);
}

/* Random edits of valid documents: whatever the check lets through, json-c
 * (strict) reads, and fc_response_json's text of it passes the check again. */
static void test_mutations(void)
{
    static const char *const docs[] = {
        "{\"a\":[1,-2.5e3,true,null],\"b\":{\"c\":\"x\\u00e9\\n\"},\"d\":\"\xc3\xa9\"}",
        "[18446744073709551615,-9223372036854775808,0,\"\\ud83d\\ude00\",[],{}]",
        "  {\"\":{\"\":[false,\"\\\"\"]}} ",
    };
    static const char alphabet[] = "{}[]\",:\\u0123456789eE.-+ntfalsr'\x80\xc3\xff\x01 ";
    unsigned long long seed = 0x2545F4914F6CDD1Dull;
    int bad = 0, ok = 0;
    for (int iter = 0; iter < 30000; iter++) {
        const char *d = docs[iter % 3];
        size_t n = strlen(d);
        char p[128];
        memcpy(p, d, n);
        int edits = 1 + iter % 3;
        for (int e = 0; e < edits; e++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(seed >> 33) % n;
            p[pos] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
            if ((seed >> 61) == 0)
                n = pos + 1;
        }
        size_t off;
        const char *why;
        if (check(p, n, &off, &why) != 0) {
            if (off > n || !why)
                bad++;
            continue;
        }
        ok++;
        json_tokener *tok = json_tokener_new_ex(64);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        char z[129];
        memcpy(z, p, n);
        z[n] = '\0';
        json_object *o = json_tokener_parse_ex(tok, z, (int)n + 1);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            bad++;
            fprintf(stderr, "json-c refused '%.*s': %s\n", (int)n, p,
                    json_tokener_error_desc(json_tokener_get_error(tok)));
        } else {
            size_t len = 0;
            const char *out = json_object_to_json_string_length(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
            if (check(out, len, &off, &why) != 0) {
                bad++;
                fprintf(stderr, "echo of '%.*s' is not JSON: '%s' (%s)\n", (int)n, p, out, why);
            }
        }
        json_object_put(o);
        json_tokener_free(tok);
    }
    CHECK_INT(bad, 0);
    CHECK(ok > 1000);
}

int main(void)
{
    fc_app *app = fc_app_new("json");
    CHECK(app != NULL);
    fc_app_set_max_body(app, 4 << 20);
    fc_blueprint *bp = fc_blueprint_new("j", "");
    CHECK_INT(fc_route(bp, "POST", "/json", echo, "echo", 0), 0);
    CHECK_INT(fc_app_register(app, bp), 0);
    test_rejected(app);
    test_accepted(app);
    test_pairs(app);
    test_depth(app);
    fc_app_free(app);
    test_check();
    test_mutations();
    fc_blueprint_free(bp);
    TAP_DONE();
}
