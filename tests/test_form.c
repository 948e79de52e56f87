/* test_form.c — unit tests of libflaskc/form.c: urlencoded bodies and the
 * multipart/form-data parser (fields, files, limits, malformed and cut bodies). */
#include "internal.h"
#include "tap.h"

#define CT "multipart/form-data; boundary=XyZ"

static const fc__form_limits LIM = {1000, 500000};

/* A valid body: two fields (one quoted name with escapes), a binary file, an
 * empty-named file, preamble and epilogue. */
static const char FILE_BYTES[] = "bin\0ary\r\n--XyZ-not\r\n--XyZX\r\n\r\n\0end";
#define FILE_LEN (sizeof(FILE_BYTES) - 1)

static size_t build_body(char *out, size_t cap)
{
    fc__buf b = {0};
    fc__buf_puts(&b, "preamble text\r\n");
    fc__buf_puts(&b, "--XyZ\r\n"
                     "Content-Disposition: form-data; name=\"a\"\r\n"
                     "\r\n"
                     "1\r\n");
    fc__buf_puts(&b, "--XyZ  \t\r\n" /* transport padding */
                     "content-disposition: form-data; name=\"q\\\"uo;te\"\r\n"
                     "X-Other: ignored\r\n"
                     "\r\n"
                     "line1\r\nline2\r\n");
    fc__buf_puts(&b, "--XyZ\r\n"
                     "Content-Disposition: form-data; name=\"f\"; filename=\"C:\\dir\\alpha.bin\"\r\n"
                     "Content-Type: image/png\r\n"
                     "\r\n");
    fc__buf_append(&b, FILE_BYTES, FILE_LEN);
    fc__buf_puts(&b, "\r\n--XyZ\r\n"
                     "Content-Disposition: form-data; name=empty; filename=\"\"\r\n"
                     "\r\n"
                     "\r\n--XyZ--\r\nepilogue --XyZ garbage");
    size_t n = b.len < cap ? b.len : cap;
    memcpy(out, b.data, n);
    fc__buf_free(&b);
    return n;
}

static int parse(const char *body, size_t len, const char *ct, const fc__form_limits *lim,
                 fc__arena *a, fc__kvlist *fields, fc__filelist *files, const char **err)
{
    return fc__form_multipart(body, len, ct, lim, a, fields, files, err);
}

static void test_urlencoded(void)
{
    fc__arena *a = fc__arena_new(0);
    fc__kvlist f = {0};
    const char *body = "a=1&a=2&b=x+y"; /* W40 */
    CHECK_INT(fc__form_urlencoded(body, strlen(body), a, &f), 0);
    CHECK_INT(f.n, 3);
    CHECK_STR(f.n > 2 ? f.items[0].key : NULL, "a");
    CHECK_STR(f.n > 2 ? f.items[1].value : NULL, "2");
    CHECK_STR(fc__kv_get(&f, "b"), "x y");
    fc__kvlist g = {0};
    CHECK_INT(fc__form_urlencoded(NULL, 0, a, &g), 0);
    CHECK_INT(g.n, 0);
    CHECK_INT(fc__form_urlencoded("k=%FF&m=%26;", 12, a, &g), 0);
    CHECK_STR(fc__kv_get(&g, "k"), "%FF");
    CHECK_STR(fc__kv_get(&g, "m"), "&;");
    fc__arena_free(a);
}

