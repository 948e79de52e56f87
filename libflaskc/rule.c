/* rule.c — one rule, as Werkzeug's rules.py: rule text compiled to pieces, segments and
 * converters, values checked by converters, a rule's URL for url_for (router.c files rules). */
#include "router_int.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fc__rule_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FC_EINVAL;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident(char c) { return is_ident_start(c) || is_digit(c); }
static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* ----- converters --------------------------------------------------------- */

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* strtod of z[0..n), z[n] == '\0', independent of LC_NUMERIC; any length (Python's float()
 * of the text: a value too large is inf). 0, FC_EINVAL (not all of it a number), FC_ENOMEM. */
static int parse_double(const char *z, size_t n, double *out)
{
    char tmp[64], *buf = NULL, *end;
    const char *dp = localeconv()->decimal_point;
    const char *dot = n ? memchr(z, '.', n) : NULL;
    if (n == 0)
        return FC_EINVAL;
    if (dot && dp && dp[0] && dp[0] != '.' && !dp[1]) { /* a copy with the locale's point */
        if (n >= sizeof(tmp) && !(buf = malloc(n + 1)))
            return FC_ENOMEM;
        char *c = buf ? buf : tmp;
        memcpy(c, z, n + 1);
        c[dot - z] = dp[0];
        z = c;
    }
    double d = strtod(z, &end);
    bool all = end == z + n;
    free(buf);
    if (!all)
        return FC_EINVAL;
    *out = d;
    return 0;
}

/* Werkzeug's "-?\d+": fc__parse_ll, except that a '+' sign is refused, as
 * Werkzeug does ("/n/+5" is a 404, "min=+1" a bad rule). */
static bool parse_int(const char *s, size_t n, bool allow_sign, long long *out)
{
    return !(n > 0 && s[0] == '+') && fc__parse_ll(s, n, allow_sign, out) == 0;
}

static bool float_syntax(const char *s, size_t n, bool allow_sign)
{
    size_t i = 0, a, b;
    if (allow_sign && n && s[0] == '-')
        i++;
    for (a = i; i < n && is_digit(s[i]); i++)
        ;
    if (i == a || i == n || s[i] != '.')
        return false;
    for (b = ++i; i < n && is_digit(s[i]); i++)
        ;
    return i == n && i > b;
}

