/* http.c — HTTP syntax, pure: percent-encoding, query strings, cookies (Cookie and Set-Cookie),
 * content types, header tokens and values, HTML/JSON escaping, HTTP dates, status phrases. */
#include "internal.h"

#include <limits.h>
#include <string.h>
#include <time.h>

static const char hexdig[] = "0123456789ABCDEF";

static int buf_putc(fc__buf *b, char c)
{
    return fc__buf_append(b, &c, 1);
}

/* After a failed append (rc != 0) the buffer is cut back to @p start. Returns rc. */
static int buf_undo(fc__buf *b, size_t start, int rc)
{
    if (rc) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
    }
    return rc;
}

/* ===== character classes ================================================== */

int fc__hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A cookie value of these bytes only goes out unquoted (Werkzeug's
 * _cookie_no_quote_re: \w and this punctuation, ASCII). */
static bool cookie_plain(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
        return true;
    return c && strchr("!#$%&'()*+-./:<=>?@[]^`{|}~", c) != NULL;
}

bool fc__header_value_ok(const char *s)
{
    if (!s)
        return false;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

bool fc__token_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

/* ===== percent-encoding =================================================== */

size_t fc__percent_decode(char *s, size_t len, bool plus_is_space)
{
    size_t i = 0, j = 0;
    while (i < len) {
        char c = s[i];
        if (c == '%' && len - i >= 3) {
            int h = fc__hexval((unsigned char)s[i + 1]), l = fc__hexval((unsigned char)s[i + 2]);
            if (h >= 0 && l >= 0) {
                s[j++] = (char)(h * 16 + l);
                i += 3;
                continue;
            }
        }
        s[j++] = (char)((plus_is_space && c == '+') ? ' ' : c);
        i++;
    }
    s[j] = '\0';
    return j;
}

/* @p s (@p n bytes, in the arena) as it is when it is UTF-8 without NUL,
 * else a copy with the other bytes as %XX. */
static char *escape_invalid(fc__arena *a, char *s, size_t n, size_t *out_len)
{
    if (fc__utf8_valid(s, n) && !memchr(s, '\0', n)) {
        *out_len = n;
        return s;
    }
    return fc__text_clean(a, s, n, FC__CS_UTF8, out_len);
}

/*
 * Copy @p raw into the arena and percent-decode it. Bytes of the decoded text
 * that do not form valid UTF-8 are written back as "%XX" (upper-case), which
 * is what Werkzeug's "werkzeug.url_quote" decode error handler does: "%FF"
 * stays "%FF", "%C3%A9" becomes "é". *out_len gets the length.
 */
static char *decode_component(fc__arena *a, const char *raw, size_t len, bool plus,
                              size_t *out_len)
{
    char *s = fc__arena_strndup(a, raw, len);
    if (!s)
        return NULL;
    /* a NUL would cut the C string: like invalid UTF-8, it stays encoded
     * ("1%00x" is not the integer 1) */
    return escape_invalid(a, s, fc__percent_decode(s, len, plus), out_len);
}

int fc__query_parse(const char *qs, size_t len, fc__arena *a, fc__kvlist *out)
{
    size_t i = 0;
    while (i < len) {
        const char *seg = qs + i;
        const char *amp = memchr(seg, '&', len - i);
        size_t slen = amp ? (size_t)(amp - seg) : len - i;
        i += slen + 1;
        if (!slen)
            continue; /* "a=1&&b=2": empty pairs are skipped */
        const char *eq = memchr(seg, '=', slen);
        size_t klen = eq ? (size_t)(eq - seg) : slen;
        const char *val = eq ? eq + 1 : seg + slen;
        size_t vraw = eq ? slen - klen - 1 : 0;
        size_t kn, vn;
        char *k = decode_component(a, seg, klen, true, &kn);
        char *v = k ? decode_component(a, val, vraw, true, &vn) : NULL;
        if (!k || !v)
            return FC_ENOMEM;
        if (fc__kv_add(out, a, k, v, vn) != 0)
            return FC_ENOMEM;
    }
    return 0;
}

int fc__url_encode(fc__buf *b, const char *s, size_t len, const char *safe, bool space_plus)
{
    size_t start = b->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == ' ' && space_plus) {
            rc = buf_putc(b, '+');
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~' ||
                   (c && safe && strchr(safe, c))) {
            rc = buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hexdig[c >> 4], hexdig[c & 15]};
            rc = fc__buf_append(b, e, 3);
        }
        if (rc)
            return buf_undo(b, start, rc);
    }
    return fc__buf_cstr(b) ? 0 : FC_ENOMEM;
}

