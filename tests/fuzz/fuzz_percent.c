/* fuzz_percent.c — fc__percent_decode in place (with and without '+' as
 * space) against a reference decoder, plus fc__utf8_valid and fc__parse_ll
 * against simple reference implementations. */
#include "fuzz.h"

#include <errno.h>
#include <limits.h>

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The obvious decoder: %XX with two hex digits becomes a byte, else literal. */
static size_t ref_decode(const char *in, size_t n, bool plus, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%' && i + 2 < n && hexv((unsigned char)in[i + 1]) >= 0 &&
            hexv((unsigned char)in[i + 2]) >= 0) {
            out[j++] = (char)(hexv((unsigned char)in[i + 1]) * 16 + hexv((unsigned char)in[i + 2]));
            i += 2;
        } else {
            out[j++] = plus && in[i] == '+' ? ' ' : in[i];
        }
    }
    return j;
}

/* UTF-8 validity by decoding code points (RFC 3629: no overlongs, no surrogates). */
static bool ref_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], need, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i - 1 < need)
            return false;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_rest(data, size);
    char *t = fz_rest(data, size);
    char *ref = malloc(size + 1);
    if (!s || !t || !ref)
        goto out;
    for (int plus = 0; plus < 2; plus++) {
        memcpy(s, data, size);
        s[size] = 'X'; /* the decoder must write the terminator itself */
        size_t n = fc__percent_decode(s, size, plus);
        FZ_CHECK(n <= size, "grew from %zu to %zu", size, n);
        FZ_CHECK(s[n] == '\0', "not NUL-terminated at %zu", n);
        size_t rn = ref_decode((const char *)data, size, plus, ref);
        FZ_CHECK(rn == n && memcmp(ref, s, n) == 0, "differs from the reference (%zu vs %zu)", n, rn);
    }

    FZ_CHECK(fc__utf8_valid(t, size) == ref_utf8(data, size), "utf8_valid disagrees");

    /* fc__parse_ll against strtoll on inputs strtoll reads the same way */
    if (size > 0 && size < 32) {
        for (int sign = 0; sign < 2; sign++) {
            long long v = 0;
            int rc = fc__parse_ll(t, size, sign, &v);
            bool shape = memchr(t, '\0', size) == NULL;
            size_t i = (sign && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
            shape = shape && i < size;
            for (size_t k = i; shape && k < size; k++)
                shape = t[k] >= '0' && t[k] <= '9';
            if (!shape) {
                FZ_CHECK(rc != 0, "accepted a malformed integer");
                continue;
            }
            errno = 0;
            long long r = strtoll(t, NULL, 10);
            if (errno == ERANGE)
                FZ_CHECK(rc != 0, "accepted an out-of-range integer");
            else
                FZ_CHECK(rc == 0 && v == r, "parse_ll %lld, strtoll %lld", v, r);
        }
    }
out:
    free(s);
    free(t);
    free(ref);
    return 0;
}