bool fc__uuid_syntax(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

/* Werkzeug's to_python: fixed_digits (Python's len(), so the sign counts), then the value
 * against min and max. */
int fc__rule_convert(const struct conv *cv, const char *z, size_t n, long long *i, double *d)
{
    int rc;
    switch (cv->type) {
    case FC__ARG_INT:
        if (!parse_int(z, n, cv->is_signed, i))
            return FC_EINVAL; /* past 64 bits: the matcher refused its shape already */
        if (cv->fixed_digits && n != cv->fixed_digits)
            return FC_EINVAL;
        return (cv->has_min && *i < cv->imin) || (cv->has_max && *i > cv->imax) ? FC_EINVAL : 0;
    case FC__ARG_FLOAT:
        if ((rc = parse_double(z, n, d)) < 0)
            return rc;
        return (cv->has_min && *d < cv->dmin) || (cv->has_max && *d > cv->dmax) ? FC_EINVAL : 0;
    case FC__ARG_STRING:
    case FC__ARG_PATH:
    case FC__ARG_UUID:
    case FC__ARG_ANY:
        break;
    }
    return 0;
}

/* url_for's check of a value: its shape and its conversion. */
static int value_check(const struct conv *cv, const char *z, size_t n, long long *i, double *d)
{
    switch (cv->type) {
    case FC__ARG_STRING: {
        size_t c = utf8_chars(z, n);
        return c >= cv->minlen && c <= cv->maxlen ? 0 : FC_EINVAL;
    }
    case FC__ARG_PATH:
        return n > 0 && z[0] != '/' ? 0 : FC_EINVAL;
    case FC__ARG_INT:
        if (!parse_int(z, n, cv->is_signed, i))
            return FC_EINVAL;
        break;
    case FC__ARG_FLOAT:
        if (!float_syntax(z, n, cv->is_signed))
            return FC_EINVAL;
        break;
    case FC__ARG_UUID:
        return fc__uuid_syntax(z, n) ? 0 : FC_EINVAL;
    case FC__ARG_ANY:
        for (size_t k = 0; k < cv->nitems; k++)
            if (strlen(cv->items[k]) == n && memcmp(cv->items[k], z, n) == 0)
                return 0;
        return FC_EINVAL;
    }
    return fc__rule_convert(cv, z, n, i, d);
}

static bool arg_bool(const char *v, bool *out)
{
    if (!strcmp(v, "True") || !strcmp(v, "true") || !strcmp(v, "False") || !strcmp(v, "false")) {
        *out = v[0] == 'T' || v[0] == 't';
        return true;
    }
    return false;
}

/* Positional order of each converter's arguments (Werkzeug's signatures). */
static const char *const conv_params[][4] = {
    [FC__ARG_STRING] = {"minlength", "maxlength", "length", NULL},
    [FC__ARG_INT] = {"fixed_digits", "min", "max", "signed"},
    [FC__ARG_FLOAT] = {"min", "max", "signed", NULL},
};

/* Apply one argument: "key=value", or the @p pos-th positional value. */
static int conv_arg(struct conv *cv, const char *key, size_t klen, size_t pos, const char *v,
                    size_t vl, char *err, size_t errlen)
{
    const char *name = NULL;
    char t[64];
    long long ll;
    double d;
    int rc;
    if (cv->type == FC__ARG_ANY) {
        if (key)
            return fc__rule_seterr(err, errlen, "any() takes only positional items");
        if (fc__vec_grow((void **)&cv->items, &cv->capitems, cv->nitems + 1, sizeof(char *)) < 0 ||
            !(cv->items[cv->nitems] = malloc(vl + 1)))
            return FC_ENOMEM;
        memcpy(cv->items[cv->nitems], v, vl);
        cv->items[cv->nitems++][vl] = '\0';
        return 0;
    }
    for (size_t p = 0; cv->type <= FC__ARG_FLOAT && p < 4 && conv_params[cv->type][p]; p++) {
        const char *c = conv_params[cv->type][p];
        if (key ? strlen(c) == klen && !memcmp(c, key, klen) : p == pos)
            name = c;
    }
    if (!name)
        return fc__rule_seterr(err, errlen, "unexpected converter argument '%.*s'",
                      (int)(key ? klen : vl), key ? key : v);
    if (vl >= sizeof(t))
        return fc__rule_seterr(err, errlen, "argument %s is too long", name);
    memcpy(t, v, vl);
    t[vl] = '\0';
    if (!strcmp(name, "signed")) {
        if (!arg_bool(t, &cv->is_signed))
            return fc__rule_seterr(err, errlen, "signed must be True or False");
    } else if (cv->type == FC__ARG_FLOAT) {
        if ((rc = parse_double(t, vl, &d)) == FC_ENOMEM)
            return rc;
        if (rc < 0 || !isfinite(d))
            return fc__rule_seterr(err, errlen, "%s must be a number", name);
        *(name[1] == 'i' ? &cv->dmin : &cv->dmax) = d;
        *(name[1] == 'i' ? &cv->has_min : &cv->has_max) = true;
    } else if (!parse_int(t, vl, cv->type == FC__ARG_INT && name[0] == 'm', &ll) ||
               (name[0] == 'f' && ll > 64)) {
        return fc__rule_seterr(err, errlen, "%s must be a %s integer", name,
                      name[0] == 'm' && cv->type == FC__ARG_INT ? "" : "small non-negative");
    } else if (cv->type == FC__ARG_INT) {
        if (name[0] == 'f') {
            cv->fixed_digits = (unsigned)ll;
        } else {
            *(name[1] == 'i' ? &cv->imin : &cv->imax) = ll;
            *(name[1] == 'i' ? &cv->has_min : &cv->has_max) = true;
        }
    } else {
        if (name[0] != 'm' || name[1] == 'i')
            cv->minlen = (size_t)ll; /* minlength, length */
        if (name[0] != 'm' || name[1] == 'a')
            cv->maxlen = (size_t)ll; /* maxlength, length */
    }
    return 0;
}

/* Parse "a, k=v, 'q,uoted'" and apply each argument to the converter. */
static int conv_args(struct conv *cv, const char *s, size_t n, char *err, size_t errlen)
{
    size_t i = 0, pos = 0;
    bool seen_key = false;
    int rc;
    while (i < n) {
        const char *key = NULL;
        size_t k, e, vs, ve;
        while (i < n && is_space(s[i]))
            i++;
        for (k = i; k < n && is_ident(s[k]); k++)
            ;
        for (e = k; e < n && is_space(s[e]); e++)
            ;
        if (k > i && e < n && s[e] == '=') {
            key = s + i;
            for (i = e + 1; i < n && is_space(s[i]); i++)
                ;
        }
        if (i < n && (s[i] == '"' || s[i] == '\'')) {
            const char *q = memchr(s + i + 1, s[i], n - i - 1);
            if (!q)
                return fc__rule_seterr(err, errlen, "unterminated quote in converter arguments");
            vs = i + 1;
            ve = (size_t)(q - s);
            i = ve + 1;
        } else {
            for (vs = i; i < n && s[i] != ','; i++)
                ;
            for (ve = i; ve > vs && is_space(s[ve - 1]); ve--)
                ;
            if (ve == vs)
                return fc__rule_seterr(err, errlen, "empty converter argument");
        }
        if (!key && seen_key)
            return fc__rule_seterr(err, errlen, "positional argument after a keyword argument");
        seen_key = key != NULL;
        if ((rc = conv_arg(cv, key, key ? k - (size_t)(key - s) : 0, pos++, s + vs, ve - vs, err,
                           errlen)) < 0)
            return rc;
        while (i < n && is_space(s[i]))
            i++;
        if (i < n && s[i] != ',')
            return fc__rule_seterr(err, errlen, "expected ',' in converter arguments");
        i++;
    }
    if (cv->type == FC__ARG_ANY && cv->nitems == 0)
        return fc__rule_seterr(err, errlen, "any() needs at least one item");
    if (cv->minlen > cv->maxlen)
        return fc__rule_seterr(err, errlen, "minlength is greater than maxlength");
    return 0;
}

static int conv_setup(struct conv *cv, const char *name, size_t nlen, const char *args,
                      size_t alen, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        fc__argtype type;
        int weight;
    } table[] = {
        {"default", FC__ARG_STRING, 100}, {"string", FC__ARG_STRING, 100},
        {"int", FC__ARG_INT, 50},         {"float", FC__ARG_FLOAT, 50},
        {"path", FC__ARG_PATH, 200},      {"uuid", FC__ARG_UUID, 50},
        {"any", FC__ARG_ANY, 100},
    };
    memset(cv, 0, sizeof(*cv));
    cv->minlen = 1;
    cv->maxlen = SIZE_MAX;
    for (size_t t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
        if (strlen(table[t].name) != nlen || memcmp(table[t].name, name, nlen) != 0)
            continue;
        cv->type = table[t].type;
        cv->weight = table[t].weight;
        if (args || cv->type == FC__ARG_ANY)
            return conv_args(cv, args, alen, err, errlen);
        return 0;
    }
    return fc__rule_seterr(err, errlen, "unknown converter '%.*s'", (int)nlen, name);
}