/* ===== cookies ============================================================ */

/* Werkzeug's \s (an ASCII pattern): space, \t \n \v \f \r. */
static bool re_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Where a quoted cookie value at @p p ends (after its closing quote) when
 * it is one as Werkzeug's pattern has it: '"', then bytes other than '\'
 * and '"' or a '\' with any byte after it, then '"', then only whitespace
 * before ';' or the end. NULL when it is not. */
static const char *cookie_quoted_end(const char *p)
{
    if (*p != '"')
        return NULL;
    const char *q = p + 1;
    while (*q != '"') {
        if (!*q || (*q == '\\' && !q[1]))
            return NULL; /* no closing quote (a '\' at the end escapes the ';' Werkzeug appends) */
        q += *q == '\\' ? 2 : 1;
    }
    const char *after = ++q;
    while (re_space(*after))
        after++;
    return (*after == ';' || !*after) ? q : NULL;
}

/* @p v (@p n bytes, quotes off) into the arena without its backslash
 * escapes, as Werkzeug's _cookie_unslash: '\' and three octal digits 000 to
 * 377 is that byte, '\' and any other byte is that byte, a final '\' stays. */
static char *cookie_unslash(fc__arena *a, const char *v, size_t n, size_t *out_len)
{
    char *out = fc__arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n) {
            if (i + 3 < n && v[i + 1] >= '0' && v[i + 1] <= '3' && v[i + 2] >= '0' &&
                v[i + 2] <= '7' && v[i + 3] >= '0' && v[i + 3] <= '7') {
                out[j++] = (char)((v[i + 1] - '0') * 64 + (v[i + 2] - '0') * 8 + (v[i + 3] - '0'));
                i += 3;
                continue;
            }
            i++;
        }
        out[j++] = v[i];
    }
    out[j] = '\0';
    *out_len = j;
    return out;
}

/*
 * Cookie header, read as Werkzeug's parse_cookie reads it (its _cookie_re
 * over the header with a ';' appended, then strip() and _cookie_unslash):
 * a name runs to the first '=' or ';'; after '=' and whitespace comes a
 * quoted value (which may hold ';') when one ends just before whitespace
 * and ';' or the end, else a value up to the next ';'. Name and value lose
 * the whitespace Python's str.strip() removes; a value that then begins and
 * ends with '"' (two bytes at least) loses them and its escapes, so '"\"'
 * (no quoted value: the closing quote is escaped) reads '\'. Header values
 * hold no CR or LF (RFC 9112), so the pattern's '.' is any byte here.
 * Unlike Werkzeug (flask-differences.md): a pair without '=' is skipped,
 * and bytes that are not UTF-8 come out as %XX.
 */
