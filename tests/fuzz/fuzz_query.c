/* fuzz_query.c — fc__query_parse (Flask's request.args rules) against a
 * reference split-and-decode; every key and value is NUL-terminated valid
 * UTF-8 (bad bytes come back as %XX), and lookups agree with the list. */
#include "fuzz.h"

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t ref_decode(const char *in, size_t n, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%' && i + 2 < n && hexv((unsigned char)in[i + 1]) >= 0 &&
            hexv((unsigned char)in[i + 2]) >= 0) {
            out[j++] = (char)(hexv((unsigned char)in[i + 1]) * 16 + hexv((unsigned char)in[i + 2]));
            i += 2;
        } else {
            out[j++] = in[i] == '+' ? ' ' : in[i];
        }
    }
    out[j] = '\0';
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *qs = (const char *)data;
    fc__arena *a = fc__arena_new(0);
    char *kb = malloc(size + 1), *vb = malloc(size + 1);
    if (!a || !kb || !vb)
        goto out;
    fc__kvlist l = {0};
    if (fc__query_parse(qs, size, a, &l) != 0)
        goto out; /* out of memory only */

    /* reference: split on '&', skip empty pairs, split at the first '=' */
    size_t i = 0, k = 0;
    while (i < size) {
        const char *seg = qs + i;
        const char *amp = memchr(seg, '&', size - i);
        size_t slen = amp ? (size_t)(amp - seg) : size - i;
        i += slen + 1;
        if (!slen)
            continue;
        FZ_CHECK(k < l.n, "fewer pairs than the reference (%zu)", l.n);
        const fc__kv *kv = &l.items[k++];
        const char *eq = memchr(seg, '=', slen);
        size_t klen = eq ? (size_t)(eq - seg) : slen;
        size_t kn = ref_decode(seg, klen, kb);
        size_t vn = eq ? ref_decode(eq + 1, slen - klen - 1, vb) : (vb[0] = '\0', 0);
        FZ_CHECK(kv->key && kv->value, "NULL key or value");
        FZ_CHECK(kv->value[kv->vlen] == '\0', "value not NUL-terminated");
        FZ_CHECK(fc__utf8_valid(kv->key, strlen(kv->key)), "key not UTF-8");
        FZ_CHECK(fc__utf8_valid(kv->value, kv->vlen), "value not UTF-8");
        if (fc__utf8_valid(kb, kn) && !memchr(kb, '\0', kn))
            FZ_CHECK(strlen(kv->key) == kn && !memcmp(kv->key, kb, kn), "key differs");
        if (fc__utf8_valid(vb, vn) && !memchr(vb, '\0', vn))
            FZ_CHECK(kv->vlen == vn && !memcmp(kv->value, vb, vn), "value differs");
        FZ_CHECK(!memchr(kv->value, '\0', kv->vlen), "a NUL inside a value (would cut it)");
    }
    FZ_CHECK(k == l.n, "more pairs (%zu) than the reference (%zu)", l.n, k);

    /* the first value and the list agree with the items */
    if (l.n) {
        const char *key = l.items[l.n - 1].key;
        size_t n = 0, first = l.n;
        for (size_t j = 0; j < l.n; j++)
            if (!strcmp(l.items[j].key, key)) {
                n++;
                if (first == l.n)
                    first = j;
            }
        FZ_CHECK(fc__kv_get(&l, key) == l.items[first].value, "kv_get is not the first value");
        size_t ln = 0;
        const char *const *vals = fc__kv_list(&l, a, key, &ln);
        FZ_CHECK(vals && ln == n, "kv_list count %zu, expected %zu", ln, n);
    }
out:
    free(kb);
    free(vb);
    fc__arena_free(a);
    return 0;
}