static void conv_free(struct conv *cv)
{
    for (size_t k = 0; k < cv->nitems; k++)
        free(cv->items[k]);
    free(cv->items);
}

void fc__rule_free(struct rule *ru)
{
    if (!ru)
        return;
    for (size_t i = 0; i < ru->npieces; i++)
        free(ru->pieces[i].lit);
    for (size_t i = 0; i < ru->nvars; i++) {
        free(ru->vars[i].name);
        conv_free(&ru->vars[i].cv);
    }
    for (size_t i = 0; i < ru->nsegs; i++)
        free(ru->segs[i].key);
    free(ru->pieces);
    free(ru->vars);
    free(ru->segs);
    free(ru->text);
    free(ru->endpoint);
    free(ru);
}

/* ----- the rule compiler -------------------------------------------------- */

struct pbuf {
    size_t cap_pieces, cap_vars, cap_segs;
};

static int add_literal(struct rule *ru, struct pbuf *pb, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (fc__vec_grow((void **)&ru->pieces, &pb->cap_pieces, ru->npieces + 1,
                     sizeof(struct piece)) < 0)
        return FC_ENOMEM;
    struct piece *p = &ru->pieces[ru->npieces];
    if (!(p->lit = malloc(n + 1)))
        return FC_ENOMEM;
    memcpy(p->lit, s, n);
    p->lit[n] = '\0';
    p->litlen = n;
    p->var = -1;
    ru->npieces++;
    return 0;
}

