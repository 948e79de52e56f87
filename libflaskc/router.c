/* router.c — the rule compiler, the segment trie and matching with Werkzeug's
 * semantics (404, 405 + Allow, 308 slash/merge redirects, HEAD, OPTIONS), url_for. */
#include "internal.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VARS 32 /* variables in one rule (bounds the capture stack) */

static const char *const method_names[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                           "PATCH", "OPTIONS", "TRACE", "CONNECT"};
#define NMETHODS (sizeof(method_names) / sizeof(method_names[0]))

/* ----- rules ------------------------------------------------------------ */

struct conv {
    fc__argtype type;
    int weight;           /* Werkzeug weight: lower is tried first */
    size_t minlen, maxlen; /* string, in code points */
    bool is_signed;       /* int, float */
    unsigned fixed_digits; /* int, 0 = any */
    bool has_min, has_max;
    long long imin, imax;
    double dmin, dmax;
    char **items; /* any */
    size_t nitems, capitems;
};

struct var {
    char *name;
    struct conv cv;
    size_t spec_off, spec_len; /* "int(max=5)" in the rule text, for node keys */
};

/* A rule is a list of pieces: literal text or a variable. */
struct piece {
    char *lit; /* literal when var < 0 */
    size_t litlen;
    int var;
};

/* One trie step: the pieces of one path segment, or of everything from the
 * segment holding a path converter to the end ("final"). */
struct seg {
    size_t first, count;
    bool is_static, final, suffixed;
    char *key; /* static: the text; dynamic: the pattern without names */
    size_t keylen;
};

struct rule {
    char *text, *endpoint;
    void *route;
    unsigned methods, explicit_methods, flags;
    bool auto_options;
    struct piece *pieces;
    size_t npieces;
    struct var *vars;
    size_t nvars;
    struct seg *segs;
    size_t nsegs;
};

struct node;
struct schild {
    const char *label; /* borrowed from the rule that made it */
    size_t len;
    struct node *n;
};

struct node {
    struct schild *st; /* sorted by (len, bytes): binary search */
    size_t nst, capst;
    struct node **dyn; /* sorted by weight, then creation order */
    size_t ndyn, capdyn;
    const struct rule **rules; /* rules ending here, registration order */
    size_t nrules, caprules;
    /* dynamic nodes: the pattern, borrowed from the rule that made the node */
    const struct piece *pieces;
    size_t npieces;
    const struct var *vars;
    const char *key;
    size_t keylen;
    bool final, suffixed;
    size_t order;
};

struct fc__router {
    struct node *root;
    struct rule **rules; /* registered, in order */
    size_t nrules;
    struct rule **owned; /* every parsed rule, also failed ones nodes may borrow from */
    size_t nowned, capowned;
    size_t nodes_made;
};

__attribute__((format(printf, 3, 4))) static int seterr(char *err, size_t errlen, const char *fmt, ...)
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

/* ----- methods ---------------------------------------------------------- */

unsigned fc__method_bit(const char *name)
{
    for (size_t i = 0; name && i < NMETHODS; i++)
        if (strcmp(name, method_names[i]) == 0)
            return 1u << i;
    return 0;
}

static bool is_method_sep(char c) { return c == ',' || c == '|' || c == ' ' || c == '\t'; }

int fc__methods_parse(const char *spec, unsigned *mask)
{
    unsigned m = 0;
    if (!spec || !mask)
        return FC_EINVAL;
    const char *p = spec;
    while (*p) {
        if (is_method_sep(*p)) {
            p++;
            continue;
        }
        size_t n = 0;
        while (p[n] && !is_method_sep(p[n]))
            n++;
        unsigned bit = 0;
        for (size_t i = 0; i < NMETHODS && !bit; i++)
            if (strlen(method_names[i]) == n && fc__strncasecmp(p, method_names[i], n) == 0)
                bit = 1u << i;
        if (!bit)
            return FC_EINVAL;
        m |= bit;
        p += n;
    }
    if (!m)
        return FC_EINVAL;
    *mask = m;
    return 0;
}

void fc__methods_format(unsigned mask, char *buf, size_t cap)
{
    size_t len = 0;
    if (!buf || !cap)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < NMETHODS; i++) {
        if (!(mask & (1u << i)))
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", method_names[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            buf[len] = '\0'; /* never a truncated name */
            return;
        }
        len += (size_t)w;
    }
}

