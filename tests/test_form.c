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
    /* a field with a NUL byte keeps its length */
    b.len = 0;
    fc__buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=z\r\n\r\n");
    fc__buf_append(&b, "a\0b", 3);
    fc__buf_puts(&b, "\r\n--XyZ--");
    fc__kvlist f5 = {0};
    CHECK_INT(parse(b.data, b.len, CT, &LIM, a, &f5, &fi4, &err), 0);
    CHECK_INT(f5.n, 1);
    CHECK_INT(f5.n ? f5.items[0].vlen : 0, 3);
    CHECK(f5.n && memcmp(f5.items[0].value, "a\0b", 4) == 0);
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
                FC_EINVAL, "missing opening boundary");
    expect_fail("--XyZ\r\nContent-Disposition: form-data; name=a\r\n1\r\n--XyZ--", CT, &LIM,
                FC_EINVAL, "missing end of part headers");
    expect_fail("--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--", CT, &LIM,
                FC_EINVAL, "missing part name");
    expect_fail("--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL,
                "missing part name");
    expect_fail("--XyZ\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL, "missing part name");
    expect_fail("--XyZ\r\nno colon here\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL,
                "malformed part header");
    expect_fail("--XyZ\r\n: empty name\r\n\r\n1\r\n--XyZ--", CT, &LIM, FC_EINVAL,
                "malformed part header");
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

int main(void)
{
    test_urlencoded();
    test_multipart_ok();
    test_multipart_errors();
    test_truncated();
    test_mutations();
    TAP_DONE();
}
