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
    FZ_CHECK(fields.n + files.n <= lim.max_parts, "%zu parts over the limit",
             fields.n + files.n);
    for (size_t i = 0; i < fields.n; i++) {
        const fc__kv *kv = &fields.items[i];
        FZ_CHECK(kv->key && kv->value && kv->value[kv->vlen] == '\0', "field %zu", i);
        FZ_CHECK(kv->vlen <= lim.max_field_size, "field of %zu bytes passed the limit", kv->vlen);
        FZ_CHECK(kv->value >= (const char *)0 && kv->vlen <= n, "field longer than the body");
    }
    for (size_t i = 0; i < files.n; i++) {
        const fc_file *f = &files.items[i];
        FZ_CHECK(f->field && f->filename && f->content_type && f->data, "file %zu has NULLs", i);
        FZ_CHECK(f->size <= n && f->data[f->size] == '\0', "file %zu size %zu", i, f->size);
        FZ_CHECK(*f->content_type, "empty file content type");
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