/* ----- converters --------------------------------------------------------- */

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* strtod for "[-]digits[.digits]" independent of LC_NUMERIC. */
static bool parse_double(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    const char *dp = localeconv()->decimal_point;
    char *dot = memchr(tmp, '.', n);
    if (dot && dp && dp[0] && dp[0] != '.' && !dp[1])
        *dot = dp[0];
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* Werkzeug's "-?\d+": fc__parse_ll, except that a '+' sign is refused, as
 * Werkzeug does ("/n/+5" is a 404, "min=+1" a bad rule). *ndigits: without the sign. */
static bool parse_int(const char *s, size_t n, bool allow_sign, long long *out, size_t *ndigits)
{
    if ((n > 0 && s[0] == '+') || fc__parse_ll(s, n, allow_sign, out) != 0)
        return false;
    if (ndigits)
        *ndigits = n - (s[0] == '-');
    return true;
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

static bool uuid_syntax(const char *s, size_t n)
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

/* Does the converter accept s[0..n)? i/d get the typed value. */
static bool conv_check(const struct conv *cv, const char *s, size_t n, long long *i, double *d)
{
    switch (cv->type) {
    case FC__ARG_STRING: {
        size_t c = utf8_chars(s, n);
        return c >= cv->minlen && c <= cv->maxlen;
    }
    case FC__ARG_PATH:
        return n > 0 && s[0] != '/';
    case FC__ARG_INT: {
        size_t nd;
        if (!parse_int(s, n, cv->is_signed, i, &nd))
            return false;
        if (cv->fixed_digits && nd != cv->fixed_digits)
            return false;
        return !(cv->has_min && *i < cv->imin) && !(cv->has_max && *i > cv->imax);
    }
    case FC__ARG_FLOAT:
        if (!float_syntax(s, n, cv->is_signed) || !parse_double(s, n, d))
            return false;
        return !(cv->has_min && *d < cv->dmin) && !(cv->has_max && *d > cv->dmax);
    case FC__ARG_UUID:
        return uuid_syntax(s, n);
    case FC__ARG_ANY:
        for (size_t k = 0; k < cv->nitems; k++)
            if (strlen(cv->items[k]) == n && memcmp(cv->items[k], s, n) == 0)
                return true;
        return false;
    }
    return false;
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
    if (cv->type == FC__ARG_ANY) {
        if (key)
            return seterr(err, errlen, "any() takes only positional items");
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
        return seterr(err, errlen, "unexpected converter argument '%.*s'",
                      (int)(key ? klen : vl), key ? key : v);
    if (vl >= sizeof(t))
        return seterr(err, errlen, "argument %s is too long", name);
    memcpy(t, v, vl);
    t[vl] = '\0';
    if (!strcmp(name, "signed")) {
        if (!arg_bool(t, &cv->is_signed))
            return seterr(err, errlen, "signed must be True or False");
    } else if (cv->type == FC__ARG_FLOAT) {
        if (!parse_double(t, vl, &d))
            return seterr(err, errlen, "%s must be a number", name);
        *(name[1] == 'i' ? &cv->dmin : &cv->dmax) = d;
        *(name[1] == 'i' ? &cv->has_min : &cv->has_max) = true;
    } else if (!parse_int(t, vl, cv->type == FC__ARG_INT && name[0] == 'm', &ll, NULL) ||
               (name[0] == 'f' && ll > 64)) {
        return seterr(err, errlen, "%s must be a %s integer", name,
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
                return seterr(err, errlen, "unterminated quote in converter arguments");
            vs = i + 1;
            ve = (size_t)(q - s);
            i = ve + 1;
        } else {
            for (vs = i; i < n && s[i] != ','; i++)
                ;
            for (ve = i; ve > vs && is_space(s[ve - 1]); ve--)
                ;
            if (ve == vs)
                return seterr(err, errlen, "empty converter argument");
        }
        if (!key && seen_key)
            return seterr(err, errlen, "positional argument after a keyword argument");
        seen_key = key != NULL;
        if ((rc = conv_arg(cv, key, key ? k - (size_t)(key - s) : 0, pos++, s + vs, ve - vs, err,
                           errlen)) < 0)
            return rc;
        while (i < n && is_space(s[i]))
            i++;
        if (i < n && s[i] != ',')
            return seterr(err, errlen, "expected ',' in converter arguments");
        i++;
    }
    if (cv->type == FC__ARG_ANY && cv->nitems == 0)
        return seterr(err, errlen, "any() needs at least one item");
    if (cv->minlen > cv->maxlen)
        return seterr(err, errlen, "minlength is greater than maxlength");
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
    return seterr(err, errlen, "unknown converter '%.*s'", (int)nlen, name);
}

static void conv_free(struct conv *cv)
{
    for (size_t k = 0; k < cv->nitems; k++)
        free(cv->items[k]);
    free(cv->items);
}

static void rule_free(struct rule *ru)
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
        return seterr(err, errlen, "bad variable name at offset %zu", cs);
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
            return seterr(err, errlen, "unclosed '(' in converter");
        ae = i++;
        if (i == n || t[i] != ':')
            return seterr(err, errlen, "expected ':' after converter arguments");
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
            return seterr(err, errlen, "bad variable name at offset %zu", vs);
        vname = t + vs;
        vlen = i - vs;
    }
    while (i < n && is_space(t[i]))
        i++;
    if (i == n || t[i] != '>')
        return seterr(err, errlen, "expected '>' at offset %zu", i);
    *ip = i + 1;
    for (size_t k = 0; k < ru->nvars; k++)
        if (strlen(ru->vars[k].name) == vlen && !memcmp(ru->vars[k].name, vname, vlen))
            return seterr(err, errlen, "variable '%.*s' used twice", (int)vlen, vname);
    if (ru->nvars >= MAX_VARS)
        return seterr(err, errlen, "too many variables (max %d)", MAX_VARS);
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
    for (size_t k = first; k < ru->npieces; k++)
        len += ru->pieces[k].var < 0 ? ru->pieces[k].litlen
                                     : 2 + ru->vars[ru->pieces[k].var].spec_len;
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

static int rule_parse(struct rule *ru, const char *t, char *err, size_t errlen)
{
    struct pbuf pb = {0, 0, 0};
    size_t n = strlen(t), i = 1;
    int rc;
    if (n == 0 || t[0] != '/')
        return seterr(err, errlen, "rule must start with '/'");
    for (;;) {
        size_t first = ru->npieces, lit = i;
        bool final = false, suffixed = false;
        while (i < n && (final || t[i] != '/')) {
            if (t[i] == '>')
                return seterr(err, errlen, "unexpected '>' at offset %zu", i);
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
            return seterr(err, errlen, "empty path segment ('//') at offset %zu", i);
        if (i == n)
            return 0;
        if (++i == n)
            return add_seg(ru, &pb, ru->npieces, false, false, t);
    }
}

/* ----- the trie ----------------------------------------------------------- */

static void node_free(struct node *nd)
{
    if (!nd)
        return;
    for (size_t i = 0; i < nd->nst; i++)
        node_free(nd->st[i].n);
    for (size_t i = 0; i < nd->ndyn; i++)
        node_free(nd->dyn[i]);
    free(nd->st);
    free(nd->dyn);
    free(nd->rules);
    free(nd);
}

static int label_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    if (al != bl)
        return al < bl ? -1 : 1;
    return memcmp(a, b, al);
}

/* Index of the static child @p s, or where it would go (found = false). */
static size_t static_find(const struct node *nd, const char *s, size_t n, bool *found)
{
    size_t lo = 0, hi = nd->nst;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = label_cmp(nd->st[mid].label, nd->st[mid].len, s, n);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static const struct node *static_child(const struct node *nd, const char *s, size_t n)
{
    bool found;
    size_t i = static_find(nd, s, n, &found);
    return found ? nd->st[i].n : NULL;
}

/* The static lengths and converter weights of a pattern, in order. */
static void pattern_weights(const struct node *d, size_t *sl, size_t *ns, int *aw, size_t *na)
{
    *ns = *na = 0;
    for (size_t i = 0; i < d->npieces; i++) {
        if (d->pieces[i].var < 0)
            sl[(*ns)++] = d->pieces[i].litlen;
        else
            aw[(*na)++] = d->vars[d->pieces[i].var].cv.weight;
    }
}

/* Werkzeug's Weighting(-nstatic, [(i, -len)], -nargs, [weights]), then age. */
static int weight_cmp(const struct node *a, const struct node *b)
{
    size_t sla[MAX_VARS + 1], slb[MAX_VARS + 1], nsa, nsb, naa, nab;
    int awa[MAX_VARS], awb[MAX_VARS];
    pattern_weights(a, sla, &nsa, awa, &naa);
    pattern_weights(b, slb, &nsb, awb, &nab);
    if (nsa != nsb)
        return nsa > nsb ? -1 : 1;
    for (size_t i = 0; i < nsa; i++)
        if (sla[i] != slb[i])
            return sla[i] > slb[i] ? -1 : 1;
    if (naa != nab)
        return naa > nab ? -1 : 1;
    for (size_t i = 0; i < naa; i++)
        if (awa[i] != awb[i])
            return awa[i] < awb[i] ? -1 : 1;
    return a->order < b->order ? -1 : 1;
}

static struct node *node_child(fc__router *r, struct node *nd, const struct rule *ru,
                               const struct seg *s)
{
    struct node *c;
    if (s->is_static) {
        bool found;
        size_t i = static_find(nd, s->key, s->keylen, &found);
        if (found)
            return nd->st[i].n;
        if (fc__vec_grow((void **)&nd->st, &nd->capst, nd->nst + 1, sizeof(*nd->st)) < 0 ||
            !(c = calloc(1, sizeof(*c))))
            return NULL;
        memmove(nd->st + i + 1, nd->st + i, (nd->nst - i) * sizeof(*nd->st));
        nd->st[i] = (struct schild){s->key, s->keylen, c};
        nd->nst++;
        return c;
    }
    for (size_t i = 0; i < nd->ndyn; i++) {
        c = nd->dyn[i];
        if (c->final == s->final && c->suffixed == s->suffixed &&
            !label_cmp(c->key, c->keylen, s->key, s->keylen))
            return c;
    }
    if (fc__vec_grow((void **)&nd->dyn, &nd->capdyn, nd->ndyn + 1, sizeof(*nd->dyn)) < 0 ||
        !(c = calloc(1, sizeof(*c))))
        return NULL;
    c->pieces = ru->pieces + s->first;
    c->npieces = s->count;
    c->vars = ru->vars;
    c->key = s->key;
    c->keylen = s->keylen;
    c->final = s->final;
    c->suffixed = s->suffixed;
    c->order = r->nodes_made++;
    size_t at = nd->ndyn;
    while (at > 0 && weight_cmp(c, nd->dyn[at - 1]) < 0)
        at--;
    memmove(nd->dyn + at + 1, nd->dyn + at, (nd->ndyn - at) * sizeof(*nd->dyn));
    nd->dyn[at] = c;
    nd->ndyn++;
    return c;
}

fc__router *fc__router_new(void)
{
    fc__router *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (!(r->root = calloc(1, sizeof(*r->root)))) {
        free(r);
        return NULL;
    }
    return r;
}

void fc__router_free(fc__router *r)
{
    if (!r)
        return;
    node_free(r->root);
    for (size_t i = 0; i < r->nowned; i++)
        rule_free(r->owned[i]);
    free(r->owned);
    free(r->rules);
    free(r);
}

size_t fc__router_count(const fc__router *r) { return r ? r->nrules : 0; }

int fc__router_add(fc__router *r, const char *rule, unsigned methods, const char *endpoint,
                   void *route, unsigned flags, char *err, size_t errlen)
{
    struct rule *ru = NULL;
    int rc = FC_ENOMEM;
    if (!r || !rule)
        return seterr(err, errlen, "no rule");
    if (!methods || methods >= (1u << NMETHODS))
        return seterr(err, errlen, "bad method mask 0x%x", methods);
    /* reserve first so that keeping the parsed rule can never fail */
    if (fc__vec_grow((void **)&r->owned, &r->capowned, r->nowned + 1, sizeof(*r->owned)) < 0)
        return FC_ENOMEM;
    struct rule **nr = realloc(r->rules, (r->nrules + 1) * sizeof(*nr));
    if (!nr)
        return FC_ENOMEM;
    r->rules = nr;
    if (!(ru = calloc(1, sizeof(*ru))) || !(ru->text = strdup(rule)) ||
        !(ru->endpoint = strdup(endpoint ? endpoint : rule)))
        goto fail;
    ru->route = route;
    ru->flags = flags;
    ru->explicit_methods = methods;
    ru->methods = methods;
    if (methods & FC__M_GET)
        ru->methods |= FC__M_HEAD;
    if (!(flags & FC__RULE_NO_AUTO_OPTIONS) && !(methods & FC__M_OPTIONS)) {
        ru->methods |= FC__M_OPTIONS;
        ru->auto_options = true;
    }
    if ((rc = rule_parse(ru, rule, err, errlen)) < 0)
        goto fail;
    r->owned[r->nowned++] = ru; /* nodes made below may borrow from it */
    struct node *nd = r->root;
    for (size_t i = 0; i < ru->nsegs; i++)
        if (!(nd = node_child(r, nd, ru, &ru->segs[i])))
            return FC_ENOMEM;
    for (size_t i = 0; i < nd->nrules; i++)
        if (nd->rules[i]->explicit_methods & methods) {
            seterr(err, errlen, "rule '%s' already registered for these methods", rule);
            return FC_EEXIST;
        }
    if (fc__vec_grow((void **)&nd->rules, &nd->caprules, nd->nrules + 1, sizeof(*nd->rules)) < 0)
        return FC_ENOMEM;
    nd->rules[nd->nrules++] = ru;
    r->rules[r->nrules++] = ru;
    return 0;
fail:
    rule_free(ru);
    return rc;
}

/* ----- matching ----------------------------------------------------------- */

struct cap {
    const char *s;
    size_t len;
    long long i;
    double d;
};

struct mctx {
    const char *s; /* the path without its leading slashes */
    size_t n;
    unsigned method;
    unsigned have; /* methods of rules that matched the path but not the method */
    struct cap caps[MAX_VARS];
    size_t ncaps;
    const struct rule *found;
    /* bytes the converters may still examine: several variables in one
     * segment ("<a>-<b>-<c>.json") backtrack polynomially on hostile paths
     * ("-" x 30000); past the budget the path does not match (404) */
    size_t budget;
};

#define MATCH_BUDGET ((size_t)4 << 20)

enum { M_NONE, M_FOUND, M_SLASH };

/* Match the pieces of @p d from piece @p i against s[pos..len), pushing captures.
 * Path variables take the shortest text, others the longest (like the regexes). */
static bool pieces_match(const struct node *d, size_t i, const char *s, size_t len, size_t pos,
                         struct mctx *m)
{
    if (i == d->npieces)
        return pos == len;
    const struct piece *p = &d->pieces[i];
    if (p->var < 0) {
        if (len - pos < p->litlen || memcmp(s + pos, p->lit, p->litlen) != 0)
            return false;
        return pieces_match(d, i + 1, s, len, pos + p->litlen, m);
    }
    const struct conv *cv = &d->vars[p->var].cv;
    struct cap *c = &m->caps[m->ncaps];
    size_t lim = len, lo = pos, hi;
    if (cv->type != FC__ARG_PATH) {
        const char *sl = memchr(s + pos, '/', len - pos);
        if (sl)
            lim = (size_t)(sl - s);
    }
    hi = lim;
    if (i + 1 == d->npieces) {
        lo = len; /* the last piece takes the rest */
    } else if (i + 2 == d->npieces && d->pieces[i + 1].var < 0) {
        if (len - pos < d->pieces[i + 1].litlen)
            return false;
        lo = hi = len - d->pieces[i + 1].litlen; /* only a static suffix follows */
        if (hi > lim)
            return false;
    }
    if (lo > hi || lo < pos)
        return false;
    for (size_t k = 0; k <= hi - lo; k++) {
        size_t end = cv->type == FC__ARG_PATH ? lo + k : hi - k;
        c->s = s + pos;
        c->len = end - pos;
        if (m->budget <= c->len)
            return false;
        m->budget -= c->len + 1;
        if (!conv_check(cv, c->s, c->len, &c->i, &c->d))
            continue;
        m->ncaps++;
        if (pieces_match(d, i + 1, s, len, end, m))
            return true;
        m->ncaps--;
    }
    return false;
}

static bool rule_strict(const struct rule *ru) { return !(ru->flags & FC__RULE_NO_STRICT_SLASHES); }

/* Werkzeug's StateMachineMatcher._match. @p pos starts the next segment;
 * pos == n + 1 means every segment is consumed. */
static int match_node(const struct node *nd, size_t pos, struct mctx *m)
{
    int rv;
    if (pos > m->n) {
        for (size_t k = 0; k < nd->nrules; k++) {
            if (nd->rules[k]->methods & m->method) {
                m->found = nd->rules[k];
                return M_FOUND;
            }
            m->have |= nd->rules[k]->methods;
        }
        const struct node *sl = static_child(nd, "", 0);
        for (size_t k = 0; sl && k < sl->nrules; k++) {
            if (!(sl->rules[k]->methods & m->method))
                continue;
            if (rule_strict(sl->rules[k]))
                return M_SLASH;
            m->found = sl->rules[k];
            return M_FOUND;
        }
        return M_NONE;
    }
    const char *e = memchr(m->s + pos, '/', m->n - pos);
    size_t end = e ? (size_t)(e - m->s) : m->n;
    size_t next = e ? end + 1 : m->n + 1;
    const struct node *c = static_child(nd, m->s + pos, end - pos);
    if (c && (rv = match_node(c, next, m)) != M_NONE)
        return rv;
    for (size_t k = 0; k < nd->ndyn; k++) {
        const struct node *d = nd->dyn[k];
        size_t save = m->ncaps;
        if (d->final) {
            size_t fend = m->n, after = m->n + 1;
            if (d->suffixed && fend > pos && m->s[fend - 1] == '/') {
                fend--;
                after = m->n; /* the trailing slash is left as an empty segment */
            }
            if (pieces_match(d, 0, m->s, fend, pos, m) && (rv = match_node(d, after, m)) != M_NONE)
                return rv;
        } else if (pieces_match(d, 0, m->s, end, pos, m) &&
                   (rv = match_node(d, next, m)) != M_NONE) {
            return rv;
        }
        m->ncaps = save;
    }
    if (pos == m->n) { /* only a trailing slash is left: non-strict leaf rules */
        for (size_t k = 0; k < nd->nrules; k++) {
            if (rule_strict(nd->rules[k]))
                continue;
            if (nd->rules[k]->methods & m->method) {
                m->found = nd->rules[k];
                return M_FOUND;
            }
            m->have |= nd->rules[k]->methods;
        }
    }
    return M_NONE;
}

static bool has_double_slash(const char *s, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (s[i] == '/' && s[i - 1] == '/')
            return true;
    return false;
}

static int redirect_to(fc__arena *a, const char *s, size_t n, bool slash, fc__match *out)
{
    char *p = fc__arena_alloc(a, n + 3);
    if (!p)
        return FC_ENOMEM;
    p[0] = '/';
    memcpy(p + 1, s, n);
    n++;
    if (slash)
        p[n++] = '/';
    p[n] = '\0';
    out->kind = FC__MATCH_REDIRECT;
    out->redirect_path = p;
    return 0;
}

int fc__router_match(const fc__router *r, unsigned method, const char *path, size_t pathlen,
                     fc__arena *a, fc__match *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = FC__MATCH_NOT_FOUND;
    while (pathlen > 0 && path[0] == '/') { /* like Werkzeug's path_info.lstrip('/') */
        path++;
        pathlen--;
    }
    struct mctx m;
    m.s = path;
    m.n = pathlen;
    m.method = method;
    m.have = 0;
    m.ncaps = 0;
    m.found = NULL;
    m.budget = MATCH_BUDGET;
    int rv = match_node(r->root, 0, &m);
    if (rv == M_SLASH)
        return redirect_to(a, path, pathlen, true, out);
    if (rv == M_NONE && has_double_slash(path, pathlen)) {
        char *merged = fc__arena_alloc(a, pathlen + 1);
        size_t n = 0;
        if (!merged)
            return FC_ENOMEM;
        for (size_t i = 0; i < pathlen; i++)
            if (path[i] != '/' || n == 0 || merged[n - 1] != '/')
                merged[n++] = path[i];
        merged[n] = '\0';
        m.s = merged;
        m.n = n;
        m.ncaps = 0;
        rv = match_node(r->root, 0, &m);
        if (rv != M_NONE)
            return redirect_to(a, merged, n, rv == M_SLASH, out);
    }
    if (rv == M_NONE) {
        if (m.have) {
            out->kind = FC__MATCH_METHOD_NOT_ALLOWED;
            out->allow = m.have;
        }
        return 0;
    }
    const struct rule *ru = m.found;
    if ((method & FC__M_OPTIONS) && ru->auto_options) {
        struct mctx all = m; /* method 0: every matching rule lands in have */
        all.method = 0;
        all.have = 0;
        all.ncaps = 0;
        match_node(r->root, 0, &all);
        out->kind = FC__MATCH_OPTIONS;
        out->allow = all.have;
        return 0;
    }
    fc__arg *args = NULL;
    if (ru->nvars && !(args = fc__arena_alloc(a, ru->nvars * sizeof(*args))))
        return FC_ENOMEM;
    for (size_t k = 0; k < ru->nvars; k++) {
        const struct cap *c = &m.caps[k];
        /* the match filled caps[0..nvars) */
        char *v = fc__arena_strndup(a, c->s, c->len); /* NOLINT(clang-analyzer-core.CallAndMessage) */
        if (!v)
            return FC_ENOMEM;
        args[k].name = ru->vars[k].name;
        args[k].type = ru->vars[k].cv.type;
        args[k].i = args[k].type == FC__ARG_INT ? c->i : 0;
        args[k].d = args[k].type == FC__ARG_FLOAT ? c->d : 0.0;
        if (args[k].type == FC__ARG_UUID)
            for (char *q = v; *q; q++)
                if (*q >= 'A' && *q <= 'F')
                    *q = (char)(*q + 32);
        args[k].value = v;
    }
    out->kind = FC__MATCH_OK;
    out->route = ru->route;
    out->endpoint = ru->endpoint;
    out->rule = ru->text;
    out->args = args;
    out->nargs = ru->nvars;
    out->allow = ru->methods;
    return 0;
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
    switch (cv->type) {
    case FC__ARG_INT: {
        struct conv loose = *cv;
        loose.fixed_digits = 0; /* "5" builds as "0005" */
        if (!conv_check(&loose, v, n, &i, &d))
            return false;
        snprintf(tmp, sizeof(tmp), "%0*lld", (int)cv->fixed_digits, i);
        *oom |= fc__buf_puts(b, tmp) != 0;
        return true;
    }
    case FC__ARG_UUID:
        if (!conv_check(cv, v, n, &i, &d))
            return false;
        for (size_t k = 0; k < n; k++)
            tmp[k] = (char)((v[k] >= 'A' && v[k] <= 'F') ? v[k] + 32 : v[k]);
        *oom |= fc__buf_append(b, tmp, n) != 0;
        return true;
    case FC__ARG_PATH:
        if (n == 0)
            return false;
        *oom |= fc__url_encode(b, v, n, PATH_SAFE "/", false) != 0;
        return true;
    case FC__ARG_STRING:
    case FC__ARG_FLOAT:
    case FC__ARG_ANY:
        break;
    }
    if (!conv_check(cv, v, n, &i, &d))
        return false;
    *oom |= fc__url_encode(b, v, n, PATH_SAFE, false) != 0;
    return true;
}

int fc__router_build(const fc__router *r, const char *endpoint, const char *const *kv, char **out)
{
    const struct rule *ru = NULL;
    bool seen = false;
    fc__buf b = {NULL, 0, 0};
    /* an append that fails is only reported at the end: a value the
     * converter refuses is FC_EINVAL even after an out-of-memory */
    bool oom = false;
    size_t nkv = 0;
    if (out)
        *out = NULL;
    if (!r || !endpoint || !out)
        return FC_EINVAL;
    while (kv && kv[nkv])
        nkv++;
    if (nkv % 2)
        return FC_EINVAL; /* a name without a value */
    /* like Werkzeug: of the rules whose variables are all given, the one
     * using the most of them; registration order breaks ties */
    for (size_t i = 0; i < r->nrules; i++) {
        const struct rule *c = r->rules[i];
        bool ok = true;
        if (strcmp(c->endpoint, endpoint) != 0)
            continue;
        seen = true;
        for (size_t k = 0; k < c->nvars && ok; k++)
            ok = kv_get(kv, c->vars[k].name) != NULL;
        if (ok && (!ru || c->nvars > ru->nvars))
            ru = c;
    }
    if (!ru)
        return seen ? FC_EINVAL : FC_ENOENT;
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