static void test_multipart_ok(void)
{
    fc__arena *a = fc__arena_new(0);
    char *body = malloc(4096);
    size_t len = build_body(body, 4096);
    fc__kvlist fields = {0};
    fc__filelist files = {0};
    const char *err = "unset";
    CHECK_INT(parse(body, len, CT, &LIM, a, &fields, &files, &err), 0);
    CHECK(err == NULL);
    /* the body may go: everything was copied into the arena */
    memset(body, 'Z', len);
    free(body);

    CHECK_INT(fields.n, 2);
    CHECK_INT(files.n, 2);
    CHECK_STR(fc__kv_get(&fields, "a"), "1");
    CHECK_STR(fc__kv_get(&fields, "q\"uo;te"), "line1\r\nline2");
    CHECK_INT(fields.n > 1 ? fields.items[1].vlen : 0, 12);
    if (files.n == 2) {
        fc_file *f = &files.items[0];
        CHECK_STR(f->field, "f");
        CHECK_STR(f->filename, "C:\\dir\\alpha.bin");
        CHECK_STR(f->content_type, "image/png");
        CHECK_INT(f->size, FILE_LEN);
        CHECK(memcmp(f->data, FILE_BYTES, FILE_LEN) == 0);
        CHECK(f->data[f->size] == '\0');
        fc_file *e = &files.items[1];
        CHECK_STR(e->field, "empty");
        CHECK_STR(e->filename, "");
        CHECK_STR(e->content_type, "application/octet-stream");
        CHECK_INT(e->size, 0);
        CHECK(e->data != NULL && e->data[0] == '\0');
    }

    /* no preamble, quoted boundary, empty body part, W41-like upload */
    const char *b2 = "--a b\r\n"
                     "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                     "\r\n--a b\r\n"
                     "Content-Disposition: form-data; name=\"f\"; filename=\"alpha.txt\"\r\n"
                     "Content-Type: text/plain\r\n\r\n"
                     "abcdefghijklmnopqrstuvwxyz\r\n--a b--";
    fc__kvlist f2 = {0};
    fc__filelist fi2 = {0};
    CHECK_INT(parse(b2, strlen(b2), "multipart/form-data; boundary=\"a b\"", NULL, a, &f2, &fi2,
                    &err),
              0);
    CHECK_INT(f2.n, 1);
    CHECK_STR(fc__kv_get(&f2, "a"), "");
    CHECK_INT(fi2.n, 1);
    CHECK_INT(fi2.n ? fi2.items[0].size : 0, 26);
    CHECK_STR(fi2.n ? fi2.items[0].filename : NULL, "alpha.txt");

    /* an empty form */
    fc__kvlist f3 = {0};
    fc__filelist fi3 = {0};
    CHECK_INT(parse("--XyZ--", 7, CT, &LIM, a, &f3, &fi3, &err), 0);
    CHECK_INT(f3.n + fi3.n, 0);
    CHECK_INT(parse("--XyZ--\r\n", 9, CT, &LIM, a, &f3, &fi3, NULL), 0);

    /* many parts: the lists grow */
    fc__buf b = {0};
    for (int i = 0; i < 300; i++)
        fc__buf_printf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"n%d\"\r\n\r\nv%d\r\n",
                       i, i);
    fc__buf_puts(&b, "--XyZ--\r\n");
    fc__kvlist f4 = {0};
    fc__filelist fi4 = {0};
    CHECK_INT(parse(b.data, b.len, CT, &LIM, a, &f4, &fi4, &err), 0);
    CHECK_INT(f4.n, 300);
    CHECK_STR(fc__kv_get(&f4, "n299"), "v299");
    CHECK_STR(fc__kv_get(&f4, "n0"), "v0");
    /* a field with a NUL byte: written as %00, as the query parser does */
    b.len = 0;
    fc__buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=z\r\n\r\n");
    fc__buf_append(&b, "a\0b", 3);
    fc__buf_puts(&b, "\r\n--XyZ--");
    fc__kvlist f5 = {0};
    CHECK_INT(parse(b.data, b.len, CT, &LIM, a, &f5, &fi4, &err), 0);
    CHECK_INT(f5.n, 1);
    CHECK_INT(f5.n ? f5.items[0].vlen : 0, 5);
    CHECK_STR(f5.n ? f5.items[0].value : NULL, "a%00b");
    fc__buf_free(&b);
    fc__arena_free(a);
}

