/* fuzz_cookie.c — the Cookie header parser (fc__cookies_parse) and the
 * Set-Cookie formatter (fc__cookie_format). The whole input is parsed as a
 * Cookie header; then it is read as "name\nvalue\npath\ndomain" and formatted:
 * the result must be a safe header value, and for a token name and a UTF-8
 * value parse(format(name, value)) must give back exactly (name, value). */
#include "fuzz.h"

static void check_parsed(const fc__kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const fc__kv *kv = &l->items[i];
        FZ_CHECK(kv->key && kv->key[0], "empty cookie name");
        FZ_CHECK(kv->value && kv->value[kv->vlen] == '\0', "value not NUL-terminated");
        FZ_CHECK(fc__utf8_valid(kv->value, kv->vlen), "value not UTF-8");
        FZ_CHECK(!strchr(kv->key, ';') && !strchr(kv->key, '='), "name holds ';' or '='");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fc__arena *a = fc__arena_new(0);
    char *hdr = fz_rest(data, size);
    char *name = NULL, *value = NULL, *path = NULL, *domain = NULL;
    fc__buf b = {0};
    if (!a || !hdr)
        goto out;
    fc__kvlist l = {0};
    if (fc__cookies_parse(hdr, a, &l) != 0)
        goto out;
    check_parsed(&l);

    const uint8_t *d = data;
    size_t n = size, vlen;
    if (!(name = fz_take(&d, &n, '\n', NULL)) || !(value = fz_take(&d, &n, '\n', &vlen)) ||
        !(path = fz_take(&d, &n, '\n', NULL)) || !(domain = fz_take(&d, &n, '\n', NULL)))
        goto out;
    fc_cookie_opts o = FC_COOKIE_OPTS_DEFAULT;
    o.path = *path ? path : NULL;
    o.domain = domain;
    o.max_age = (long long)(size % 7) - 1; /* -1 .. 5 */
    o.secure = size & 1;
    o.http_only = size & 2;
    o.same_site = (fc_samesite)(size % 4);
    int rc = fc__cookie_format(&b, name, value, &o, 1700000000);
    if (rc != 0) {
        FZ_CHECK(rc == FC_EINVAL || rc == FC_ENOMEM, "unexpected error %d", rc);
        goto out;
    }
    const char *sc = fc__buf_cstr(&b);
    FZ_CHECK(sc && fc__header_value_ok(sc), "Set-Cookie value would break the header");
    for (const char *p = sc; *p; p++)
        FZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7F, "control byte in Set-Cookie");
    FZ_CHECK(fc__token_ok(name), "formatted a cookie with a non-token name");

    /* round trip: the "name=value" part (up to the first ';') as a Cookie header */
    const char *semi = strchr(sc, ';');
    char *pair = fc__arena_strndup(a, sc, semi ? (size_t)(semi - sc) : strlen(sc));
    fc__kvlist r = {0};
    if (!pair || fc__cookies_parse(pair, a, &r) != 0)
        goto out;
    check_parsed(&r);
    if (strlen(value) == vlen && fc__utf8_valid(value, vlen)) {
        FZ_CHECK(r.n == 1, "round trip gave %zu cookies from '%s'", r.n, pair);
        FZ_CHECK(!strcmp(r.items[0].key, name), "name '%s' came back as '%s'", name,
                 r.items[0].key);
        FZ_CHECK(r.items[0].vlen == vlen && !memcmp(r.items[0].value, value, vlen),
                 "value '%s' came back as '%s' (via '%s')", value, r.items[0].value, pair);
    }
out:
    fc__buf_free(&b);
    free(hdr);
    free(name);
    free(value);
    free(path);
    free(domain);
    fc__arena_free(a);
    return 0;
}
