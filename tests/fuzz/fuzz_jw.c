/* fuzz_jw.c — the JSON writer (libflaskc/jw.c) driven by a program of calls:
 * each input byte picks a call (begin/end object or array, key, string, int,
 * uint, double, bool, null, raw text, a json-c object, a drain), and the
 * bytes after it give its arguments. A model of the grammar (open containers,
 * key due, top value done) runs beside it. Invariants: each call succeeds
 * exactly when the model says its place is right (raw text, json-c objects
 * and doubles may also be refused for their content); a refused call writes
 * nothing and its error sticks to every later call; a number's text reads
 * back as the number given; the text drained and left, once the writer says
 * it is done, is one RFC 8259 value, and fc_jw_text gives it exactly when
 * nothing was drained; a string written alone reads back as what it was,
 * or, when it was not UTF-8, is JSON all the same. */
#include "fuzz.h"

#include <json-c/json.h>
#include <math.h>

typedef struct model {
    uint8_t kind[FC_JW_MAX_DEPTH]; /* 1 object, 2 array */
    unsigned depth;
    bool key_due, done;
} model;

static size_t take(const uint8_t **d, size_t *n, size_t want, const uint8_t **out)
{
    size_t k = want < *n ? want : *n;
    *out = *d;
    *d += k;
    *n -= k;
    return k;
}

static bool value_ok(const model *m)
{
    if (m->depth == 0)
        return !m->done;
    return m->kind[m->depth - 1] == 1 ? m->key_due : true;
}

static void value_done(model *m)
{
    if (m->depth == 0)
        m->done = true;
    else
        m->key_due = false;
}