int fc__cookies_parse(const char *header, fc__arena *a, fc__kvlist *out)
{
    if (!header)
        return 0;
    const char *p = header;
    while (*p) {
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        const char *nend = p, *v = NULL, *vend = NULL;
        if (*p == '=') {
            p++;
            while (re_space(*p))
                p++;
            v = p;
            vend = cookie_quoted_end(v);
            if (vend)
                p = vend; /* whitespace, then ';' or the end */
            while (*p && *p != ';')
                p++;
            if (!vend)
                vend = p;
        }
        if (*p == ';')
            p++;
        fc__space_trim(&name, &nend);
        if (!v || nend == name)
            continue; /* no '=', or no name */
        fc__space_trim(&v, &vend);
        size_t vlen = (size_t)(vend - v);
        char *value;
        if (vlen >= 2 && v[0] == '"' && vend[-1] == '"')
            value = cookie_unslash(a, v + 1, vlen - 2, &vlen);
        else
            value = fc__arena_strndup(a, v, vlen);
        /* keep the map printable: invalid bytes (and NUL) become %XX */
        value = value ? escape_invalid(a, value, vlen, &vlen) : NULL;
        char *key = value ? fc__arena_strndup(a, name, (size_t)(nend - name)) : NULL;
        if (!key || fc__kv_add(out, a, key, value, vlen) != 0)
            return FC_ENOMEM;
    }
    return 0;
}

static int append_date(fc__buf *b, long long t)
{
    char d[30];
    fc__http_date(t, d);
    return fc__buf_puts(b, d);
}

/* Domain and Path go out as they are: refuse what would break the header. */
static bool cookie_attr_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7F || c == ';')
            return false;
    }
    return true;
}

int fc__cookie_format(fc__buf *b, const char *name, const char *value, const fc_cookie_opts *o,
                      long long now_unix)
{
    static const fc_cookie_opts defaults = FC_COOKIE_OPTS_DEFAULT;
    if (!o)
        o = &defaults;
    if (!value)
        value = "";
    const char *path = o->path ? o->path : "/";
    const char *domain = (o->domain && *o->domain) ? o->domain : NULL;
    if (!fc__token_ok(name) || !cookie_attr_ok(path) || (domain && !cookie_attr_ok(domain)))
        return FC_EINVAL;
    if (o->same_site < FC_SAMESITE_NONE_SET || o->same_site > FC_SAMESITE_NONE)
        return FC_EINVAL;

    size_t start = b->len;
    int rc = fc__buf_puts(b, name);
    if (!rc)
        rc = buf_putc(b, '=');
    /* Werkzeug's dump_cookie: a value of plain bytes as it is, any other
     * quoted, with \" and \\, and controls, ',', ';' and bytes past 126 as
     * \ooo octal */
    bool plain = true;
    for (const unsigned char *v = (const unsigned char *)value; *v; v++)
        plain &= cookie_plain(*v);
    if (!rc && !plain)
        rc = buf_putc(b, '"');
    for (const unsigned char *v = (const unsigned char *)value; !rc && *v; v++) {
        if (plain || (*v >= 32 && *v < 127 && *v != ',' && *v != ';' && *v != '"' && *v != '\\')) {
            rc = buf_putc(b, (char)*v);
        } else if (*v == '"' || *v == '\\') {
            char e[2] = {'\\', (char)*v};
            rc = fc__buf_append(b, e, 2);
        } else {
            char e[4] = {'\\', (char)('0' + (*v >> 6)), (char)('0' + ((*v >> 3) & 7)), (char)('0' + (*v & 7))};
            rc = fc__buf_append(b, e, 4);
        }
    }
    if (!rc && !plain)
        rc = buf_putc(b, '"');
    /* Werkzeug's dump_cookie order: Domain, Expires, Max-Age, Secure,
     * HttpOnly, Path, SameSite */
    if (!rc && domain)
        rc = fc__buf_printf(b, "; Domain=%s", domain);
    if (!rc && o->max_age >= 0) {
        /* max_age 0 means "delete": Expires at the epoch, as delete_cookie sends */
        long long exp = 0;
        if (o->max_age > 0)
            exp = (o->max_age > LLONG_MAX - now_unix) ? LLONG_MAX : now_unix + o->max_age;
        rc = fc__buf_puts(b, "; Expires=");
        if (!rc)
            rc = append_date(b, exp);
        if (!rc)
            rc = fc__buf_printf(b, "; Max-Age=%lld", o->max_age);
    }
    if (!rc && o->secure)
        rc = fc__buf_puts(b, "; Secure");
    if (!rc && o->http_only)
        rc = fc__buf_puts(b, "; HttpOnly");
    if (!rc)
        rc = fc__buf_printf(b, "; Path=%s", path);
    if (!rc && o->same_site != FC_SAMESITE_NONE_SET) {
        const char *ss = o->same_site == FC_SAMESITE_LAX      ? "Lax"
                         : o->same_site == FC_SAMESITE_STRICT ? "Strict"
                                                              : "None";
        rc = fc__buf_printf(b, "; SameSite=%s", ss);
    }
    return buf_undo(b, start, rc);
}

