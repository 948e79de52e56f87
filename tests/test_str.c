/* test_str.c — unit tests of libflaskc/str.c and http.c: buffers, multi-maps, percent
 * coding, query and cookie parsing, escaping, content types, dates, statuses. */
#include "internal.h"
#include "tap.h"

#include <limits.h>

static fc__arena *A;

static void test_buf(void)
{
    fc__buf b = {0};
    CHECK_STR(fc__buf_cstr(&b), "");
    CHECK(b.data != NULL);
    CHECK_INT(b.len, 0);
    CHECK_INT(fc__buf_append(&b, "ab", 2), 0);
    CHECK_INT(fc__buf_puts(&b, "cd"), 0);
    CHECK_INT(fc__buf_printf(&b, "-%d-%s", 42, "x"), 0);
    CHECK_STR(b.data, "abcd-42-x");
    CHECK_INT(b.len, 9);
    CHECK_INT(fc__buf_append(&b, "\0z", 2), 0);
    CHECK_INT(b.len, 11);
    CHECK(b.data[9] == '\0' && b.data[10] == 'z' && b.data[11] == '\0');
    fc__buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

    /* growth: many small appends stay NUL-terminated, capacity grows geometrically */
    size_t reallocs = 0, lastcap = 0;
    for (int i = 0; i < 100000; i++) {
        if (fc__buf_append(&b, "0123456789", 10) != 0)
            break;
        if (b.cap != lastcap) {
            reallocs++;
            lastcap = b.cap;
        }
    }
    CHECK_INT(b.len, 1000000);
    CHECK(b.cap > b.len);
    CHECK(b.data[b.len] == '\0');
    CHECK(reallocs < 40);
    CHECK(memcmp(b.data + 999990, "0123456789", 10) == 0);
    fc__buf_free(&b);

    /* printf longer than the initial capacity */
    char big[1000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(fc__buf_puts(&b, "<"), 0);
    CHECK_INT(fc__buf_printf(&b, "%s>%s", big, big), 0);
    CHECK_INT(b.len, 1 + 999 + 1 + 999);
    CHECK(b.data[1000] == '>' && b.data[1] == 'q' && b.data[b.len - 1] == 'q');
    CHECK(b.data[b.len] == '\0');
    fc__buf_free(&b);
    fc__buf_free(&b); /* twice is harmless */
}

static void test_kv(void)
{
    fc__kvlist l = {0};
    CHECK(fc__kv_get(&l, "a") == NULL);
    CHECK_INT(fc__kv_add(&l, A, "a", "1", 1), 0);
    CHECK_INT(fc__kv_add(&l, A, "B", "2", 1), 0);
    CHECK_INT(fc__kv_add(&l, A, "a", "3", 1), 0);
    CHECK_STR(fc__kv_get(&l, "a"), "1");
    CHECK(fc__kv_get(&l, "b") == NULL);
    CHECK_STR(fc__kv_get_ci(&l, "b"), "2");
    CHECK_STR(fc__kv_get_ci(&l, "A"), "1");
    size_t n = 99;
    const char *const *v = fc__kv_list(&l, A, "a", &n);
    CHECK_INT(n, 2);
    CHECK(v && !strcmp(v[0], "1") && !strcmp(v[1], "3") && v[2] == NULL);
    v = fc__kv_list(&l, A, "zz", &n);
    CHECK(v == NULL);
    CHECK_INT(n, 0);

    /* growth past 1000 items keeps order and contents */
    fc__kvlist g = {0};
    char *keys[2500];
    for (int i = 0; i < 2500; i++) {
        char tmp[16];
        snprintf(tmp, sizeof(tmp), "k%d", i);
        keys[i] = fc__arena_strdup(A, tmp);
        CHECK_INT(fc__kv_add(&g, A, keys[i], keys[i], strlen(keys[i])), 0);
    }
    CHECK_INT(g.n, 2500);
    CHECK(g.cap >= 2500);
    int bad = 0;
    for (int i = 0; i < 2500; i++)
        if (g.items[i].key != keys[i] || g.items[i].vlen != strlen(keys[i]))
            bad++;
    CHECK_INT(bad, 0);
    CHECK_STR(fc__kv_get(&g, "k1999"), "k1999");
    CHECK_STR(fc__kv_get(&g, "k0"), "k0");
}

static void test_percent(void)
{
    struct {
        const char *in, *out_plus, *out_noplus;
    } cases[] = {
        {"", "", ""},
        {"%", "%", "%"},
        {"%4", "%4", "%4"},
        {"%zz", "%zz", "%zz"},
        {"%41", "A", "A"},
        {"%4a%4A", "JJ", "JJ"},
        {"a+b", "a b", "a+b"},
        {"%2B+", "+ ", "++"},
        {"100%", "100%", "100%"},
        {"%%41", "%A", "%A"},
        {"%G1%1G", "%G1%1G", "%G1%1G"},
        {"x+y%20z%26", "x y z&", "x+y z&"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        size_t len = strlen(cases[i].in);
        memcpy(buf, cases[i].in, len + 1);
        size_t n = fc__percent_decode(buf, len, true);
        CHECK_STR(buf, cases[i].out_plus);
        CHECK_INT(n, strlen(cases[i].out_plus));
        memcpy(buf, cases[i].in, len + 1);
        n = fc__percent_decode(buf, len, false);
        CHECK_STR(buf, cases[i].out_noplus);
        CHECK_INT(n, strlen(cases[i].out_noplus));
    }
    /* %00 gives a NUL byte inside the length */
    char z[] = "a%00b";
    CHECK_INT(fc__percent_decode(z, 5, false), 3);
    CHECK(z[0] == 'a' && z[1] == '\0' && z[2] == 'b' && z[3] == '\0');
    /* a length shorter than the string: a split escape stays literal */
    char s2[] = "%41%42";
    CHECK_INT(fc__percent_decode(s2, 5, false), 3);
    CHECK_STR(s2, "A%4");

    fc__buf b = {0};
    CHECK_INT(fc__url_encode(&b, "aZ09-._~ /?&=é", strlen("aZ09-._~ /?&=é"), NULL, false), 0);
    CHECK_STR(b.data, "aZ09-._~%20%2F%3F%26%3D%C3%A9");
    b.len = 0;
    CHECK_INT(fc__url_encode(&b, "a b/c", 5, "/", true), 0);
    CHECK_STR(b.data, "a+b/c");
    b.len = 0;
    CHECK_INT(fc__url_encode(&b, "", 0, NULL, false), 0);
    CHECK_STR(fc__buf_cstr(&b), "");
    CHECK_INT(fc__url_encode(&b, "x\0y", 3, "", false), 0);
    CHECK_STR(b.data, "x%00y");
    b.len = 0;
    CHECK_INT(fc__url_encode(&b, "\xff", 1, NULL, false), 0);
    CHECK_STR(b.data, "%FF");
    fc__buf_free(&b);
}

static const fc__kv *kv_at(const fc__kvlist *l, size_t i)
{
    return i < l->n ? &l->items[i] : NULL;
}

#define CHECK_KV(l, i, k, v)                                                   \
    do {                                                                       \
        const fc__kv *kv_ = kv_at(l, i);                                       \
        CHECK(kv_ != NULL);                                                    \
        CHECK_STR(kv_ ? kv_->key : NULL, k);                                   \
        CHECK_STR(kv_ ? kv_->value : NULL, v);                                 \
        CHECK_INT(kv_ ? kv_->vlen : 9999, strlen(v));                          \
    } while (0)

static fc__kvlist qparse(const char *qs)
{
    fc__kvlist l = {0};
    CHECK_INT(fc__query_parse(qs, strlen(qs), A, &l), 0);
    return l;
}

static void test_query(void)
{
    fc__kvlist l = qparse("a=1&a=2&b=3"); /* W20 */
    CHECK_INT(l.n, 3);
    CHECK_KV(&l, 0, "a", "1");
    CHECK_KV(&l, 1, "a", "2");
    CHECK_KV(&l, 2, "b", "3");
    CHECK_STR(fc__kv_get(&l, "a"), "1");

    l = qparse("a=&b"); /* W21 */
    CHECK_INT(l.n, 2);
    CHECK_KV(&l, 0, "a", "");
    CHECK_KV(&l, 1, "b", "");

    l = qparse("a=x+y%20z%26"); /* W22 */
    CHECK_INT(l.n, 1);
    CHECK_KV(&l, 0, "a", "x y z&");

    l = qparse("a=1;b=2"); /* W23 */
    CHECK_INT(l.n, 1);
    CHECK_KV(&l, 0, "a", "1;b=2");

    l = qparse("a=%zz&b=%FF&c=%C3%A9&d=%ff%41&e=%"); /* invalid stays literal */
    CHECK_INT(l.n, 5);
    CHECK_KV(&l, 0, "a", "%zz");
    CHECK_KV(&l, 1, "b", "%FF");
    CHECK_KV(&l, 2, "c", "\xc3\xa9");
    CHECK_KV(&l, 3, "d", "%FFA");
    CHECK_KV(&l, 4, "e", "%");

    l = qparse("&&x=1&&=v&=&y=a=b&");
    CHECK_INT(l.n, 4);
    CHECK_KV(&l, 0, "x", "1");
    CHECK_KV(&l, 1, "", "v");
    CHECK_KV(&l, 2, "", "");
    CHECK_KV(&l, 3, "y", "a=b");

    l = qparse("k%20+x=v%00w");
    CHECK_INT(l.n, 1);
    CHECK_STR(l.items[0].key, "k  x");
    /* a NUL would cut the value as a C string: %00 stays encoded */
    CHECK_STR(l.items[0].value, "v%00w");
    CHECK_INT(l.items[0].vlen, 5);

    l = qparse("");
    CHECK_INT(l.n, 0);

    /* a length shorter than the string is respected */
    fc__kvlist m = {0};
    CHECK_INT(fc__query_parse("a=1&b=2", 3, A, &m), 0);
    CHECK_INT(m.n, 1);
    CHECK_KV(&m, 0, "a", "1");
    /* appends to an existing list */
    CHECK_INT(fc__query_parse("c=3", 3, A, &m), 0);
    CHECK_INT(m.n, 2);
    CHECK_KV(&m, 1, "c", "3");
}

static fc__kvlist cparse(const char *h)
{
    fc__kvlist l = {0};
    CHECK_INT(fc__cookies_parse(h, A, &l), 0);
    return l;
}

static void test_cookies(void)
{
    fc__kvlist l = cparse("a=1; b=2");
    CHECK_INT(l.n, 2);
    CHECK_KV(&l, 0, "a", "1");
    CHECK_KV(&l, 1, "b", "2");

    l = cparse("  a = 1 ;b=\"x y; z\"  ;; noeq; c=;  =skip; d=\"q\\\"u\\\\o\\073\"");
    CHECK_INT(l.n, 4);
    CHECK_KV(&l, 0, "a", "1");
    CHECK_KV(&l, 1, "b", "x y; z");
    CHECK_KV(&l, 2, "c", "");
    CHECK_KV(&l, 3, "d", "q\"u\\o;");

    /* unquoted values as they are (Werkzeug 3): no percent-decoding */
    l = cparse("s=a%20b%3B%25; t=100%; u=%FF; v=x+y");
    CHECK_INT(l.n, 4);
    CHECK_KV(&l, 0, "s", "a%20b%3B%25");
    CHECK_KV(&l, 1, "t", "100%");
    CHECK_KV(&l, 2, "u", "%FF");
    CHECK_KV(&l, 3, "v", "x+y");
    /* bytes that are not UTF-8 (raw, or from an octal escape) become %XX */
    l = cparse("r=a\xff" "b; q=\"\\377\"");
    CHECK_INT(l.n, 2);
    CHECK_KV(&l, 0, "r", "a%FFb");
    CHECK_KV(&l, 1, "q", "%FF");

    l = cparse("");
    CHECK_INT(l.n, 0);
    l = cparse("lonely");
    CHECK_INT(l.n, 0);
    fc__kvlist n = {0};
    CHECK_INT(fc__cookies_parse(NULL, A, &n), 0);
    CHECK_INT(n.n, 0);

    /* an unterminated quote is taken literally */
    l = cparse("a=\"open; b=2");
    CHECK_INT(l.n, 2);
    CHECK_KV(&l, 0, "a", "\"open");
    CHECK_KV(&l, 1, "b", "2");
    /* a quoted value followed by junk is not a quoted value */
    l = cparse("a=\"x\"y; b=\"\"");
    CHECK_INT(l.n, 2);
    CHECK_KV(&l, 0, "a", "\"x\"y");
    CHECK_KV(&l, 1, "b", "");
    /* Werkzeug's _cookie_re: no quoted value when the closing quote is
     * escaped, so the value runs to ';' and, as it begins and ends with '"',
     * loses them and its escapes: '"\"' reads '\', '"x\"' reads 'x\' */
    l = cparse("a=\"x\\\"");
    CHECK_INT(l.n, 1);
    CHECK_KV(&l, 0, "a", "x\\");
    l = cparse("e=\"\\\"; f=\"x\\\"; b=2");
    CHECK_INT(l.n, 3);
    CHECK_KV(&l, 0, "e", "\\");
    CHECK_KV(&l, 1, "f", "x\\");
    CHECK_KV(&l, 2, "b", "2");
    /* a quote inside such a value: '"x"y"' reads 'x"y'; a quoted value is
     * one only when ';' or the end follows it ('"x;y"z' splits at ';') */
    l = cparse("a=\"x\"y\"; b=\"x;y\"z; c=1");
    CHECK_INT(l.n, 3);
    CHECK_KV(&l, 0, "a", "x\"y");
    CHECK_KV(&l, 1, "b", "\"x");
    CHECK_KV(&l, 2, "c", "1"); /* 'y"z' has no '=' */
    /* a lone quote, also at the end of the header (libmicrohttpd 0.9.75's
     * own parser failed there) */
    l = cparse("e=\"");
    CHECK_INT(l.n, 1);
    CHECK_KV(&l, 0, "e", "\"");
    /* Python's strip(): \v \f \x1c and Unicode spaces go, from names too */
    l = cparse("\xe2\x80\x83 n \xe2\x80\x83=\v\"\\101\"\x1c; z=\xc2\xa0\"x\"\xe3\x80\x80");
    CHECK_INT(l.n, 2);
    CHECK_KV(&l, 0, "n", "A");
    CHECK_KV(&l, 1, "z", "x");

    /* what fc__cookie_format writes, fc__cookies_parse reads back */
    const char *vals[] = {"plain", "a b", "semi;colon", "q\"uote", "back\\slash", "pct%41",
                          "comma,", "\x01\x7f\tctl", "caf\xc3\xa9", ""};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        fc__buf b = {0};
        CHECK_INT(fc__cookie_format(&b, "k", vals[i], NULL, 0), 0);
        const char *semi = strstr(b.data, "; Path=/");
        CHECK(semi != NULL);
        char *pair = fc__arena_strndup(A, b.data, semi ? (size_t)(semi - b.data) : 0);
        fc__kvlist r = cparse(pair);
        CHECK_INT(r.n, 1);
        CHECK_STR(r.n ? r.items[0].value : NULL, vals[i]);
        fc__buf_free(&b);
    }
}

static void test_cookie_format(void)
{
    const long long now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    fc__buf b = {0};
    fc_cookie_opts o = FC_COOKIE_OPTS_DEFAULT;
    o.max_age = 60;
    o.http_only = true;
    o.same_site = FC_SAMESITE_LAX;
    CHECK_INT(fc__cookie_format(&b, "k", "v", &o, now), 0); /* W49 */
    CHECK_STR(b.data, "k=v; Expires=Tue, 14 Nov 2023 22:14:20 GMT; Max-Age=60; HttpOnly; "
                      "Path=/; SameSite=Lax");

    b.len = 0;
    fc_cookie_opts all = {3600, "/app", "example.com", true, true, FC_SAMESITE_STRICT};
    CHECK_INT(fc__cookie_format(&b, "sid", "abc", &all, now), 0);
    CHECK_STR(b.data, "sid=abc; Domain=example.com; Expires=Tue, 14 Nov 2023 23:13:20 GMT; "
                      "Max-Age=3600; Secure; HttpOnly; Path=/app; SameSite=Strict");

    b.len = 0;
    CHECK_INT(fc__cookie_format(&b, "s", "x", NULL, now), 0);
    CHECK_STR(b.data, "s=x; Path=/");

    /* delete: Max-Age=0 with the epoch, like Flask's delete_cookie */
    b.len = 0;
    fc_cookie_opts del = FC_COOKIE_OPTS_DEFAULT;
    del.max_age = 0;
    CHECK_INT(fc__cookie_format(&b, "c", "", &del, now), 0);
    CHECK_STR(b.data, "c=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/");

    b.len = 0;
    fc_cookie_opts none = FC_COOKIE_OPTS_DEFAULT;
    none.same_site = FC_SAMESITE_NONE;
    none.secure = true;
    CHECK_INT(fc__cookie_format(&b, "n", NULL, &none, now), 0);
    CHECK_STR(b.data, "n=; Secure; Path=/; SameSite=None");

    /* as Werkzeug's dump_cookie: other values quoted, with backslash and
     * octal escapes (python3 -c 'from werkzeug.http import dump_cookie; ...') */
    b.len = 0;
    CHECK_INT(fc__cookie_format(&b, "v", "a b\"c,d;e\\f%g\x01h\xc3\xa9~!#", NULL, now), 0);
    CHECK_STR(b.data, "v=\"a b\\\"c\\054d\\073e\\\\f%g\\001h\\303\\251~!#\"; Path=/");
    b.len = 0;
    CHECK_INT(fc__cookie_format(&b, "p", "x%20y_(1)[2]{3}", NULL, now), 0);
    CHECK_STR(b.data, "p=x%20y_(1)[2]{3}; Path=/");

    /* bad names and attributes are refused, the buffer is left alone */
    b.len = 0;
    CHECK_INT(fc__buf_puts(&b, "keep"), 0);
    CHECK_INT(fc__cookie_format(&b, "a b", "v", NULL, now), FC_EINVAL);
    CHECK_INT(fc__cookie_format(&b, "", "v", NULL, now), FC_EINVAL);
    CHECK_INT(fc__cookie_format(&b, "a;b", "v", NULL, now), FC_EINVAL);
    CHECK_INT(fc__cookie_format(&b, "a=b", "v", NULL, now), FC_EINVAL);
    fc_cookie_opts badp = FC_COOKIE_OPTS_DEFAULT;
    badp.path = "/x;y";
    CHECK_INT(fc__cookie_format(&b, "a", "v", &badp, now), FC_EINVAL);
    badp.path = "/x\r\nSet-Cookie: evil";
    CHECK_INT(fc__cookie_format(&b, "a", "v", &badp, now), FC_EINVAL);
    fc_cookie_opts badd = FC_COOKIE_OPTS_DEFAULT;
    badd.domain = "a.com\n";
    CHECK_INT(fc__cookie_format(&b, "a", "v", &badd, now), FC_EINVAL);
    CHECK_STR(b.data, "keep");
    CHECK_INT(b.len, 4);

    /* a huge max_age does not overflow: Expires is clamped */
    b.len = 0;
    fc_cookie_opts huge = FC_COOKIE_OPTS_DEFAULT;
    huge.max_age = LLONG_MAX;
    CHECK_INT(fc__cookie_format(&b, "h", "1", &huge, now), 0);
    CHECK(strstr(b.data, "Expires=Fri, 31 Dec 9999 23:59:59 GMT") != NULL);
    fc__buf_free(&b);
}

static void test_dates_status(void)
{
    char d[30];
    fc__http_date(0, d);
    CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    fc__http_date(784111777, d); /* RFC 7231's example */
    CHECK_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    fc__http_date(951782400, d); /* leap day 2000 */
    CHECK_STR(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    fc__http_date(-5, d);
    CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    fc__http_date(LLONG_MAX, d);
    CHECK_STR(d, "Fri, 31 Dec 9999 23:59:59 GMT");
    CHECK_INT(strlen(d), 29);

    CHECK_STR(fc__status_phrase(200), "OK");
    CHECK_STR(fc__status_phrase(404), "Not Found");
    CHECK_STR(fc__status_phrase(418), "I'm a teapot");
    CHECK_STR(fc__status_phrase(308), "Permanent Redirect");
    CHECK_STR(fc__status_phrase(413), "Request Entity Too Large");
    CHECK_STR(fc__status_phrase(416), "Requested Range Not Satisfiable");
    CHECK_STR(fc__status_phrase(431), "Request Header Fields Too Large");
    CHECK_STR(fc__status_phrase(451), "Unavailable For Legal Reasons");
    CHECK_STR(fc__status_phrase(504), "Gateway Timeout");
    CHECK_STR(fc__status_phrase(500), "Internal Server Error");
    CHECK_STR(fc__status_phrase(405), "Method Not Allowed");
    CHECK_STR(fc__status_phrase(415), "Unsupported Media Type");
    CHECK_STR(fc__status_phrase(103), "Early Hints");
    CHECK_STR(fc__status_phrase(511), "Network Authentication Failed");
    CHECK_STR(fc__status_phrase(299), "Unknown");
    CHECK_STR(fc__status_phrase(-1), "Unknown");
    /* every registered code from 100 to 599 has a phrase other than "Unknown" */
    static const int known[] = {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207,
                                208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401,
                                402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413,
                                414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428,
                                429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508,
                                510, 511};
    int unknown = 0;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(fc__status_phrase(known[i]), "Unknown"))
            unknown++;
    CHECK_INT(unknown, 0);
}

static void test_escape(void)
{
    fc__buf b = {0};
    CHECK_INT(fc__json_escape(&b, "a\"b\\c/d\n\r\t\b\f\x01\x1f\x7f\xc3\xa9"), 0);
    CHECK_STR(b.data, "\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\xc3\xa9\"");
    b.len = 0;
    CHECK_INT(fc__json_escape(&b, ""), 0);
    CHECK_STR(b.data, "\"\"");
    b.len = 0;
    CHECK_INT(fc__json_escape(&b, "plain"), 0);
    CHECK_STR(b.data, "\"plain\"");
    b.len = 0;
    CHECK_INT(fc__html_escape(&b, "<a href=\"x?a=1&b='2'\">"), 0);
    CHECK_STR(b.data, "&lt;a href=&#34;x?a=1&amp;b=&#39;2&#39;&#34;&gt;");
    b.len = 0;
    CHECK_INT(fc__html_escape(&b, "I'm a teapot"), 0);
    CHECK_STR(b.data, "I&#39;m a teapot");
    b.len = 0;
    CHECK_INT(fc__html_escape(&b, ""), 0);
    CHECK_STR(fc__buf_cstr(&b), "");
    CHECK_INT(b.len, 0);
    fc__buf_free(&b);
}

static void test_predicates(void)
{
    CHECK(fc__header_value_ok("text/html; charset=utf-8"));
    CHECK(fc__header_value_ok(""));
    CHECK(!fc__header_value_ok("a\r\nb"));
    CHECK(!fc__header_value_ok("a\nb"));
    CHECK(!fc__header_value_ok("a\r"));
    CHECK(!fc__header_value_ok(NULL));

    CHECK(fc__token_ok("Content-Type"));
    CHECK(fc__token_ok("X-!#$%&'*+-.^_`|~09"));
    CHECK(!fc__token_ok(""));
    CHECK(!fc__token_ok(NULL));
    CHECK(!fc__token_ok("a b"));
    CHECK(!fc__token_ok("a:b"));
    CHECK(!fc__token_ok("a\"b"));
    CHECK(!fc__token_ok("caf\xc3\xa9"));

    CHECK_INT(fc__strcasecmp("Content-TYPE", "content-type"), 0);
    CHECK(fc__strcasecmp("a", "b") < 0);
    CHECK(fc__strcasecmp("b", "A") > 0);
    CHECK(fc__strcasecmp("ab", "a") > 0);
    CHECK(fc__strcasecmp("", "a") < 0);
    CHECK_INT(fc__strncasecmp("HELLO world", "hello WORLD!", 11), 0);
    CHECK(fc__strncasecmp("HELLO world", "hello WORLD!", 12) != 0);
    CHECK_INT(fc__strncasecmp("abc", "abd", 2), 0);
    CHECK_INT(fc__strncasecmp("x", "y", 0), 0);
    CHECK_INT(fc__strncasecmp("ab", "AB", 10), 0);
}

static void test_utf8(void)
{
#define U(s, ok) CHECK(fc__utf8_valid(s, sizeof(s) - 1) == (ok))
    U("", true);
    U("ascii", true);
    U("caf\xc3\xa9", true);
    U("\xe2\x82\xac", true);          /* € */
    U("\xf0\x9f\x98\x80", true);      /* 😀 */
    U("\xf4\x8f\xbf\xbf", true);      /* U+10FFFF */
    U("\xed\x9f\xbf", true);          /* U+D7FF */
    U("\xee\x80\x80", true);          /* U+E000 */
    U("\xc2\x80", true);              /* U+0080 */
    U("a\0b", true);                  /* NUL is a valid code point */
    U("\xff", false);
    U("\xfe", false);
    U("\x80", false);                 /* lone continuation */
    U("\xc3", false);                 /* truncated */
    U("\xe2\x82", false);             /* truncated */
    U("\xf0\x9f\x98", false);         /* truncated */
    U("\xc0\xaf", false);             /* overlong '/' */
    U("\xc1\xbf", false);             /* overlong */
    U("\xe0\x80\xaf", false);         /* overlong */
    U("\xe0\x9f\xbf", false);         /* overlong */
    U("\xf0\x8f\xbf\xbf", false);     /* overlong */
    U("\xed\xa0\x80", false);         /* surrogate U+D800 */
    U("\xed\xbf\xbf", false);         /* surrogate U+DFFF */
    U("\xf4\x90\x80\x80", false);     /* U+110000 */
    U("\xf5\x80\x80\x80", false);
    U("\xc3\x28", false);             /* bad continuation */
    U("\xe2\x28\xa1", false);
    U("\xf0\x9f\x98\x28", false);
#undef U
    /* the length is honoured: a valid prefix of an invalid string */
    CHECK(fc__utf8_valid("ab\xff", 2));
    CHECK(!fc__utf8_valid("\xe2\x82\xac", 2));
}

static void test_parse_ll(void)
{
    long long v = 7;
#define P(s, sign, rc, val)                                                      \
    do {                                                                         \
        v = -12345;                                                              \
        CHECK_INT(fc__parse_ll(s, strlen(s), sign, &v), rc);                     \
        if ((rc) == 0)                                                           \
            CHECK_INT(v, val);                                                   \
    } while (0)
    P("0", false, 0, 0);
    P("42", false, 0, 42);
    P("007", false, 0, 7);
    P("9223372036854775807", false, 0, LLONG_MAX);
    P("9223372036854775808", false, FC_ERANGE, 0);
    P("99999999999999999999999", false, FC_ERANGE, 0);
    P("-9223372036854775808", true, 0, LLONG_MIN);
    P("-9223372036854775809", true, FC_ERANGE, 0);
    P("+9223372036854775807", true, 0, LLONG_MAX);
    P("+9223372036854775808", true, FC_ERANGE, 0);
    P("-5", true, 0, -5);
    P("+5", true, 0, 5);
    P("-5", false, FC_ERANGE, 0);
    P("+5", false, FC_ERANGE, 0);
    P("-", true, FC_ERANGE, 0);
    P("+", true, FC_ERANGE, 0);
    P("", false, FC_ERANGE, 0);
    P(" 5", false, FC_ERANGE, 0);
    P("5 ", false, FC_ERANGE, 0);
    P("1a", false, FC_ERANGE, 0);
    P("0x10", false, FC_ERANGE, 0);
    P("--5", true, FC_ERANGE, 0);
    P("1.5", false, FC_ERANGE, 0);
#undef P
    /* only len bytes are read */
    v = 0;
    CHECK_INT(fc__parse_ll("123abc", 3, false, &v), 0);
    CHECK_INT(v, 123);
    /* *out untouched on error */
    v = 77;
    CHECK_INT(fc__parse_ll("x", 1, false, &v), FC_ERANGE);
    CHECK_INT(v, 77);
}

static void test_content_type(void)
{
    CHECK_STR(fc__mimetype(A, "Text/HTML; charset=UTF-8"), "text/html");
    CHECK_STR(fc__mimetype(A, "  application/json  "), "application/json");
    CHECK_STR(fc__mimetype(A, "text/plain ;x=y"), "text/plain");
    CHECK_STR(fc__mimetype(A, "text / plain"), "text/plain");
    CHECK_STR(fc__mimetype(A, ""), "");
    CHECK_STR(fc__mimetype(A, NULL), "");

    const char *ct = "multipart/form-data; BOUNDARY=\"a\\\"b;c\\\\d\\e\"; charset=utf-8;x=  y  ";
    CHECK_STR(fc__content_type_param(A, ct, "boundary"), "a\"b;c\\d\\e");
    CHECK_STR(fc__content_type_param(A, ct, "Charset"), "utf-8");
    CHECK_STR(fc__content_type_param(A, ct, "x"), "y");
    CHECK(fc__content_type_param(A, ct, "missing") == NULL);
    CHECK(fc__content_type_param(A, ct, "bound") == NULL);
    CHECK(fc__content_type_param(A, "text/plain", "charset") == NULL);
    CHECK(fc__content_type_param(A, "charset=utf-8", "charset") == NULL); /* no ';' */
    CHECK(fc__content_type_param(A, NULL, "charset") == NULL);
    CHECK_STR(fc__content_type_param(A, "a/b; flag; k=v", "k"), "v");
    CHECK_STR(fc__content_type_param(A, "a/b; k=", "k"), "");
    CHECK_STR(fc__content_type_param(A, "a/b; k=\"\"", "k"), "");
    CHECK_STR(fc__content_type_param(A, "a/b; k=\"unterminated", "k"), "unterminated");
    CHECK_STR(fc__content_type_param(A, "a/b; j=\"x;k=1\"; k=2", "k"), "2");
    CHECK_STR(fc__content_type_param(A, "a/b; k=1; k=2", "k"), "1");
    CHECK_STR(fc__content_type_param(A, "form-data; filename=\"a.txt\"; name=\"f\"", "name"),
              "f");
    CHECK(fc__content_type_param(A, "a/b; j=\"x\\", "k") == NULL);
    /* whether the value found was quoted (an RFC 8187 ext-value never is) */
    bool quoted = true;
    CHECK_STR(fc__header_param(A, "a/b; j=\"x\"; k=y", "k", &quoted), "y");
    CHECK(!quoted);
    CHECK_STR(fc__header_param(A, "a/b; j=\"x\"; k=y", "j", &quoted), "x");
    CHECK(quoted);
    CHECK(fc__header_param(A, "a/b; j=\"x\"", "k", &quoted) == NULL);
    CHECK(!quoted);

    CHECK(fc__is_json_type("application/json"));
    CHECK(fc__is_json_type("Application/JSON; charset=utf-8"));
    CHECK(fc__is_json_type(" application/json ;x"));
    CHECK(fc__is_json_type("application/vnd.api+json"));
    CHECK(fc__is_json_type("application/problem+json; charset=utf-8"));
    CHECK(!fc__is_json_type("text/json"));
    CHECK(!fc__is_json_type("application/jsonx"));
    CHECK(!fc__is_json_type("application/x-www-form-urlencoded"));
    CHECK(!fc__is_json_type("application/+jsonx"));
    CHECK(!fc__is_json_type("application/"));
    /* found by fuzzing: an empty subtype before "+json", also when only
     * whitespace separated it (the mimetype drops inner OWS) */
    CHECK(!fc__is_json_type("application/+json"));
    CHECK(!fc__is_json_type("application/ +json"));
    CHECK(!fc__is_json_type("application/\t+json; charset=utf-8"));
    /* is_json judges the same normalised type request.mimetype shows */
    CHECK(fc__is_json_type("application / json"));
    CHECK(fc__is_json_type("application/vnd.api +json"));
    CHECK(!fc__is_json_type("application"));
    CHECK(!fc__is_json_type(""));
    CHECK(!fc__is_json_type(NULL));
    CHECK(!fc__is_json_type("text/plain; x=application/json"));
}

/* Random inputs on exact-size heap copies: no over-read (ASan), and the
 * parsers' promises hold: query keys and values are valid UTF-8 and every
 * value is NUL-terminated at vlen. */
static void test_random(void)
{
    static const char alpha[] = "%+=&;\"\\ aZ09\xff\xc3\xa9\xed\xa0\t\r\n/\0";
    unsigned long long seed = 12345;
    int bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = (size_t)(seed >> 58); /* 0..63 */
        char *p = malloc(len + 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            p[i] = alpha[(seed >> 33) % (sizeof(alpha) - 1)];
        }
        fc__arena *a = fc__arena_new(128);
        fc__kvlist q = {0};
        char *exact = malloc(len ? len : 1);
        memcpy(exact, p, len);
        if (fc__query_parse(exact, len, a, &q) != 0)
            bad++;
        for (size_t i = 0; i < q.n; i++)
            if (!fc__utf8_valid(q.items[i].key, strlen(q.items[i].key)) ||
                !fc__utf8_valid(q.items[i].value, q.items[i].vlen) ||
                q.items[i].value[q.items[i].vlen] != '\0')
                bad++;
        free(exact);
        p[len] = '\0'; /* the C-string parsers stop at the first NUL */
        fc__kvlist c = {0};
        if (fc__cookies_parse(p, a, &c) != 0)
            bad++;
        for (size_t i = 0; i < c.n; i++)
            if (!c.items[i].key[0] || c.items[i].value[c.items[i].vlen] != '\0')
                bad++;
        fc__content_type_param(a, p, "a");
        if (!fc__mimetype(a, p))
            bad++;
        fc__is_json_type(p);
        fc__buf b = {0};
        if (fc__json_escape(&b, p) != 0 || fc__html_escape(&b, p) != 0 ||
            fc__url_encode(&b, p, len, "/", true) != 0)
            bad++;
        fc__buf_free(&b);
        long long v;
        fc__parse_ll(p, len, true, &v);
        fc__arena_free(a);
        free(p);
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    A = fc__arena_new(0);
    if (!A)
        return 1;
    test_buf();
    test_kv();
    test_percent();
    test_query();
    test_cookies();
    test_cookie_format();
    test_dates_status();
    test_escape();
    test_predicates();
    test_utf8();
    test_parse_ll();
    test_content_type();
    test_random();
    fc__arena_free(A);
    TAP_DONE();
}