static void check_string_alone(const char *s, size_t n)
{
    fc_jw *w = fc_jw_new();
    if (!w)
        return;
    FZ_CHECK(fc_jw_string_len(w, s, n) == 0, "a string refused");
    size_t len = 0, off;
    const char *t = fc_jw_text(w, &len), *why;
    FZ_CHECK(t && fc__json_check_depth(t, len, 4, false, &off, &why) == 0, "string not JSON: %s",
             t ? t : "(none)");
    if (fc__utf8_valid(s, n)) {
        struct json_object *o = json_tokener_parse(t);
        FZ_CHECK(o && (size_t)json_object_get_string_len(o) == n &&
                     memcmp(json_object_get_string(o), s, n) == 0,
                 "string does not read back: %s", t);
        json_object_put(o);
    }
    fc_jw_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fc_jw *w = fc_jw_new();
    if (!w)
        return 0;
    model m = {{0}, 0, false, false};
    fc__buf out = {0};
    int err = 0;
    bool drained = false;
    const uint8_t *d = data;
    size_t n = size;
    while (n > 0) {
        uint8_t op = *d++;
        n--;
        const uint8_t *arg = d;
        size_t alen = 0;
        int rc = 0;
        bool want = false, may_refuse = false;
        size_t before = fc_jw_pending(w);
        switch (op % 14) {
        case 0:
        case 2:
            want = value_ok(&m) && m.depth < FC_JW_MAX_DEPTH;
            rc = op % 14 == 0 ? fc_jw_object_begin(w) : fc_jw_array_begin(w);
            if (!err && rc == FC_ERANGE && value_ok(&m))
                want = false, may_refuse = true; /* the depth limit */
            if (want && !rc) {
                m.key_due = false;
                m.kind[m.depth++] = op % 14 == 0 ? 1 : 2;
            }
            break;
        case 1:
        case 3:
            want = m.depth > 0 && m.kind[m.depth - 1] == (op % 14 == 1 ? 1 : 2) && !m.key_due;
            rc = op % 14 == 1 ? fc_jw_object_end(w) : fc_jw_array_end(w);
            if (want && !rc) {
                m.depth--;
                if (m.depth == 0)
                    m.done = true;
            }
            break;
        case 4: {
            alen = take(&d, &n, n ? *d % 16 : 0, &arg);
            want = m.depth > 0 && m.kind[m.depth - 1] == 1 && !m.key_due;
            rc = fc_jw_key_len(w, (const char *)arg, alen);
            if (want && !rc)
                m.key_due = true;
            break;
        }
        case 5:
            alen = take(&d, &n, n ? *d % 32 : 0, &arg);
            check_string_alone((const char *)arg, alen);
            want = value_ok(&m);
            rc = fc_jw_string_len(w, (const char *)arg, alen);
            break;
        case 6:
        case 7: {
            uint64_t v = 0;
            alen = take(&d, &n, 8, &arg);
            memcpy(&v, arg, alen);
            want = value_ok(&m);
            rc = op % 14 == 6 ? fc_jw_int(w, (long long)v) : fc_jw_uint(w, v);
            break;
        }
        case 8: {
            double v = 0;
            alen = take(&d, &n, 8, &arg);
            memcpy(&v, arg, alen);
            want = value_ok(&m) && isfinite(v);
            rc = fc_jw_double(w, v);
            break;
        }
        case 9:
            want = value_ok(&m);
            rc = fc_jw_bool(w, n && (*d & 1));
            break;
        case 10:
            want = value_ok(&m);
            rc = fc_jw_null(w);
            break;
        case 11:
        case 12: {
            alen = take(&d, &n, n ? *d % 64 : 0, &arg);
            want = value_ok(&m);
            may_refuse = true;
            if (op % 14 == 11) {
                rc = fc_jw_raw(w, (const char *)arg, alen);
            } else {
                struct json_object *o = NULL;
                char *copy = malloc(alen + 1);
                if (copy) {
                    memcpy(copy, arg, alen);
                    copy[alen] = '\0';
                    o = json_tokener_parse(copy);
                    free(copy);
                }
                rc = fc_jw_json(w, o); /* NULL (not JSON) writes null */
                json_object_put(o);
            }
            break;
        }
        case 13: {
            char buf[64];
            size_t max = n ? *d % sizeof buf : 0;
            long got = fc_jw_drain(w, buf, max);
            FZ_CHECK(got == err || (!err && got >= 0 && (size_t)got <= max &&
                                    (size_t)got == (before < max ? before : max)),
                     "drain gave %ld (error %d, %zu pending, max %zu)", got, err, before, max);
            if (got > 0) {
                fc__buf_append(&out, buf, (size_t)got);
                drained = true;
            }
            continue;
        }
        }
        if (err) {
            FZ_CHECK(rc == err && fc_jw_pending(w) == before, "after error %d: call %u gave %d",
                     err, op % 14, rc);
            continue;
        }
        if (rc) {
            FZ_CHECK(!want || may_refuse, "call %u refused (%d) where the model allows it", op % 14,
                     rc);
            FZ_CHECK(fc_jw_pending(w) == before || rc == FC_ENOMEM, "refused call %u wrote",
                     op % 14);
            FZ_CHECK(fc_jw_error(w) == rc, "error not kept");
            err = rc;
            continue;
        }
        FZ_CHECK(want, "call %u accepted where the model refuses it", op % 14);
        if (op % 14 >= 6 && op % 14 <= 8) {
            /* the number's text is the last thing written: it reads back as what was given */
            char text[48] = {0};
            size_t n0 = fc_jw_pending(w), k = 0;
            const char *end = fc__jw_buf(w) + n0;
            while (k < n0 && k < sizeof text - 1 && end[-1 - (long)k] != ',' && end[-1 - (long)k] != '[' &&
                   end[-1 - (long)k] != ':')
                k++;
            memcpy(text, end - k, k);
            uint64_t v = 0;
            memcpy(&v, arg, alen);
            if (op % 14 == 8) {
                double dv;
                memcpy(&dv, &v, sizeof dv);
                FZ_CHECK(strtod(text, NULL) == dv, "double %.17g written as %s", dv, text);
            } else {
                char want_text[32];
                if (op % 14 == 6)
                    snprintf(want_text, sizeof want_text, "%lld", (long long)v);
                else
                    snprintf(want_text, sizeof want_text, "%llu", (unsigned long long)v);
                FZ_CHECK(strcmp(text, want_text) == 0, "integer %s written as %s", want_text, text);
            }
        }
        if (op % 14 >= 5 && op % 14 <= 12)
            value_done(&m);
    }
    bool done = fc_jw_done(w);
    FZ_CHECK(done == (!err && m.done && m.depth == 0), "done %d, model %d/%u, error %d", done,
             m.done, m.depth, err);
    size_t len = 0;
    const char *t = fc_jw_text(w, &len);
    FZ_CHECK((t != NULL) == (done && !drained), "text %p, done %d, drained %d", (const void *)t,
             done, drained);
    if (done) {
        char *whole = t ? malloc(len + 1) : NULL;
        if (whole)
            memcpy(whole, t, len + 1);
        char buf[4096];
        long got;
        while ((got = fc_jw_drain(w, buf, sizeof buf)) > 0)
            fc__buf_append(&out, buf, (size_t)got);
        FZ_CHECK(got == 0, "final drain gave %ld", got);
        FZ_CHECK(!whole || (out.len == len && memcmp(out.data, whole, len) == 0),
                 "drained text differs from fc_jw_text");
        free(whole);
        size_t off = 0;
        const char *why = NULL;
        FZ_CHECK(fc__json_check_depth(out.data ? out.data : "", out.len, FC_JW_MAX_DEPTH, false,
                                      &off, &why) == 0,
                 "not JSON at %zu: %s", off, why);
    }
    fc__buf_free(&out);
    fc_jw_free(w);
    return 0;
}