static void expect_fail(const char *body, const char *ct, const fc__form_limits *lim, int rc,
                        const char *reason)
{
    fc__arena *a = fc__arena_new(0);
    fc__kvlist fields = {0};
    fc__filelist files = {0};
    /* pre-existing entries stay, nothing is added on failure */
    fc__kv_add(&fields, a, "pre", "x", 1);
    const char *err = NULL;
    CHECK_INT(parse(body, strlen(body), ct, lim, a, &fields, &files, &err), rc);
    CHECK_STR(err, reason);
    CHECK_INT(fields.n, 1);
    CHECK_INT(files.n, 0);
    fc__arena_free(a);
}

static void test_multipart_errors(void)
{
    const char *ok = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--";
    expect_fail(ok, "multipart/form-data", &LIM, FC_EINVAL, "missing boundary");
    expect_fail(ok, "multipart/form-data; boundary=", &LIM, FC_EINVAL, "missing boundary");
    expect_fail(ok, "multipart/form-data; boundary=\"\"", &LIM, FC_EINVAL, "missing boundary");
    expect_fail(ok, NULL, &LIM, FC_EINVAL, "missing boundary");
    expect_fail(ok, "multipart/form-data; boundary=other", &LIM, FC_EINVAL,
                "missing opening boundary");
    expect_fail("", CT, &LIM, FC_EINVAL, "missing opening boundary");
    {
        fc__arena *a0 = fc__arena_new(0);
        fc__kvlist f0 = {0};
        fc__filelist fi0 = {0};
        const char *e0 = NULL;
        CHECK_INT(fc__form_multipart(NULL, 0, CT, &LIM, a0, &f0, &fi0, &e0), FC_EINVAL);
        CHECK_STR(e0, "missing opening boundary");
        fc__arena_free(a0);
    }
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1", CT, &LIM,
                FC_EINVAL, "missing closing boundary");
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ", CT, &LIM,
                FC_EINVAL, "missing closing boundary");
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ-", CT, &LIM,
                FC_EINVAL, "missing closing boundary");
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ \r", CT,
                &LIM, FC_EINVAL, "missing closing boundary");
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZjunk\r\n", CT,
                &LIM, FC_EINVAL, "missing closing boundary");
    expect_fail("--XyZjunk\r\n", CT, &LIM, FC_EINVAL, "missing opening boundary");
    expect_fail("--XyZ", CT, &LIM, FC_EINVAL, "missing opening boundary");
    expect_fail("--XyZ\nContent-Disposition: form-data; name=a\n\n1\n--XyZ--", CT, &LIM,
                FC_EINVAL, "malformed opening boundary");
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n1\r\n--XyZ--", CT, &LIM,
                FC_EINVAL, "missing end of part headers");
    expect_fail("--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--", CT, &LIM,
                FC_EINVAL, "missing part name");
    expect_fail("--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL,
                "missing part name");
    /* no blank line after the delimiter's: the block would run to the next one */
    expect_fail("--XyZ\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL, "missing end of part headers");
    expect_fail("--XyZ\r\n\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL, "missing part name");
    /* lines without a name are headers nobody reads (Werkzeug's) */
    expect_fail("--XyZ\r\nno colon here\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL,
                "missing part name");
    expect_fail("--XyZ\r\n: empty name\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL,
                "missing part name");
    /* a folded line belongs to the one before: here to a header nobody reads */
    expect_fail("--XyZ\r\nX: y\r\n Content-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--", CT,
                &LIM, FC_EINVAL, "missing part name");
    /* the good part before a bad one is not kept either */
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                "--XyZ\r\nContent-Disposition: form-data; filename=x\r\n\r\n1\r\n--XyZ--",
                CT, &LIM, FC_EINVAL, "missing part name");

    /* limits */
    const char *three = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                        "--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
                        "--XyZ\r\nContent-Disposition: form-data; name=c; filename=c\r\n\r\n"
                        "0123456789\r\n--XyZ--\r\n";
    fc__form_limits two = {2, 500000};
    expect_fail(three, CT, &two, FC_ERANGE, "too many parts");
    fc__form_limits small = {1000, 0};
    small.max_field_size = 1;
    fc__arena *a = fc__arena_new(0);
    fc__kvlist fields = {0};
    fc__filelist files = {0};
    const char *err = NULL;
    /* fields of exactly the limit pass; files are not limited by it */
    CHECK_INT(parse(three, strlen(three), CT, &small, a, &fields, &files, &err), 0);
    CHECK_INT(fields.n, 2);
    CHECK_INT(files.n, 1);
    fc__form_limits three_ok = {3, 1};
    CHECK_INT(parse(three, strlen(three), CT, &three_ok, a, &fields, &files, &err), 0);
    fc__form_limits unlimited = {0, 0};
    CHECK_INT(parse(three, strlen(three), CT, &unlimited, a, &fields, &files, &err), 0);
    fc__arena_free(a);
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n12\r\n--XyZ--", CT,
                &small, FC_ERANGE, "form field too large");
}