/* Parse "<conv(args):name>" at text[*i] == '<'; appends a var piece. */
static int add_var(struct rule *ru, struct pbuf *pb, const char *t, size_t n, size_t *ip,
                   char *err, size_t errlen)
{
    size_t i = *ip + 1, cs = i, as = 0, ae = 0;
    bool has_args = false;
    while (i < n && is_ident(t[i]))
        i++;
    size_t ce = i;
    if (ce == cs || !is_ident_start(t[cs]))
        return fc__rule_seterr(err, errlen, "bad variable name at offset %zu", cs);
    if (i < n && t[i] == '(') {
        has_args = true;
        as = ++i;
        char q = 0;
        while (i < n && (q || t[i] != ')')) {
            if (q && t[i] == q)
                q = 0;
            else if (!q && (t[i] == '"' || t[i] == '\''))
                q = t[i];
            i++;
        }
        if (i == n)
            return fc__rule_seterr(err, errlen, "unclosed '(' in converter");
        ae = i++;
        if (i == n || t[i] != ':')
            return fc__rule_seterr(err, errlen, "expected ':' after converter arguments");
    }
    const char *cname = "default", *vname = t + cs;
    size_t cnlen = 7, vlen = ce - cs, spec_len = 0;
    if (i < n && t[i] == ':') {
        cname = t + cs;
        cnlen = ce - cs;
        spec_len = i - cs;
        size_t vs = ++i;
        while (i < n && is_ident(t[i]))
            i++;
        if (i == vs || !is_ident_start(t[vs]))
            return fc__rule_seterr(err, errlen, "bad variable name at offset %zu", vs);
        vname = t + vs;
        vlen = i - vs;
    }
    while (i < n && is_space(t[i]))
        i++;
    if (i == n || t[i] != '>')
        return fc__rule_seterr(err, errlen, "expected '>' at offset %zu", i);
    *ip = i + 1;
    for (size_t k = 0; k < ru->nvars; k++)
        if (strlen(ru->vars[k].name) == vlen && !memcmp(ru->vars[k].name, vname, vlen))
            return fc__rule_seterr(err, errlen, "variable '%.*s' used twice", (int)vlen, vname);
    if (ru->nvars >= FC__RULE_MAX_VARS)
        return fc__rule_seterr(err, errlen, "too many variables (max %d)", FC__RULE_MAX_VARS);
    if (fc__vec_grow((void **)&ru->vars, &pb->cap_vars, ru->nvars + 1, sizeof(struct var)) < 0 ||
        fc__vec_grow((void **)&ru->pieces, &pb->cap_pieces, ru->npieces + 1,
                     sizeof(struct piece)) < 0)
        return FC_ENOMEM;
    struct var *v = &ru->vars[ru->nvars];
    int rc = conv_setup(&v->cv, cname, cnlen, has_args ? t + as : NULL, ae - as, err, errlen);
    if (rc < 0) {
        conv_free(&v->cv);
        return rc;
    }
    if (!(v->name = malloc(vlen + 1))) {
        conv_free(&v->cv);
        return FC_ENOMEM;
    }
    memcpy(v->name, vname, vlen);
    v->name[vlen] = '\0';
    v->spec_off = cs;
    v->spec_len = spec_len;
    ru->pieces[ru->npieces++] = (struct piece){NULL, 0, (int)ru->nvars++};
    return 0;
}

