/* fuzz_multipart.c — the multipart/form-data parser fc__form_multipart. The
 * input's first line is the Content-Type header (boundary and all), the rest
 * the body. Small limits (4 parts, 64-byte fields) so the limit paths run. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *d = data;
    size_t n = size;
    char *ct = fz_take(&d, &n, '\n', NULL);
    /* an exact-size heap copy of the body: reads past its end are caught */
    char *body = malloc(n ? n : 1);
    fc__arena *a = fc__arena_new(0);
    if (!ct || !body || !a)
        goto out;
    if (n)
        memcpy(body, d, n);
    fc__form_limits lim = {4, 64};
    fc__kvlist fields = {0};
    fc__filelist files = {0};
    const char *err = NULL;
    int rc = fc__form_multipart(body, n, ct, &lim, a, &fields, &files, &err);
    if (rc != 0) {
        FZ_CHECK(rc == FC_EINVAL || rc == FC_ERANGE || rc == FC_ENOMEM, "error %d", rc);
        FZ_CHECK(rc == FC_ENOMEM || err, "no reason for error %d", rc);
        FZ_CHECK(fields.n == 0 && files.n == 0, "lists not rolled back on error");
        goto out;
    }
    FZ_CHECK(fields.n + files.n <= lim.max_parts, "%zu parts over the limit", fields.n + files.n);
    /* the first "--boundary" opened the form: junk after it is an error,
     * never a parse that skipped the parts before a later delimiter */
    char *boundary = fc__content_type_param(a, ct, "boundary");
    FZ_CHECK(boundary && *boundary, "parsed without a boundary");
    size_t blen = strlen(boundary);
    const char *first = NULL;
    for (const char *p = body; !first && (size_t)(p - body) + blen + 2 <= n; p++)
        if (p[0] == '-' && p[1] == '-' && !memcmp(p + 2, boundary, blen))
            first = p;
    FZ_CHECK(first, "parsed without an opening boundary");
    const char *t = first + 2 + blen, *end = body + n;
    if (!(end - t >= 2 && t[0] == '-' && t[1] == '-')) {
        while (t < end && (*t == ' ' || *t == '\t' || *t == '\v' || *t == '\f'))
            t++;
        FZ_CHECK(end - t >= 2 && t[0] == '\r' && t[1] == '\n', "first boundary line not one");
    }
    for (size_t i = 0; i < fields.n; i++) {
        const fc__kv *kv = &fields.items[i];
        FZ_CHECK(kv->key && kv->value && kv->value[kv->vlen] == '\0', "field %zu", i);
        /* one rule for text, as for the query: UTF-8, no NUL, other bytes %XX */
        FZ_CHECK(strlen(kv->value) == kv->vlen && fc__utf8_valid(kv->value, kv->vlen),
                 "field %zu is not NUL-free UTF-8", i);
        FZ_CHECK(fc__utf8_valid(kv->key, strlen(kv->key)), "field name %zu is not UTF-8", i);
        /* the limit is on the bytes sent: a lower bound of them counts as
         * one byte each %XX that may stand for an escaped one (NUL or
         * 80..FF) and each U+0080..U+00FF (an ISO-8859-1 part's byte) */
        size_t raw = kv->vlen;
        const unsigned char *v = (const unsigned char *)kv->value;
        for (size_t k = 0; k + 1 < kv->vlen; k++) {
            if (v[k] == '%' && k + 2 < kv->vlen && strchr("089ABCDEF", v[k + 1]) &&
                strchr("0123456789ABCDEF", v[k + 2]) && (v[k + 1] != '0' || v[k + 2] == '0')) {
                raw -= 2;
                k += 2;
            } else if ((v[k] == 0xC2 || v[k] == 0xC3) && (v[k + 1] & 0xC0) == 0x80) {
                raw -= 1;
                k += 1;
            }
        }
        FZ_CHECK(raw <= lim.max_field_size, "field of %zu bytes passed the limit", raw);
        FZ_CHECK(raw <= n, "field longer than the body");
    }
    for (size_t i = 0; i < files.n; i++) {
        const fc_file *f = &files.items[i];
        FZ_CHECK(f->field && f->filename && f->content_type && f->data, "file %zu has NULLs", i);
        FZ_CHECK(f->size <= n && f->data[f->size] == '\0', "file %zu size %zu", i, f->size);
        FZ_CHECK(*f->content_type, "empty file content type");
        FZ_CHECK(fc__utf8_valid(f->filename, strlen(f->filename)) &&
                     fc__utf8_valid(f->field, strlen(f->field)),
                 "file %zu: name or file name not UTF-8", i);
    }
    /* a second parse of the same body appends the same again */
    fc__kvlist f2 = fields;
    fc__filelist fl2 = files;
    rc = fc__form_multipart(body, n, ct, &lim, a, &f2, &fl2, &err);
    FZ_CHECK(rc == 0 || rc == FC_ENOMEM, "second parse failed: %d", rc);
    if (rc == 0)
        FZ_CHECK(f2.n == 2 * fields.n && fl2.n == 2 * files.n, "second parse differs");
out:
    free(ct);
    free(body);
    fc__arena_free(a);
    return 0;
}