/* Every prefix of a valid body parses or fails cleanly (ASan watches). */
static void test_truncated(void)
{
    char full[4096];
    size_t len = build_body(full, sizeof(full));
    size_t close = (size_t)((const char *)memmem(full, len, "--XyZ--", 7) - full) + 7;
    int bad = 0, ok = 0;
    for (size_t n = 0; n <= len; n++) {
        /* an exact-size heap copy so any over-read is caught */
        char *p = malloc(n ? n : 1);
        memcpy(p, full, n);
        fc__arena *a = fc__arena_new(256);
        fc__kvlist fields = {0};
        fc__filelist files = {0};
        const char *err = NULL;
        int rc = parse(p, n, CT, &LIM, a, &fields, &files, &err);
        if (rc == 0) {
            ok++;
            if (n < close || fields.n != 2 || files.n != 2)
                bad++;
        } else if (rc != FC_EINVAL || !err || n >= close || fields.n || files.n) {
            bad++;
        }
        fc__arena_free(a);
        free(p);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(ok, (int)(len - close + 1));
}

/* Random mutations of a valid body: no crash, no over-read, sane results. */
static void test_mutations(void)
{
    char full[4096];
    size_t len = build_body(full, sizeof(full));
    unsigned long long seed = 0x9E3779B97F4A7C15ull;
    int bad = 0;
    static const char alphabet[] = "-\r\n\"\\;=XyZ:\0 ";
    for (int iter = 0; iter < 20000; iter++) {
        char *p = malloc(len);
        memcpy(p, full, len);
        int edits = 1 + iter % 4;
        size_t n = len;
        for (int e = 0; e < edits; e++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(seed >> 33) % n;
            p[pos] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
            if ((seed >> 60) == 0)
                n = pos + 1; /* also cut */
        }
        fc__arena *a = fc__arena_new(512);
        fc__kvlist fields = {0};
        fc__filelist files = {0};
        const char *err = NULL;
        int rc = parse(p, n, CT, &LIM, a, &fields, &files, &err);
        if (rc != 0 && (!err || (rc != FC_EINVAL && rc != FC_ERANGE)))
            bad++;
        if (rc == 0) {
            for (size_t i = 0; i < files.n; i++)
                if (!files.items[i].field || !files.items[i].filename ||
                    files.items[i].data[files.items[i].size] != '\0')
                    bad++;
            for (size_t i = 0; i < fields.n; i++)
                if (fields.items[i].value[fields.items[i].vlen] != '\0')
                    bad++;
        }
        fc__arena_free(a);
        free(p);
    }
    CHECK_INT(bad, 0);
}

/* One part "--XyZ\r\n<headers>\r\n\r\n<data>\r\n--XyZ--" (data may hold NUL). */
static int one_part(fc__arena *a, const char *headers, const char *data, size_t dlen,
                    fc__kvlist *fields, fc__filelist *files, const char **err)
{
    fc__buf b = {0};
    fc__buf_puts(&b, "--XyZ\r\n");
    fc__buf_puts(&b, headers);
    fc__buf_puts(&b, "\r\n\r\n");
    fc__buf_append(&b, data, dlen);
    fc__buf_puts(&b, "\r\n--XyZ--\r\n");
    int rc = parse(b.data, b.len, CT, &LIM, a, fields, files, err);
    fc__buf_free(&b);
    return rc;
}

#define CD "Content-Disposition: form-data; "

/* Field text follows the query and urlencoded parsers' rule: valid UTF-8
 * without NUL, any other byte as %XX. Werkzeug decodes multipart fields
 * with U+FFFD for bad bytes and keeps NUL: a documented difference. */
static void test_multipart_text(void)
{
    fc__arena *a = fc__arena_new(0);
    const char *err = NULL;
    struct {
        const char *headers, *data;
        size_t dlen;
        const char *want;
    } cases[] = {
        {CD "name=v", "a\377b\303", 4, "a%FFb%C3"},
        {CD "name=v", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
         "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
        {CD "name=v", "\xed\xa0\x80\xc0\x80", 5, "%ED%A0%80%C0%80"},
        {CD "name=v", "\0\0x", 3, "%00%00x"},
        {CD "name=v", "100%", 4, "100%"},
        /* the part's declared charset, from Werkzeug's list */
        {CD "name=v\r\nContent-Type: text/plain; charset=ISO-8859-1", "\xe9t\xe9\0", 4,
         "\xc3\xa9t\xc3\xa9%00"},
        {CD "name=v\r\nContent-Type: text/plain; charset=us-ascii", "\xc3\xa9", 2, "%C3%A9"},
        {CD "name=v\r\nContent-Type: text/plain; charset=koi8-r", "\xc3\xa9\xf0", 3, "\xc3\xa9%F0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fc__kvlist f = {0};
        fc__filelist fi = {0};
        CHECK_INT(one_part(a, cases[i].headers, cases[i].data, cases[i].dlen, &f, &fi, &err), 0);
        CHECK_INT(f.n, 1);
        CHECK_STR(fc__kv_get(&f, "v"), cases[i].want);
        CHECK_INT(f.n ? f.items[0].vlen : 0, strlen(cases[i].want));
    }
    /* the same bytes in a urlencoded body read the same */
    fc__kvlist u = {0};
    CHECK_INT(fc__form_urlencoded("v=a%FFb%C3&z=%00%00x", 20, a, &u), 0);
    CHECK_STR(fc__kv_get(&u, "v"), "a%FFb%C3");
    CHECK_STR(fc__kv_get(&u, "z"), "%00%00x");
    /* files stay bytes */
    fc__kvlist f = {0};
    fc__filelist fi = {0};
    CHECK_INT(one_part(a, CD "name=f; filename=x", "a\0\xff", 3, &f, &fi, &err), 0);
    CHECK_INT(fi.n, 1);
    CHECK_INT(fi.n ? fi.items[0].size : 0, 3);
    CHECK(fi.n && memcmp(fi.items[0].data, "a\0\xff", 3) == 0);
    /* names: UTF-8 passes; header lines that are not UTF-8, or hold a NUL,
     * fail the form (Werkzeug drops the whole form without a word) */
    f.n = 0;
    CHECK_INT(one_part(a, CD "name=\"n\xc3\xa9\"", "v", 1, &f, &fi, &err), 0);
    CHECK_STR(f.n ? f.items[0].key : NULL, "n\xc3\xa9");
    f.n = 0;
    fi.n = 0;
    CHECK_INT(one_part(a, CD "name=\"n\xff\"", "v", 1, &f, &fi, &err), FC_EINVAL);
    CHECK_STR(err, "part header is not UTF-8");
    CHECK_INT(one_part(a, CD "name=v\r\nX-Other: \xc3", "v", 1, &f, &fi, &err), FC_EINVAL);
    CHECK_STR(err, "part header is not UTF-8");
    {
        static const char nul[] = "--XyZ\r\n" CD "name=\"a\0b\"\r\n\r\nv\r\n--XyZ--";
        CHECK_INT(parse(nul, sizeof(nul) - 1, CT, &LIM, a, &f, &fi, &err), FC_EINVAL);
        CHECK_STR(err, "NUL in a part header");
    }
    CHECK_INT(f.n + fi.n, 0);
    fc__arena_free(a);
}

/* RFC 2046 allows a body part with no body: the blank line, then at once the
 * next delimiter (Werkzeug: an empty value). */
static void test_multipart_empty_body(void)
{
    fc__arena *a = fc__arena_new(0);
    const char *err = NULL;
    fc__kvlist f = {0};
    fc__filelist fi = {0};
    const char *b1 = "--XyZ\r\n" CD "name=a\r\n\r\n--XyZ--\r\n";
    CHECK_INT(parse(b1, strlen(b1), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_INT(f.n, 1);
    CHECK_STR(fc__kv_get(&f, "a"), "");
    /* the next part is a part, not the first one's data */
    f.n = 0;
    const char *b2 = "--XyZ\r\n" CD "name=a\r\n\r\n"
                     "--XyZ\r\n" CD "name=b\r\n\r\nv\r\n"
                     "--XyZ\r\n" CD "name=f; filename=e.txt\r\n\r\n--XyZ--";
    CHECK_INT(parse(b2, strlen(b2), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_INT(f.n, 2);
    CHECK_STR(fc__kv_get(&f, "a"), "");
    CHECK_STR(fc__kv_get(&f, "b"), "v");
    CHECK_INT(fi.n, 1);
    CHECK_INT(fi.n ? fi.items[0].size : 1, 0);
    CHECK_STR(fi.n ? fi.items[0].filename : NULL, "e.txt");
    /* the data of a part that has one still ends before its CRLF */
    f.n = 0;
    fi.n = 0;
    const char *b3 = "--XyZ\r\n" CD "name=a\r\n\r\n\r\n--XyZ--";
    CHECK_INT(parse(b3, strlen(b3), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_STR(fc__kv_get(&f, "a"), "");
    f.n = 0;
    const char *b4 = "--XyZ\r\n" CD "name=a\r\n\r\n\r\n\r\n--XyZ--";
    CHECK_INT(parse(b4, strlen(b4), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_STR(fc__kv_get(&f, "a"), "\r\n");
    fc__arena_free(a);
}

/* filename* and name* (RFC 8187 ext-values), as Werkzeug decodes them;
 * when both forms are there the decoded ext-value wins (RFC 6266 4.3). */
static void test_multipart_ext_names(void)
{
    fc__arena *a = fc__arena_new(0);
    const char *err = NULL;
    struct {
        const char *headers, *want;
    } cases[] = {
        {CD "name=f; filename*=UTF-8''na%C3%AFve.txt", "na\xc3\xafve.txt"},
        {CD "name=f; filename=\"naive.txt\"; filename*=UTF-8''na%C3%AFve.txt", "na\xc3\xafve.txt"},
        {CD "name=f; filename*=UTF-8''na%C3%AFve.txt; filename=\"naive.txt\"", "na\xc3\xafve.txt"},
        {CD "name=f; FILENAME*=utf-8'en'up.txt", "up.txt"},
        {CD "name=f; filename*=iso-8859-1''%E9t%E9.txt", "\xc3\xa9t\xc3\xa9.txt"},
        {CD "name=f; filename*=UTF-8''%FF%00x%2", "%FF%00x%2"},
        {CD "name=f; filename*=us-ascii''a%C3%A9", "a%C3%A9"},
        /* not decodable: the plain filename, or what Werkzeug keeps */
        {CD "name=f; filename=\"a.txt\"; filename*=koi8-r''%F0.txt", "a.txt"},
        {CD "name=f; filename*=koi8-r''%F0.txt", "%F0.txt"},
        {CD "name=f; filename*=''x.txt", "x.txt"},
        {CD "name=f; filename*=UTF-8''", "UTF-8''"},
        {CD "name=f; filename=\"a.txt\"; filename*=UTF-8''", "a.txt"},
        {CD "name=f; filename=\"a.txt\"; filename*=UTF-8''../x", "a.txt"},
        /* alone and unquoted: its token characters, decoded when they form
         * an ext-value (Werkzeug's reading); quoted: as it stands */
        {CD "name=f; filename*=UTF-8''../../etc/p", ".."},
        {CD "name=f; filename*=UTF-8''%2E%2E%2Fx/y", "../x"},
        {CD "name=f; filename*=UTF-8''a b.txt", "a"},
        {CD "name=f; filename*=koi8-r''%F0/x.txt", "%F0"},
        {CD "name=f; filename*=abc/def", "abc"},
        {CD "name=f; filename*=\"UTF-8''../x\"", "UTF-8''../x"},
        {CD "name=f; filename*=\"koi8-r''%F0.txt\"", "koi8-r''%F0.txt"},
        /* quoted, which RFC 8187 does not allow: decoded (Werkzeug keeps it raw) */
        {CD "name=f; filename*=\"UTF-8''x%20y.txt\"", "x y.txt"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fc__kvlist f = {0};
        fc__filelist fi = {0};
        CHECK_INT(one_part(a, cases[i].headers, "abc", 3, &f, &fi, &err), 0);
        CHECK_INT(f.n, 0);
        CHECK_INT(fi.n, 1);
        CHECK_STR(fi.n ? fi.items[0].field : NULL, "f");
        CHECK_STR(fi.n ? fi.items[0].filename : NULL, cases[i].want);
    }
    fc__kvlist f = {0};
    fc__filelist fi = {0};
    CHECK_INT(one_part(a, CD "name*=UTF-8''n%C3%A9", "abc", 3, &f, &fi, &err), 0);
    CHECK_STR(fc__kv_get(&f, "n\xc3\xa9"), "abc");
    f.n = 0;
    CHECK_INT(one_part(a, CD "name=x; name*=UTF-8''y", "abc", 3, &f, &fi, &err), 0);
    CHECK_STR(fc__kv_get(&f, "y"), "abc");
    CHECK_INT(fi.n, 0);
    /* no token character at all: Werkzeug drops the parameter, so no file */
    f.n = 0;
    CHECK_INT(one_part(a, CD "name=f; filename*=/etc/passwd", "abc", 3, &f, &fi, &err), 0);
    CHECK_STR(fc__kv_get(&f, "f"), "abc");
    CHECK_INT(fi.n, 0);
    fc__arena_free(a);
}

/* What may stand after "--boundary": Werkzeug's padding [ \t\v\f] before
 * the CRLF; junk after the first boundary is an error, never an empty form
 * that silently skipped the parts before a later delimiter. */
static void test_multipart_boundary_lines(void)
{
    fc__arena *a = fc__arena_new(0);
    const char *err = NULL;
    static const char *const ok1[] = {
        "--XyZ\v\r\n" CD "name=a\r\n\r\n1\r\n--XyZ--\r\n",
        "--XyZ\f\r\n" CD "name=a\r\n\r\n1\r\n--XyZ--\r\n",
        "--XyZ \t\v \r\n" CD "name=a\r\n\r\n1\r\n--XyZ--\v\r\n",
        "preamble\r\n--XyZ\v\r\n" CD "name=a\r\n\r\n1\r\n--XyZ--",
        "hello--XyZ\r\n" CD "name=a\r\n\r\n1\r\n--XyZ--",
    };
    for (size_t i = 0; i < sizeof(ok1) / sizeof(ok1[0]); i++) {
        fc__kvlist f = {0};
        fc__filelist fi = {0};
        CHECK_INT(parse(ok1[i], strlen(ok1[i]), CT, &LIM, a, &f, &fi, &err), 0);
        CHECK_INT(f.n, 1);
        CHECK_STR(fc__kv_get(&f, "a"), "1");
    }
    fc__kvlist f = {0};
    fc__filelist fi = {0};
    const char *two =
        "--XyZ\r\n" CD "name=a\r\n\r\n1\r\n--XyZ\v\r\n" CD "name=b\r\n\r\n2\r\n--XyZ--\r\n";
    CHECK_INT(parse(two, strlen(two), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_INT(f.n, 2);
    CHECK_STR(fc__kv_get(&f, "a"), "1");
    CHECK_STR(fc__kv_get(&f, "b"), "2");
    expect_fail("--XyZ\x01\r\n" CD "name=a\r\n\r\n1\r\n--XyZ--\r\n", CT, &LIM, FC_EINVAL,
                "malformed opening boundary");
    expect_fail("--XyZx\r\n" CD "name=a\r\n\r\n1\r\n--XyZ--\r\n", CT, &LIM, FC_EINVAL,
                "malformed opening boundary");
    expect_fail("--XyZjunk\r\n" CD "name=a\r\n\r\n1\r\n--XyZ\r\n" CD
                "name=b\r\n\r\n2\r\n--XyZ--\r\n",
                CT, &LIM, FC_EINVAL, "malformed opening boundary");
    /* a preamble and no part at all is still an empty form */
    f.n = 0;
    CHECK_INT(parse("preamble\r\n--XyZ--\r\n", 19, CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_INT(f.n, 0);
    fc__arena_free(a);
}

/* Part header blocks read as Werkzeug's _parse_headers reads them: a part
 * with no header block lends its delimiter line to the next part's block
 * (a header nobody reads), and the form keeps every other part; lines
 * without ':' are skipped, folded lines joined, names and values stripped. */
static void test_multipart_header_lines(void)
{
    fc__arena *a = fc__arena_new(0);
    const char *err = NULL;
    fc__kvlist f = {0};
    fc__filelist fi = {0};
    /* "--XyZ" CRLF "--XyZ" CRLF: the part data "1" ends before the first */
    const char *skip = "--XyZ\r\n" CD "name=a\r\n\r\n1\r\n--XyZ\r\n--XyZ\r\n" CD
                       "name=b\r\n\r\n2\r\n--XyZ\r\n" CD "name=c\r\n\r\n3\r\n--XyZ--\r\n";
    CHECK_INT(parse(skip, strlen(skip), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_INT(f.n, 3);
    CHECK_STR(fc__kv_get(&f, "a"), "1");
    CHECK_STR(fc__kv_get(&f, "b"), "2");
    CHECK_STR(fc__kv_get(&f, "c"), "3");
    /* a blank line at once: the part takes the next block, "zz" is a header line */
    f.n = 0;
    const char *blank = "--XyZ\r\n\r\nzz\r\n--XyZ\r\n" CD "name=b\r\n\r\n2\r\n--XyZ--\r\n";
    CHECK_INT(parse(blank, strlen(blank), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_INT(f.n, 1);
    CHECK_STR(fc__kv_get(&f, "b"), "2");
    /* junk lines, a folded Content-Disposition (also inside a quoted file
     * name), space before the colon, Unicode spaces around a value; the first
     * Content-Disposition and Content-Type count */
    f.n = 0;
    const char *odd =
        "--XyZ\r\nno colon\r\n: empty\r\n"
        "Content-Disposition \t: form-data; name=\"a\";\r\n\tfilename=\"x\r\n y.txt\"\r\n"
        "Content-Type:\xc2\xa0text/plain\xe3\x80\x80\r\n"
        "Content-Disposition: form-data; name=\"b\"\r\nContent-Type: image/png\r\n"
        "\r\n1\r\n--XyZ--\r\n";
    CHECK_INT(parse(odd, strlen(odd), CT, &LIM, a, &f, &fi, &err), 0);
    CHECK_INT(f.n, 0);
    CHECK_INT(fi.n, 1);
    CHECK_STR(fi.n ? fi.items[0].field : NULL, "a");
    CHECK_STR(fi.n ? fi.items[0].filename : NULL, "x y.txt");
    CHECK_STR(fi.n ? fi.items[0].content_type : NULL, "text/plain");
    fc__arena_free(a);
}

int main(void)
{
    test_urlencoded();
    test_multipart_ok();
    test_multipart_errors();
    test_multipart_text();
    test_multipart_empty_body();
    test_multipart_ext_names();
    test_multipart_boundary_lines();
    test_multipart_header_lines();
    test_truncated();
    test_mutations();
    TAP_DONE();
}
