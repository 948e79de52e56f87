/* router.c — the rule set, as Werkzeug's map.py and matcher.py: method masks, the segment trie
 * (its insert and its walk share one ordering), 404/405/308/HEAD/OPTIONS, url_for's rule choice. */
#include "router_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                           "PATCH", "OPTIONS", "TRACE", "CONNECT"};
#define NMETHODS (sizeof(method_names) / sizeof(method_names[0]))

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

/* ----- the trie ----------------------------------------------------------- */

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
    size_t npieces, nvars; /* nvars: the variable pieces */
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
    size_t sla[FC__RULE_MAX_VARS + 1], slb[FC__RULE_MAX_VARS + 1], nsa, nsb, naa, nab;
    int awa[FC__RULE_MAX_VARS], awb[FC__RULE_MAX_VARS];
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
        /* found only when st holds nst > 0 children (the analyzer, not following
         * static_find after a node was just made, assumes found with st NULL) */
        if (found)
            return nd->st[i].n; /* NOLINT(clang-analyzer-core.NullDereference) */
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
    c->nvars = s->nvars;
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
        fc__rule_free(r->owned[i]);
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
        return fc__rule_seterr(err, errlen, "no rule");
    if (!methods || methods >= (1u << NMETHODS))
        return fc__rule_seterr(err, errlen, "bad method mask 0x%x", methods);
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
    if ((rc = fc__rule_parse(ru, rule, err, errlen)) < 0)
        goto fail;
    r->owned[r->nowned++] = ru; /* nodes made below may borrow from it */
    struct node *nd = r->root;
    for (size_t i = 0; i < ru->nsegs; i++)
        if (!(nd = node_child(r, nd, ru, &ru->segs[i])))
            return FC_ENOMEM;
    for (size_t i = 0; i < nd->nrules; i++)
        if (nd->rules[i]->explicit_methods & methods) {
            fc__rule_seterr(err, errlen, "rule '%s' already registered for these methods", rule);
            return FC_EEXIST;
        }
    if (fc__vec_grow((void **)&nd->rules, &nd->caprules, nd->nrules + 1, sizeof(*nd->rules)) < 0)
        return FC_ENOMEM;
    nd->rules[nd->nrules++] = ru;
    r->rules[r->nrules++] = ru;
    return 0;
fail:
    fc__rule_free(ru);
    return rc;
}

/* ----- matching ----------------------------------------------------------- */

struct mctx {
    const char *s; /* the path without its leading slashes */
    size_t n;
    unsigned method;
    unsigned have; /* methods of rules that matched the path but not the method */
    struct cap caps[FC__RULE_MAX_VARS];
    size_t ncaps;
    const struct rule *found;
};

/* M_ERR: out of memory (pattern.c's table) */
enum { M_NONE, M_FOUND, M_SLASH, M_ERR };

/* Match the dynamic step @p d on s[pos..end), pushing its captures. 1, 0 or FC_ENOMEM. */
static int step_match(const struct node *d, size_t pos, size_t end, struct mctx *m)
{
    if (d->nvars > FC__RULE_MAX_VARS - m->ncaps)
        return 0; /* cannot happen: a rule has at most FC__RULE_MAX_VARS variables */
    int rc = fc__pattern_match(d->pieces, d->npieces, d->vars, m->s, pos, end, m->caps + m->ncaps);
    if (rc > 0)
        m->ncaps += d->nvars;
    return rc;
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
        size_t save = m->ncaps, dend = end, after = next;
        int mr;
        if (d->final) { /* the rest of the path, slashes included */
            dend = m->n;
            after = m->n + 1;
            if (d->suffixed && dend > pos && m->s[dend - 1] == '/') {
                dend--;
                after = m->n; /* the trailing slash is left as an empty segment */
            }
            /* "(?<!/)(/?)": what the part matches never ends in '/' (Werkzeug redirects
             * "/p/a//" to "/p/a/" by merging slashes, it does not take "a/") */
            if (d->suffixed && dend > pos && m->s[dend - 1] == '/')
                continue;
        }
        if ((mr = step_match(d, pos, dend, m)) < 0)
            return M_ERR;
        if (mr > 0 && (rv = match_node(d, after, m)) != M_NONE)
            return rv;
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
    int rv = match_node(r->root, 0, &m);
    if (rv == M_ERR)
        return FC_ENOMEM;
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
        if (rv == M_ERR)
            return FC_ENOMEM;
        if (rv != M_NONE) /* redirected before any value is converted, as Werkzeug does */
            return redirect_to(a, merged, n, rv == M_SLASH, out);
    }
    if (rv == M_NONE) {
        if (m.have) {
            out->kind = FC__MATCH_METHOD_NOT_ALLOWED;
            out->allow = m.have;
        }
        return 0;
    }
    /* Werkzeug's to_python, once the rule is chosen: a value it refuses ends matching
     * (404, or 405 when rules for other methods matched the path on the way) */
    const struct rule *ru = m.found;
    fc__arg *args = NULL;
    if (ru->nvars && !(args = fc__arena_alloc(a, ru->nvars * sizeof(*args))))
        return FC_ENOMEM;
    for (size_t k = 0; k < ru->nvars; k++) {
        const struct cap *c = &m.caps[k];
        /* the match filled caps[0..nvars) */
        char *v = fc__arena_strndup(a, c->s, c->len); /* NOLINT(clang-analyzer-core.CallAndMessage) */
        if (!v)
            return FC_ENOMEM;
        long long iv = 0;
        double dv = 0.0;
        int rc = fc__rule_convert(&ru->vars[k].cv, v, c->len, &iv, &dv);
        if (rc == FC_ENOMEM)
            return rc;
        if (rc < 0) {
            out->kind = m.have ? FC__MATCH_METHOD_NOT_ALLOWED : FC__MATCH_NOT_FOUND;
            out->allow = m.have;
            out->refused = true;
            return 0;
        }
        args[k].name = ru->vars[k].name;
        args[k].type = ru->vars[k].cv.type;
        args[k].i = iv;
        args[k].d = dv;
        if (args[k].type == FC__ARG_UUID)
            for (char *q = v; *q; q++)
                if (*q >= 'A' && *q <= 'F')
                    *q = (char)(*q + 32);
        args[k].value = v;
    }
    if ((method & FC__M_OPTIONS) && ru->auto_options) {
        struct mctx all = m; /* method 0: every matching rule lands in have */
        all.method = 0;
        all.have = 0;
        all.ncaps = 0;
        if (match_node(r->root, 0, &all) == M_ERR)
            return FC_ENOMEM;
        out->kind = FC__MATCH_OPTIONS;
        out->allow = all.have | ru->methods; /* the chosen rule is one of them */
        return 0;
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

int fc__router_build(const fc__router *r, const char *endpoint, const char *const *kv, char **out)
{
    const struct rule *ru = NULL;
    bool seen = false;
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
        if (strcmp(c->endpoint, endpoint) != 0)
            continue;
        seen = true;
        if (fc__rule_suitable(c, kv) && (!ru || c->nvars > ru->nvars))
            ru = c;
    }
    if (!ru)
        return seen ? FC_EINVAL : FC_ENOENT;
    return fc__rule_build(ru, kv, nkv, out);
}