/* Close the segment made of pieces [first, npieces): its key and kind. */
static int add_seg(struct rule *ru, struct pbuf *pb, size_t first, bool final, bool suffixed,
                   const char *text)
{
    if (fc__vec_grow((void **)&ru->segs, &pb->cap_segs, ru->nsegs + 1, sizeof(struct seg)) < 0)
        return FC_ENOMEM;
    struct seg *s = &ru->segs[ru->nsegs];
    size_t len = 0;
    s->first = first;
    s->count = ru->npieces - first;
    s->final = final;
    s->suffixed = suffixed;
    s->is_static = s->count == 0 || (s->count == 1 && ru->pieces[first].var < 0);
    /* key: literals as is, a variable as "<" + its converter spec + ">" */
    s->nvars = 0;
    for (size_t k = first; k < ru->npieces; k++) {
        len += ru->pieces[k].var < 0 ? ru->pieces[k].litlen
                                     : 2 + ru->vars[ru->pieces[k].var].spec_len;
        s->nvars += ru->pieces[k].var >= 0;
    }
    if (!(s->key = malloc(len + 1)))
        return FC_ENOMEM;
    len = 0;
    for (size_t k = first; k < ru->npieces; k++) {
        const struct piece *p = &ru->pieces[k];
        if (p->var < 0) {
            memcpy(s->key + len, p->lit, p->litlen);
            len += p->litlen;
            continue;
        }
        const struct var *v = &ru->vars[p->var];
        s->key[len++] = '<';
        memcpy(s->key + len, text + v->spec_off, v->spec_len);
        len += v->spec_len;
        s->key[len++] = '>';
    }
    s->key[len] = '\0';
    s->keylen = len;
    ru->nsegs++;
    return 0;
}

int fc__rule_parse(struct rule *ru, const char *t, char *err, size_t errlen)
{
    struct pbuf pb = {0, 0, 0};
    size_t n = strlen(t), i = 1;
    int rc;
    if (n == 0 || t[0] != '/')
        return fc__rule_seterr(err, errlen, "rule must start with '/'");
    for (;;) {
        size_t first = ru->npieces, lit = i;
        bool final = false, suffixed = false;
        while (i < n && (final || t[i] != '/')) {
            if (t[i] == '>')
                return fc__rule_seterr(err, errlen, "unexpected '>' at offset %zu", i);
            if (t[i] != '<') {
                i++;
                continue;
            }
            if ((rc = add_literal(ru, &pb, t + lit, i - lit)) < 0 ||
                (rc = add_var(ru, &pb, t, n, &i, err, errlen)) < 0)
                return rc;
            lit = i;
            if (!ru->vars || !ru->nvars) /* add_var added one: cannot happen */
                return FC_EINVAL;
            if (ru->vars[ru->nvars - 1].cv.type == FC__ARG_PATH)
                final = true;
        }
        size_t end = i;
        if (final && t[n - 1] == '/' && lit < n) {
            suffixed = true;
            end = n - 1;
        }
        if ((rc = add_literal(ru, &pb, t + lit, end - lit)) < 0 ||
            (rc = add_seg(ru, &pb, first, final, suffixed, t)) < 0)
            return rc;
        if (final) {
            if (suffixed && (rc = add_seg(ru, &pb, ru->npieces, false, false, t)) < 0)
                return rc;
            return 0;
        }
        if (ru->npieces == first && i < n)
            return fc__rule_seterr(err, errlen, "empty path segment ('//') at offset %zu", i);
        if (i == n)
            return 0;
        if (++i == n)
            return add_seg(ru, &pb, ru->npieces, false, false, t);
    }
}

/* ----- url_for ------------------------------------------------------------ */