/* ===== escaping =========================================================== */

/* markupsafe's escape(), which renders Werkzeug's error pages. */
int fc__html_escape(fc__buf *b, const char *s)
{
    size_t start = b->len;
    int rc = 0;
    const char *run = s;
    for (;; s++) {
        const char *rep;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&#34;"; break;
        case '\'': rep = "&#39;"; break;
        case '\0': rep = ""; break;
        default: continue;
        }
        rc = fc__buf_append(b, run, (size_t)(s - run));
        if (!rc)
            rc = fc__buf_puts(b, rep);
        if (rc || !*s)
            break;
        run = s + 1;
    }
    return buf_undo(b, start, rc);
}

int fc__json_escape(fc__buf *b, const char *s)
{
    size_t start = b->len;
    int rc = buf_putc(b, '"');
    const char *run = s;
    for (; !rc; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        size_t elen = 2;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
        } else if (c >= 0x20) {
            continue;
        } else if (c == '\0') {
            elen = 0;
        } else {
            esc[0] = '\\';
            switch (c) {
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                /* lower-case hex, as Python's json module writes it */
                memcpy(esc, "\\u00", 4);
                esc[4] = "0123456789abcdef"[c >> 4];
                esc[5] = "0123456789abcdef"[c & 15];
                elen = 6;
            }
        }
        rc = fc__buf_append(b, run, (size_t)(s - run));
        if (!rc && elen)
            rc = fc__buf_append(b, esc, elen);
        if (!c)
            break;
        run = s + 1;
    }
    if (!rc)
        rc = buf_putc(b, '"');
    return buf_undo(b, start, rc);
}

/* ===== content types ====================================================== */

/* The media type of a Content-Type value as request.mimetype shows it:
 * up to the first ';', OWS dropped (also inside: "text / html"),
 * lower-cased, written to @p out (not terminated). Returns its length, or
 * @p cap + 1 when it does not fit. */
