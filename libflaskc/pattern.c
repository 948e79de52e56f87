/* pattern.c — one trie step's pieces matched as Werkzeug's regex for that part matches them:
 * converter shapes only (router.c converts the values afterwards), in time linear in the text. */
#include "router_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Werkzeug's part regexes (rules.py, converters.py), anchored at both ends:
 *   string  [^/]{min,max}   greedy, lengths in characters
 *   int     -?\d+           greedy (values past 64 bits are not the shape here: see below)
 *   float   -?\d+\.\d+      greedy
 *   uuid    8-4-4-4-12 hex digits
 *   any     (?:a|b|c)       alternatives in their order
 *   path    [^/].*?         lazy; '.' is not '\n' (no DOTALL)
 * A backtracking regex engine takes, piece by piece, the first end in that order from which
 * the rest of the pattern matches. Here a table answers "can pieces i.. match from p?" for
 * every i and p (filled from the last piece back, each row in one sweep of the text), and
 * the ends are then chosen left to right in the regex's order: the same captures, in
 * O(pieces x length) time whatever the text. */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_cont(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* Python's positions are characters: an end inside a UTF-8 sequence is none. */
static bool boundary(const char *s, size_t len, size_t e) { return e == len || !is_cont(s[e]); }

/* Converters whose last character may be of any width ([^/] and .): their ends must be
 * character boundaries (the others end after an ASCII character). */
static bool wide_end(fc__argtype t) { return t == FC__ARG_STRING || t == FC__ARG_PATH; }

/* The ends a converter's regex reaches from a start p: [lo, hi] (ok false: none). The sweep
 * visits p = len, len - 1, ..., and each step costs O(1) amortised. */
struct sweep {
    const struct conv *cv;
    const char *s;
    size_t len, p;
    size_t slash, dig, zero, nl; /* the first '/', non-digit, non-'0', '\n' at or after p */
    size_t dot, frac;            /* the last '.' met; where the digits after it end */
    /* strings: the boundary minlen characters on from p (slo_over characters short of
     * the end: none yet) and the last one at most maxlen characters on */
    size_t slo, shi, slo_over, shi_over;
    bool ok;
    size_t lo, hi;
};

static void sweep_init(struct sweep *w, const struct conv *cv, const char *s, size_t len)
{
    w->cv = cv;
    w->s = s;
    w->len = len;
    w->p = len + 1; /* the first step is at len */
    w->slash = w->dig = w->zero = w->nl = w->frac = w->slo = w->shi = len;
    w->dot = SIZE_MAX;
    w->slo_over = cv->minlen;
    w->shi_over = cv->maxlen;
    w->ok = false;
    w->lo = w->hi = 0;
}

/* One character less: the pointer @p x, a boundary after p, moves to the previous one. */
static size_t prev_boundary(const struct sweep *w, size_t x)
{
    size_t y = x - 1;
    while (y > w->p && is_cont(w->s[y]))
        y--;
    return y;
}

static void sweep_step(struct sweep *w)
{
    const char *s = w->s;
    const struct conv *cv = w->cv;
    size_t p = --w->p, dig1 = w->dig, zero1 = w->zero, nl1 = w->nl; /* the last three at p + 1 */
    w->ok = false;
    if (p < w->len) {
        char c = s[p];
        if (c == '/')
            w->slash = p;
        if (!is_digit(c))
            w->dig = p;
        if (c != '0')
            w->zero = p;
        if (c == '\n')
            w->nl = p;
        if (c == '.') {
            w->dot = p;
            w->frac = dig1;
        }
        if (cv->type == FC__ARG_STRING && !is_cont(c)) { /* one character more from p */
            if (w->slo_over)
                w->slo_over--;
            else
                w->slo = prev_boundary(w, w->slo);
            if (w->shi_over)
                w->shi_over--;
            else
                w->shi = prev_boundary(w, w->shi);
        }
    }
    size_t q = p, d = w->dig, z = w->zero;
    bool neg = false;
    switch (cv->type) {
    case FC__ARG_STRING:
        w->lo = w->slo;
        w->hi = w->shi < w->slash ? w->shi : w->slash;
        w->ok = !w->slo_over && w->lo <= w->hi;
        return;
    case FC__ARG_PATH:
        w->lo = p + 1;
        w->hi = nl1; /* '.' stops before a '\n'; "[^/]" takes one */
        w->ok = p < w->len && s[p] != '/';
        return;
    case FC__ARG_UUID:
        w->lo = w->hi = p + 36;
        w->ok = w->len - p >= 36 && fc__uuid_syntax(s + p, 36);
        return;
    case FC__ARG_INT:
    case FC__ARG_FLOAT:
        if (p == w->len)
            return;
        if (!is_digit(s[p])) {
            if (!cv->is_signed || s[p] != '-')
                return;
            q = p + 1;
            d = dig1;
            z = zero1;
            neg = true;
        }
        if (d <= q)
            return;
        if (cv->type == FC__ARG_FLOAT) {
            if (d == w->len || s[d] != '.' || w->dot != d || w->frac <= d + 1)
                return;
            w->lo = d + 2;
            w->hi = w->frac;
            w->ok = true;
            return;
        }
        /* An integer past 64 bits is not matched (documented difference: the next rule
         * is tried, where Python's int converts any length). The value of the prefixes
         * grows with their length: those that fit end at most 18 or 19 significant
         * digits after the leading zeros. */
        w->lo = q + 1;
        w->hi = d;
        if (d - z >= 19)
            w->hi = z + 18 +
                    (memcmp(s + z, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0);
        w->ok = true;
        return;
    case FC__ARG_ANY:
        return; /* not swept: its items are tried at each start */
    }
}

/* ----- the table ---------------------------------------------------------- */

struct table {
    const char *s;
    size_t pos, len, words;
    uint64_t *bits; /* row i, bit x: pieces i.. match s[pos + x .. len) */
};

static bool tget(const struct table *t, size_t i, size_t p)
{
    size_t x = p - t->pos;
    return (t->bits[i * t->words + (x >> 6)] >> (x & 63)) & 1u;
}

static void tset(struct table *t, size_t i, size_t p)
{
    size_t x = p - t->pos;
    t->bits[i * t->words + (x >> 6)] |= (uint64_t)1 << (x & 63);
}

/* May a variable of @p cv end at @p e, the pieces after it (row @p next) matching from there? */
static bool end_ok(const struct table *t, size_t next, const struct conv *cv, size_t e)
{
    return tget(t, next, e) && (!wide_end(cv->type) || boundary(t->s, t->len, e));
}

static bool item_at(const char *s, size_t len, size_t p, const char *item, size_t il)
{
    return il <= len - p && memcmp(s + p, item, il) == 0;
}

/* Row i from row i + 1. */
static void fill_row(struct table *t, size_t i, const struct piece *pc, const struct var *vars)
{
    const char *s = t->s;
    if (pc->var < 0) {
        for (size_t p = t->pos; p <= t->len && pc->litlen <= t->len - p; p++)
            if (tget(t, i + 1, p + pc->litlen) && memcmp(s + p, pc->lit, pc->litlen) == 0)
                tset(t, i, p);
        return;
    }
    const struct conv *cv = &vars[pc->var].cv;
    if (cv->type == FC__ARG_ANY) {
        for (size_t p = t->pos; p <= t->len; p++)
            for (size_t k = 0; k < cv->nitems; k++) {
                size_t il = strlen(cv->items[k]);
                if (item_at(s, t->len, p, cv->items[k], il) && tget(t, i + 1, p + il)) {
                    tset(t, i, p);
                    break;
                }
            }
        return;
    }
    /* Is there an end in [lo, hi]? lo only decreases along the sweep (each converter's
     * first possible end moves left with its start), so "the first end at or after
     * lo" is kept up to date by scanning each position once. */
    struct sweep w;
    size_t cur = t->len + 1, first = SIZE_MAX;
    sweep_init(&w, cv, s, t->len);
    do {
        sweep_step(&w);
        if (!w.ok)
            continue;
        if (w.lo < cur) {
            for (size_t e = cur; e-- > w.lo;)
                if (end_ok(t, i + 1, cv, e))
                    first = e;
            cur = w.lo;
        } else if (w.lo > cur) { /* not expected; correct anyway */
            for (size_t e = w.lo; e <= w.hi; e++)
                if (end_ok(t, i + 1, cv, e)) {
                    tset(t, i, w.p);
                    break;
                }
            continue;
        }
        if (first <= w.hi)
            tset(t, i, w.p);
    } while (w.p > t->pos);
}

/* The end the regex takes for piece @p pc at @p p, given that one exists. */
static size_t choose_end(const struct table *t, size_t i, const struct piece *pc,
                         const struct var *vars, size_t p)
{
    if (pc->var < 0)
        return p + pc->litlen;
    const struct conv *cv = &vars[pc->var].cv;
    if (cv->type == FC__ARG_ANY) {
        for (size_t k = 0; k < cv->nitems; k++) {
            size_t il = strlen(cv->items[k]);
            if (item_at(t->s, t->len, p, cv->items[k], il) && tget(t, i + 1, p + il))
                return p + il;
        }
        return SIZE_MAX;
    }
    struct sweep w;
    sweep_init(&w, cv, t->s, t->len);
    do
        sweep_step(&w);
    while (w.p > p);
    if (!w.ok || w.lo > w.hi)
        return SIZE_MAX;
    if (cv->type == FC__ARG_PATH) { /* lazy: the shortest */
        for (size_t e = w.lo; e <= w.hi; e++)
            if (end_ok(t, i + 1, cv, e))
                return e;
        return SIZE_MAX;
    }
    for (size_t e = w.hi + 1; e-- > w.lo;) /* greedy: the longest */
        if (end_ok(t, i + 1, cv, e))
            return e;
    return SIZE_MAX;
}

/* One variable: the literals around it are at fixed places, so is its text. */
static int match_one(const struct piece *pc, size_t np, size_t v, const struct var *vars,
                     const char *s, size_t pos, size_t len, struct cap *caps)
{
    size_t a = pos, b = len;
    for (size_t i = 0; i < v; i++) {
        if (pc[i].litlen > b - a || memcmp(s + a, pc[i].lit, pc[i].litlen) != 0)
            return 0;
        a += pc[i].litlen;
    }
    for (size_t i = np; i-- > v + 1;) {
        if (pc[i].litlen > b - a || memcmp(s + b - pc[i].litlen, pc[i].lit, pc[i].litlen) != 0)
            return 0;
        b -= pc[i].litlen;
    }
    const struct conv *cv = &vars[pc[v].var].cv;
    bool ok = false;
    if (cv->type == FC__ARG_ANY) {
        for (size_t k = 0; k < cv->nitems && !ok; k++)
            ok = strlen(cv->items[k]) == b - a && memcmp(s + a, cv->items[k], b - a) == 0;
    } else {
        struct sweep w;
        sweep_init(&w, cv, s, b);
        do
            sweep_step(&w);
        while (w.p > a);
        ok = w.ok && w.lo <= b && b <= w.hi && (!wide_end(cv->type) || boundary(s, len, b));
    }
    if (!ok)
        return 0;
    caps[0] = (struct cap){s + a, b - a};
    return 1;
}

int fc__pattern_match(const struct piece *pc, size_t np, const struct var *vars, const char *s,
                      size_t pos, size_t len, struct cap *caps)
{
    size_t nv = 0, v = 0;
    for (size_t i = 0; i < np; i++)
        if (pc[i].var >= 0) {
            nv++;
            v = i;
        }
    if (nv <= 1 && np > 0 && pc[v].var >= 0)
        return match_one(pc, np, v, vars, s, pos, len, caps);
    if (np == 0)
        return pos == len;
    /* cheap refusals before the table: the literals at both ends */
    if (pc[0].var < 0 &&
        (pc[0].litlen > len - pos || memcmp(s + pos, pc[0].lit, pc[0].litlen) != 0))
        return 0;
    if (pc[np - 1].var < 0 &&
        (pc[np - 1].litlen > len - pos ||
         memcmp(s + len - pc[np - 1].litlen, pc[np - 1].lit, pc[np - 1].litlen) != 0))
        return 0;

    uint64_t local[128];
    struct table t = {s, pos, len, (len - pos) / 64 + 1, local};
    if (t.words > SIZE_MAX / sizeof(uint64_t) / (np + 1))
        return FC_ENOMEM;
    size_t nwords = t.words * (np + 1);
    if (nwords > sizeof(local) / sizeof(local[0])) {
        if (!(t.bits = calloc(nwords, sizeof(uint64_t))))
            return FC_ENOMEM;
    } else {
        memset(local, 0, sizeof(local));
    }
    tset(&t, np, len);
    for (size_t i = np; i-- > 0;)
        fill_row(&t, i, &pc[i], vars);
    int rc = 0;
    if (tget(&t, 0, pos)) {
        size_t p = pos, k = 0;
        rc = 1;
        for (size_t i = 0; i < np && rc; i++) {
            size_t e = choose_end(&t, i, &pc[i], vars, p);
            if (e == SIZE_MAX) {
                rc = 0; /* cannot happen: row i said an end exists */
                break;
            }
            if (pc[i].var >= 0)
                caps[k++] = (struct cap){s + p, e - p};
            p = e;
        }
    }
    if (t.bits != local)
        free(t.bits);
    return rc;
}
