/* fuzz_urlencoded.c — fc__form_urlencoded (request.form from an
 * application/x-www-form-urlencoded body): it must give exactly what the
 * query-string parser gives, with NUL-terminated UTF-8 keys and values. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* bodies are not NUL-terminated: hand over an exact-size heap copy so
     * ASan sees any read past the end */
    char *body = malloc(size ? size : 1);
    fc__arena *a = fc__arena_new(0);
    if (!body || !a)
        goto out;
    if (size)
        memcpy(body, data, size);
    fc__kvlist f = {0}, q = {0};
    if (fc__form_urlencoded(body, size, a, &f) != 0 || fc__query_parse(body, size, a, &q) != 0)
        goto out;
    FZ_CHECK(f.n == q.n, "form %zu fields, query %zu", f.n, q.n);
    for (size_t i = 0; i < f.n; i++) {
        const fc__kv *x = &f.items[i], *y = &q.items[i];
        FZ_CHECK(x->value[x->vlen] == '\0', "value not NUL-terminated");
        FZ_CHECK(fc__utf8_valid(x->key, strlen(x->key)) && fc__utf8_valid(x->value, x->vlen),
                 "field %zu not UTF-8", i);
        FZ_CHECK(!strcmp(x->key, y->key) && x->vlen == y->vlen &&
                     !memcmp(x->value, y->value, x->vlen),
                 "field %zu differs from the query parser", i);
    }
    /* a NULL body is an empty form */
    fc__kvlist e = {0};
    FZ_CHECK(fc__form_urlencoded(NULL, size, a, &e) == 0 && e.n == 0, "NULL body gave fields");
out:
    free(body);
    fc__arena_free(a);
    return 0;
}