#define PATH_SAFE "!$&'()*+,;=:@"
#define QUERY_SAFE "!$'()*,/:;?@"

static const char *kv_get(const char *const *kv, const char *name)
{
    for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
        if (!strcmp(kv[i], name))
            return kv[i + 1];
    return NULL;
}

static bool is_var(const struct rule *ru, const char *name)
{
    for (size_t k = 0; k < ru->nvars; k++)
        if (!strcmp(ru->vars[k].name, name))
            return true;
    return false;
}

/* Append one variable's value in URL form; false when the converter refuses
 * it. An append that runs out of memory sets *oom and the walk goes on. */
static bool put_value(fc__buf *b, const struct conv *cv, const char *v, bool *oom)
{
    size_t n = strlen(v);
    long long i;
    double d;
    char tmp[48];
    struct conv loose = *cv;
    loose.fixed_digits = 0; /* "5" builds as "0005" */
    int rc = value_check(&loose, v, n, &i, &d);
    if (rc == FC_ENOMEM) {
        *oom = true;
        return true;
    }
    if (rc < 0)
        return false;
    switch (cv->type) {
    case FC__ARG_INT:
        snprintf(tmp, sizeof(tmp), "%0*lld", (int)cv->fixed_digits, i);
        *oom |= fc__buf_puts(b, tmp) != 0;
        return true;
    case FC__ARG_UUID:
        for (size_t k = 0; k < n && k < sizeof(tmp); k++)
            tmp[k] = (char)((v[k] >= 'A' && v[k] <= 'F') ? v[k] + 32 : v[k]);
        *oom |= fc__buf_append(b, tmp, n) != 0;
        return true;
    case FC__ARG_PATH:
        *oom |= fc__url_encode(b, v, n, PATH_SAFE "/", false) != 0;
        return true;
    case FC__ARG_STRING:
    case FC__ARG_FLOAT:
    case FC__ARG_ANY:
        break;
    }
    *oom |= fc__url_encode(b, v, n, PATH_SAFE, false) != 0;
    return true;
}

bool fc__rule_suitable(const struct rule *ru, const char *const *kv)
{
    for (size_t k = 0; k < ru->nvars; k++)
        if (!kv_get(kv, ru->vars[k].name))
            return false;
    return true;
}

int fc__rule_build(const struct rule *ru, const char *const *kv, size_t nkv, char **out)
{
    fc__buf b = {NULL, 0, 0};
    /* an append that fails is only reported at the end: a value the
     * converter refuses is FC_EINVAL even after an out-of-memory */
    bool oom = false;
    *out = NULL;
    for (size_t s = 0; s < ru->nsegs; s++) {
        oom |= fc__buf_append(&b, "/", 1) != 0;
        const struct seg *sg = &ru->segs[s];
        for (size_t k = sg->first; k < sg->first + sg->count; k++) {
            const struct piece *p = &ru->pieces[k];
            if (p->var < 0) {
                oom |= fc__url_encode(&b, p->lit, p->litlen, PATH_SAFE "/", false) != 0;
            } else if (!put_value(&b, &ru->vars[p->var].cv, kv_get(kv, ru->vars[p->var].name),
                                  &oom)) {
                fc__buf_free(&b);
                return FC_EINVAL;
            }
        }
    }
    bool first = true;
    for (size_t i = 0; i < nkv; i += 2) {
        if (is_var(ru, kv[i]))
            continue;
        oom |= fc__buf_append(&b, first ? "?" : "&", 1) != 0;
        first = false;
        oom |= fc__url_encode(&b, kv[i], strlen(kv[i]), QUERY_SAFE, true) != 0;
        oom |= fc__buf_append(&b, "=", 1) != 0;
        oom |= fc__url_encode(&b, kv[i + 1], strlen(kv[i + 1]), QUERY_SAFE, true) != 0;
    }
    if (oom || !fc__buf_cstr(&b)) {
        fc__buf_free(&b);
        return FC_ENOMEM;
    }
    *out = b.data;
    return 0;
}
