/* fuzz_content_type.c — Content-Type handling: fc__mimetype,
 * fc__content_type_param (boundary, charset, and the name/filename of a
 * part's Content-Disposition), fc__is_json_type, and the header-safety
 * predicates fc__header_value_ok / fc__token_ok. */
#include "fuzz.h"

static bool ows(char c) { return c == ' ' || c == '\t'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ct = fz_rest(data, size); /* a header value ends at a NUL */
    fc__arena *a = fc__arena_new(0);
    if (!ct || !a)
        goto out;
    char *mt = fc__mimetype(a, ct);
    if (!mt)
        goto out;
    for (const char *p = mt; *p; p++) {
        FZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "mimetype '%s' not lower-case", mt);
        FZ_CHECK(!ows(*p) && *p != ';', "mimetype '%s' holds OWS or ';'", mt);
    }
    FZ_CHECK(strlen(mt) <= strlen(ct), "mimetype longer than the header");
    if (fc__is_json_type(ct)) {
        size_t n = strlen(mt);
        FZ_CHECK(!strcmp(mt, "application/json") ||
                     (n > 17 && !strncmp(mt, "application/", 12) && !strcmp(mt + n - 5, "+json")),
                 "is_json for mimetype '%s'", mt);
    }
    if (!strcmp(mt, "application/json") && !strpbrk(ct, " \t"))
        FZ_CHECK(fc__is_json_type(ct), "application/json not recognised");

    static const char *const params[] = {"boundary", "charset", "name", "filename", "Boundary"};
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        char *v = fc__content_type_param(a, ct, params[i]);
        if (v)
            FZ_CHECK(strlen(v) <= strlen(ct), "parameter %s longer than the header", params[i]);
        if (i == 4) {
            char *w = fc__content_type_param(a, ct, "boundary");
            FZ_CHECK((!v && !w) || (v && w && !strcmp(v, w)), "parameter names are case-sensitive");
        }
    }
    bool hv = fc__header_value_ok(ct);
    FZ_CHECK(hv == !strpbrk(ct, "\r\n"), "header_value_ok wrong");
    if (fc__token_ok(ct))
        FZ_CHECK(*ct && !strpbrk(ct, " \t\r\n\"(),/:;<=>?@[\\]{}"), "token_ok accepted '%s'", ct);
    FZ_CHECK(fc__strcasecmp(ct, ct) == 0, "strcasecmp(s, s) != 0");
out:
    free(ct);
    fc__arena_free(a);
    return 0;
}