static size_t mimetype_into(char *out, size_t cap, const char *content_type)
{
    size_t n = 0;
    for (const char *p = content_type; *p && *p != ';'; p++) {
        if (is_ows(*p))
            continue;
        if (n == cap)
            return cap + 1;
        out[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    }
    return n;
}

char *fc__mimetype(fc__arena *a, const char *content_type)
{
    if (!content_type)
        return fc__arena_strdup(a, "");
    size_t cap = strlen(content_type);
    char *m = fc__arena_alloc(a, cap + 1);
    if (!m)
        return NULL;
    m[mimetype_into(m, cap, content_type)] = '\0';
    return m;
}

/*
 * Parameters after the first ';': name=token or name="quoted" (inside quotes,
 * \\ and \" are unescaped, other backslashes kept, as Werkzeug does so
 * Windows paths survive). Names compare case-insensitively; first match wins.
 */
char *fc__content_type_param(fc__arena *a, const char *content_type, const char *param)
{
    bool quoted;
    return fc__header_param(a, content_type, param, &quoted);
}

char *fc__header_param(fc__arena *a, const char *content_type, const char *param, bool *quoted)
{
    *quoted = false;
    if (!content_type || !param)
        return NULL;
    size_t plen = strlen(param);
    const char *p = strchr(content_type, ';');
    while (p && *p) {
        while (*p == ';' || is_ows(*p))
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        const char *nend = p;
        while (nend > name && is_ows(nend[-1]))
            nend--;
        if (*p != '=')
            continue;
        p++;
        while (is_ows(*p))
            p++;
        bool match = (size_t)(nend - name) == plen && fc__strncasecmp(name, param, plen) == 0;
        if (*p == '"') {
            const char *q = ++p;
            size_t n = 0;
            /* first pass: measure */
            while (*q && *q != '"') {
                if (*q == '\\' && (q[1] == '\\' || q[1] == '"'))
                    q++;
                q++;
                n++;
            }
            if (match) {
                char *v = fc__arena_alloc(a, n + 1);
                if (!v)
                    return NULL;
                size_t j = 0;
                for (const char *r = p; r < q; r++) {
                    if (*r == '\\' && (r[1] == '\\' || r[1] == '"'))
                        r++;
                    v[j++] = *r;
                }
                v[j] = '\0';
                *quoted = true;
                return v;
            }
            p = *q ? q + 1 : q;
            while (*p && *p != ';')
                p++; /* junk after the closing quote */
        } else {
            const char *v = p;
            while (*p && *p != ';')
                p++;
            const char *vend = p;
            while (vend > v && is_ows(vend[-1]))
                vend--;
            if (match)
                return fc__arena_strndup(a, v, (size_t)(vend - v));
        }
    }
    return NULL;
}

bool fc__is_json_type(const char *content_type)
{
    if (!content_type)
        return false;
    /* Judge the same normalised media type fc__mimetype returns (OWS
     * dropped, lower-cased), so request.mimetype and is_json never disagree:
     * "application/json" or "application/<subtype>+json" with a non-empty
     * subtype. RFC 6838 caps type and subtype at 127 characters each, so a
     * longer media type is not a valid one and is not JSON. */
    char mt[256];
    size_t n = mimetype_into(mt, sizeof(mt), content_type);
    if (n > sizeof(mt))
        return false;
    static const char app[] = "application/";
    const size_t alen = sizeof(app) - 1;
    if (n < alen || memcmp(mt, app, alen) != 0)
        return false;
    if (n == alen + 4 && memcmp(mt + alen, "json", 4) == 0)
        return true;
    /* application/<subtype>+json, subtype non-empty */
    return n > alen + 5 && memcmp(mt + n - 5, "+json", 5) == 0;
}

/* ===== dates and statuses ================================================= */

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

void fc__http_date(long long t, char buf[30])
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    /* clamp to what a four-digit year can show */
    if (t < 0)
        t = 0;
    if (t > 253402300799LL) /* 9999-12-31 23:59:59 */
        t = 253402300799LL;
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        memcpy(buf, "Thu, 01 Jan 1970 00:00:00 GMT", 30);
        return;
    }
    int year = tm.tm_year + 1900;
    memcpy(buf, days + (size_t)3 * (size_t)(tm.tm_wday % 7), 3);
    buf[3] = ',';
    buf[4] = ' ';
    put2(buf + 5, tm.tm_mday);
    buf[7] = ' ';
    memcpy(buf + 8, months + (size_t)3 * (size_t)(tm.tm_mon % 12), 3);
    buf[11] = ' ';
    put2(buf + 12, year / 100);
    put2(buf + 14, year % 100);
    buf[16] = ' ';
    put2(buf + 17, tm.tm_hour);
    buf[19] = ':';
    put2(buf + 20, tm.tm_min);
    buf[22] = ':';
    put2(buf + 23, tm.tm_sec);
    memcpy(buf + 25, " GMT", 5);
}

/* Werkzeug's HTTP_STATUS_CODES (they title its error pages), which covers the
 * IANA registry; where the two differ (413, 414, 416, 422, 511) Werkzeug wins. */
const char *fc__status_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 306: return "Switch Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 449: return "Retry With";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Failed";
    default: return "Unknown";
    }
}
