#!/usr/bin/env python3
"""gen.py - the randomised differential test of libflaskc against Flask (issue 19).

Generates seeded random raw HTTP requests from the rules of routes.txt, sends
each over a plain socket to the Flask app (diff_app.py) and to the libflaskc
app (diff_app.c), parses both answers and compares them: status, Location
(host:port normalised), Allow (as a set), the media type of Content-Type, and
the JSON each handler wrote about what it received (endpoint, method, path,
typed route args, query pairs, form pairs, files, cookies, selected headers,
JSON body; pairs compared in Werkzeug's MultiDict order: grouped by key).
Differences are first explained, if they can be, by the table of deliberate
differences (DOCUMENTED) and by the list of differences a fix is under way for
or that no branch fixes yet (PENDING); anything else is a failure, printed
(at most --max-print of them) with the raw request (repr) and both answers,
and summed up by kind.

Standard library only.

    gen.py --flask-port P --ours-port Q [--seed S] [--requests N]
    gen.py --flask-port P --ours-port Q --seed S --only I[,J...]   # replay cases
    gen.py --seed S --show I           # print request I of seed S, send nothing
    gen.py --seed S --no-pending ...   # pending differences count as failures
    gen.py --without NAME,... ...      # leave entries out (has their fix landed?)
    gen.py --list                      # the tables of known differences

Request I of seed S is the same whatever N is: each request has its own PRNG,
seeded with "S:I". Exit status: 0 no failure, 1 failures, 2 usage.
"""
import argparse
import codecs
import concurrent.futures
import copy
import json
import math
import os
import random
import re
import socket
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = []  # routes.txt, loaded by main()
REPORT_HEADERS = ["X-A", "X-B", "X-Long", "User-Agent", "Content-Type"]
REPORT_COOKIES = ["a", "b", "sid", "q", "e"]

# ---------------------------------------------------------------------------
# routes.txt
# ---------------------------------------------------------------------------


class Rule:
    def __init__(self, full, methods, endpoint, flags):
        self.full = full
        self.methods = methods
        self.endpoint = endpoint
        self.flags = flags
        self.parts = parse_rule(full)  # [("lit", text) | ("var", conv, args, name)]


def split_args(s):
    """Werkzeug's converter arguments: (positional list, keyword dict)."""
    pos, kw = [], {}
    for m in re.finditer(r'\s*(?:(\w+)\s*=\s*)?("[^"]*"|\'[^\']*\'|[^,]+)\s*(?:,|$)', s):
        k, v = m.group(1), m.group(2).strip()
        if v[:1] in "\"'":
            v = v[1:-1]
        elif v in ("True", "False"):
            v = v == "True"
        else:
            try:
                v = int(v)
            except ValueError:
                try:
                    v = float(v)
                except ValueError:
                    pass
        if k:
            kw[k] = v
        else:
            pos.append(v)
    return pos, kw


def parse_rule(rule):
    parts = []
    for m in re.finditer(r"<(?:([a-z]+)(?:\((.*?)\))?:)?(\w+)>|([^<]+)", rule):
        if m.group(4) is not None:
            parts.append(("lit", m.group(4)))
        else:
            conv = m.group(1) or "default"
            pos, kw = split_args(m.group(2) or "")
            parts.append(("var", conv, (pos, kw), m.group(3)))
    return parts


def load_routes(path):
    prefixes, parents, rules = {}, {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            if w[0] == "blueprint":
                parents[w[1]] = None if w[3] == "-" else w[3]
                prefixes[w[1]] = w[2]
            else:
                bp, methods, rule, endpoint = w[1], w[2].split(","), w[3], w[4]
                flags = w[5].split(",") if len(w) > 5 else []
                full = rule
                name = bp
                while name != "-" and name is not None:  # Flask's prefix join
                    full = "/".join((prefixes[name].rstrip("/"), full.lstrip("/")))
                    name = parents[name]
                rules.append(Rule(full, methods, endpoint, flags))
    return rules


# ---------------------------------------------------------------------------
# generation: text pieces, encodings
# ---------------------------------------------------------------------------

UNRESERVED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
SUBDELIMS = set("!$&'()*+,;=:@")
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ODD_CHARS = " +%?#&=;:@'\"<>[]{}|\\^`!$()*,~\t"
UNICODE = ["é", "ß", "ü", "ñ", "中", "文", "😀", "Ω", "\u00a0", "\u200b", "Ё", "ﬁ", "ǅ"]
# percent sequences that are not a clean UTF-8 text
BAD_PCT = ["%zz", "%", "%4", "%g1", "%FF", "%fe", "%C3", "%C3%28", "%E2%82", "%ED%A0%80",
           "%F4%90%80%80", "%C0%AF", "%80", "%00"]


def rand_text(rng, lo=1, hi=10, odd=0.15, uni=0.1):
    n = rng.randint(lo, hi)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < uni:
            out.append(rng.choice(UNICODE))
        elif r < uni + odd:
            out.append(rng.choice(ODD_CHARS))
        else:
            out.append(rng.choice(ALNUM))
    return "".join(out)


def pct(b, rng):
    return ("%%%02X" if rng.random() < 0.8 else "%%%02x") % b


def enc_path_text(rng, s, raw_unicode=0.03):
    """Encode the decoded text s for a path segment (bytes)."""
    out = []
    for ch in s:
        if ch in UNRESERVED or (ch in SUBDELIMS and ch != "+"):
            out.append(pct(ord(ch), rng) if rng.random() < 0.08 else ch)
        elif ch == "+":
            out.append("+" if rng.random() < 0.7 else "%2B")
        elif ord(ch) > 127 and rng.random() < raw_unicode:
            out.append(ch)  # raw UTF-8 on the wire
        else:
            out.append("".join(pct(b, rng) for b in ch.encode("utf-8")))
    return "".join(out).encode("utf-8")


def enc_query_text(rng, s, raw_unicode=0.03):
    out = []
    for ch in s:
        if ch == " ":
            out.append("+" if rng.random() < 0.6 else "%20")
        elif ch in UNRESERVED or (ch in SUBDELIMS and ch not in "&=+;"):
            out.append(pct(ord(ch), rng) if rng.random() < 0.05 else ch)
        elif ord(ch) > 127 and rng.random() < raw_unicode:
            out.append(ch)
        else:
            out.append("".join(pct(b, rng) for b in ch.encode("utf-8")))
    return "".join(out).encode("utf-8")


# ---- converter values: (decoded text, or bytes already encoded) ----


def v_int(rng, pos, kw):
    fixed = kw.get("fixed_digits", pos[0] if pos else 0)
    lo, hi, signed = kw.get("min"), kw.get("max"), kw.get("signed", False)
    r = rng.random()
    if r < 0.55:  # valid-looking
        a = lo if lo is not None else (-1000 if signed else 0)
        b = hi if hi is not None else (10 ** fixed - 1 if fixed else 100000)
        n = rng.randint(a - 3, b + 3) if rng.random() < 0.4 else rng.randint(a, b)
        if not signed and n < 0 and rng.random() < 0.7:
            n = -n
        s = str(n)
        if fixed:
            s = s.zfill(fixed) if rng.random() < 0.8 else s.zfill(rng.randint(1, fixed + 2))
        elif rng.random() < 0.1:
            s = "0" * rng.randint(1, 3) + s.lstrip("-") if n >= 0 else s
        return s
    return rng.choice([
        "-5", "-0", "+5", "5.0", "5a", "a5", "abc", "0x10", " 5", "5 ", "٣", "５", "1٣", "²",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "18446744073709551615", "18446744073709551616",
        "99999999999999999999999", "0" * 25 + "7", "1" * rng.randint(19, 60), "1_000", "",
        "007", "0000", "00", "12345", "-0001", "9" * 4400,
    ])


def v_float(rng, pos, kw):
    signed = kw.get("signed", False)
    r = rng.random()
    if r < 0.5:
        a = str(rng.choice([0, 1, 2, 10, 99, 999, 1000, 1001, rng.randint(0, 5000)]))
        b = str(rng.randint(0, 999)).zfill(rng.randint(1, 4))
        s = a + "." + b
        if signed and rng.random() < 0.3:
            s = "-" + s
        return s
    return rng.choice([
        "1", "1.", ".5", "1e5", "1.5e3", "-1.5", "-0.0", "0.0", "inf", "nan", "1.5.5", "1,5",
        "0.5", "0.4999", "1000.0", "1000.0001", "٣.٥", "1.٥", "0" * 30 + ".5",
        "1" * rng.randint(30, 80) + ".5", "1." + "3" * rng.randint(30, 80),
        "1" * 400 + ".0", "123456789012345678901234567890.123", "+1.5", "",
    ])


def v_uuid(rng, pos, kw):
    u = "%08x-%04x-%04x-%04x-%012x" % tuple(rng.getrandbits(b) for b in (32, 16, 16, 16, 48))
    r = rng.random()
    if r < 0.35:
        return u
    if r < 0.5:
        return u.upper()
    if r < 0.6:
        return "".join(c.upper() if rng.random() < 0.5 else c for c in u)
    return rng.choice([
        u.replace("-", ""), u[:-1], u + "0", "{" + u + "}", u[:8] + "g" + u[9:],
        u.replace("-", "_"), "urn:uuid:" + u, u[:8] + "-" + u[8:], "not-a-uuid", u + "/",
        u[:14] + "%2D" + u[15:],
    ])


def v_path(rng, pos, kw):
    segs = [rand_text(rng, 0 if rng.random() < 0.1 else 1, 8, odd=0.1) for _ in range(rng.randint(1, 4))]
    for i, s in enumerate(segs):
        if rng.random() < 0.08:
            segs[i] = rng.choice([".", "..", "edit", "static"])
    s = "/".join(segs)
    return s + ("/" if rng.random() < 0.15 else "")


def v_any(rng, pos, kw):
    items = [str(x) for x in pos]
    if rng.random() < 0.6:
        return rng.choice(items)
    it = rng.choice(items)
    return rng.choice([it.upper(), it + "x", it[:-1] or "z", "blue", "c", "d", "c%2Cd", "", it + "/"])


def v_string(rng, pos, kw):
    length = kw.get("length")
    lo = kw.get("minlength", length if length is not None else 1)
    hi = kw.get("maxlength", length if length is not None else 12)
    n = rng.randint(max(0, lo - 1), hi + 1) if rng.random() < 0.5 else rng.randint(max(lo, 0), hi)
    if n == 0:
        return ""
    s = rand_text(rng, n, n, odd=0.12, uni=0.12)
    if rng.random() < 0.03:
        s = s[: n // 2] + "/" + s[n // 2:]
    return s


def v_long(rng):
    return "x" * rng.choice([100, 255, 256, 1000, 4000, 9000, 17000, 25000])


CONVERTERS = {"int": v_int, "float": v_float, "uuid": v_uuid, "path": v_path, "any": v_any,
              "default": v_string, "string": v_string}


def gen_path(rng, rule):
    out = b""
    for part in rule.parts:
        if part[0] == "lit":
            lit = part[1]
            if rng.random() < 0.03:  # near-miss literal: case, one letter off
                i = rng.randrange(len(lit))
                lit = lit[:i] + lit[i].swapcase() + lit[i + 1:]
            out += enc_path_text(rng, lit).replace(b"%2F", b"/").replace(b"%2f", b"/")
        else:
            _, conv, (pos, kw), _name = part
            v = v_long(rng) if rng.random() < 0.01 else CONVERTERS[conv](rng, pos, kw)
            if conv == "path":
                # keep the slashes of a path value, sometimes as %2F
                segs = v.split("/")
                sep = b"%2F" if rng.random() < 0.1 else b"/"
                out += sep.join(enc_path_text(rng, s) for s in segs)
            else:
                out += enc_path_text(rng, v)
    return out


def mutate_path(rng, p):
    r = rng.random()
    if r < 0.12:
        p = p[:-1] if p.endswith(b"/") and len(p) > 1 else p + b"/"
    elif r < 0.18:
        idx = [i for i, c in enumerate(p) if c == ord("/")]
        i = rng.choice(idx)
        p = p[:i] + b"/" + p[i:]
    elif r < 0.20:
        p = b"/" + p
    elif r < 0.24:
        p += rng.choice([b"/edit", b"/x", b"/..", b"/.", b"/%2e%2e", b"%2F", b"%2f"])
    elif r < 0.28:
        i = rng.randrange(len(p) + 1)
        p = p[:i] + rng.choice(BAD_PCT).encode() + p[i:]
    elif r < 0.30:
        p = p.upper()
    return p


JUNK_PATHS = [b"/", b"/nope", b"/favicon.ico", b"/%", b"/%2F", b"//", b"/./leaf", b"/leaf/../dir/",
              b"/LEAF", b"/dir", b"/dir//", b"/bp", b"/bp/", b"/api/v1", b"/api/v1/items",
              b"/slash", b"/slash/", b"/slash//", b"*", b"/;", b"/leaf;x", b"/leaf%3Bx", b"/m/",
              b"/%C3%A9", b"/%00", b"/leaf%00", b"/\xc3\xa9", b"/a\xffb", b"/p/a%00b",
              b"/int/%EF%BC%95", b"/int/\xd9\xa3"]


# ---- query strings ----

QKEYS = ["a", "b", "c", "x", "a b", "é", "k[]", "", "A", "a.b", "q"]


def gen_query(rng):
    pairs = []
    for _ in range(rng.randint(0, 6)):
        k = rng.choice(QKEYS) if rng.random() < 0.8 else rand_text(rng, 1, 6)
        r = rng.random()
        ke = enc_query_text(rng, k)
        if r < 0.1:
            pairs.append(ke)  # no '='
        elif r < 0.2:
            pairs.append(ke + b"=")
        else:
            v = rand_text(rng, 0, 12, odd=0.2)
            pairs.append(ke + b"=" + enc_query_text(rng, v))
        if rng.random() < 0.05:
            pairs[-1] += rng.choice(BAD_PCT).encode()
        if rng.random() < 0.03:
            pairs.append(b"")  # "&&"
        if rng.random() < 0.05 and pairs[-1]:
            pairs.append(pairs[-1])  # a repeated pair
    sep = b";" if rng.random() < 0.03 else b"&"
    return sep.join(pairs)


# ---- headers, cookies ----

UAS = ["curl/8.0", "Mozilla/5.0 (X11; Linux x86_64)", "", "x" * 300, "gen/1 (é)"]


def casing(rng, name):
    r = rng.random()
    if r < 0.6:
        return name
    if r < 0.75:
        return name.lower()
    if r < 0.85:
        return name.upper()
    return "".join(c.swapcase() if rng.random() < 0.5 else c for c in name)


def ows(rng):
    return rng.choice(["", "", "", " ", "  ", "\t", " \t"])


def hval(rng):
    r = rng.random()
    if r < 0.7:
        return rand_text(rng, 0, 16, odd=0.15, uni=0).replace("\t", " ").encode()
    if r < 0.8:
        return rand_text(rng, 1, 8, uni=0.5).encode("utf-8")  # raw UTF-8
    if r < 0.85:
        return b"a\xffb"
    return rng.choice([b"", b" ", b"a, b", b"a,b", b'"q"', b"x" * 100])


CNAMES = ["a", "b", "sid", "q", "e", "z", "A", "a b", "$a"]


def cookie_value(rng):
    r = rng.random()
    if r < 0.45:
        return rand_text(rng, 0, 10, odd=0, uni=0)
    return rng.choice([
        '"x y"', '"a\\"b"', '"\\101\\102"', '"a;b"', '"a,b"', '""', '"', '"abc', "x y",
        "%41%42", "a%20b", "é", "=", "a=b", '"\\"', "\\n", "a\\b", '"\\012"', '"\\377"',
        "ab\"", "[1,2]", "{}", "!#$%&'()*+-./:<>?@[]^_`{|}~", "\x7f",
    ])


def gen_cookie(rng):
    pairs = []
    for _ in range(rng.randint(1, 5)):
        if rng.random() < 0.08:
            pairs.append(rng.choice(["novalue", "", " ", "a"]))  # no '='
            continue
        name = rng.choice(CNAMES)
        pairs.append(name + rng.choice(["=", "=", "=", " =", "= ", " = "]) + cookie_value(rng))
    sep = rng.choice(["; ", "; ", ";", " ; ", ";  "])
    s = sep.join(pairs)
    if rng.random() < 0.05:
        s += ";"
    return s.encode("utf-8")


# ---- bodies ----

FORM_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
              "Application/X-WWW-Form-Urlencoded", "application/x-www-form-urlencoded;charset=utf-8"]


def gen_urlencoded(rng):
    return gen_query(rng)


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def gen_multipart(rng):
    boundary = rng.choice([
        "XyZ", "----WebKitFormBoundary" + "".join(rng.choice(ALNUM) for _ in range(16)), "a",
        "b'()+_,-./:=?", "---------------------------" + str(rng.getrandbits(40)), "bound ary",
    ])
    quoted = " " in boundary or "'" in boundary or rng.random() < 0.3
    ctype = "multipart/form-data; boundary=" + ('"%s"' % boundary if quoted else boundary)
    if rng.random() < 0.1:
        ctype = rng.choice(["Multipart/Form-Data; boundary=", "multipart/form-data; charset=utf-8; boundary="]) + (
            '"%s"' % boundary if quoted else boundary)
    b = boundary.encode()
    nl = b"\r\n" if rng.random() < 0.97 else b"\n"
    body = b""
    if rng.random() < 0.1:
        body += b"preamble text" + nl
    nparts = rng.randint(0, 4)
    for _ in range(nparts):
        body += b"--" + b
        if rng.random() < 0.05:
            body += rng.choice([b" ", b"\t", b"  \t", b"\x0b", b"\x0c"])  # padding
        if rng.random() < 0.01:
            body += b"\x01"  # junk after the boundary
        body += nl
        name = rng.choice(["a", "b", "f", "g", "field", "é", "a b", 'q"x', "", "a;b"])
        if '"' in name:
            qname = '"' + name.replace('"', '\\"') + '"'
        else:
            qname = '"' + name + '"' if rng.random() < 0.9 or not name or " " in name or ";" in name else name
        cd = "Content-Disposition: " + rng.choice(["form-data", "form-data", "Form-Data"]) + "; name=" + qname
        is_file = rng.random() < 0.4
        if is_file:
            r = rng.random()
            fname = rng.choice(["a.txt", "é.txt", "x y.bin", "", "C:\\dir\\b.txt", "../../etc/p", "a\"b.txt"])
            if r < 0.75:
                cd += '; filename="%s"' % fname.replace('"', '\\"')
            elif r < 0.85:
                cd += "; filename*=UTF-8''" + urllib.parse.quote(fname)
            elif r < 0.9:
                cd += '; filename="%s"; filename*=UTF-8\'\'%s' % ("fallback.txt", urllib.parse.quote(fname or "n"))
            elif r < 0.93:
                cd += "; filename*=UTF-8''%s; filename=\"%s\"" % (urllib.parse.quote(fname or "n"), "fallback.txt")
            else:
                cd += "; filename=" + (fname.replace(" ", "_").replace('"', "") or "u.txt")
        body += cd.encode("utf-8") + nl
        if rng.random() < (0.7 if is_file else 0.1):
            body += b"Content-Type: " + rng.choice([b"text/plain", b"application/octet-stream", b"image/png",
                                                   b"text/plain; charset=utf-8", b"Text/HTML"]) + nl
        body += nl
        r = rng.random()
        if r < 0.15:
            content = b""
        elif r < 0.7:
            content = rand_text(rng, 1, 30, odd=0.1, uni=0.1).encode("utf-8")
        elif r < 0.8:
            content = b"line1\r\nline2\r\n--" + b[:2]
        elif r < 0.9 and is_file:
            content = rand_bytes(rng, rng.randint(1, 300))
        else:
            content = rng.choice([b"a\x00b", b"\xff\xfe", b"caf\xc3\xa9", b"--", b"\r\n", b"x" * 2000])
        body += content + nl
    if rng.random() < 0.95:
        body += b"--" + b + b"--"
        if rng.random() < 0.1:
            body += nl + b"epilogue"
        body += nl
    return ctype, body


EDGE_NUMBERS = ["0", "-0", "1", "-1", "0.1", "1.0", "1e308", "1e309", "-1e309", "5e-324", "1e-400",
                "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                "-9223372036854775809", "18446744073709551615", "18446744073709551616",
                "123456789012345678901234567890", "1E2", "1e+2", "0.5e-1", "2.5E-3", "-0.0",
                "1.7976931348623157e308", "4.9e-324", "3.141592653589793238462643383279"]
JSON_STRINGS = ['"a"', '""', '"caf\\u00e9"', '"\\ud83d\\ude00"', '"a\\nb\\t\\"\\\\\\/"', '"\\u0000x"',
                '"é"', '"😀"', '"\\u00E9"', '"x\\u2028y"', '"\\ud800"', '"\\udc00a"', '"a/b"']


def json_value(rng, depth=0):
    r = rng.random()
    if depth < 3 and r < 0.25:
        n = rng.randint(0, 4)
        keys = [rng.choice(['"a"', '"b"', '"é"', '"\\u00e9"', '""', '"k k"', '"a"', '"\\u0000"', '"1"'])
                for _ in range(n)]
        return "{" + ",".join(k + ":" + json_value(rng, depth + 1) for k in keys) + "}"
    if depth < 3 and r < 0.45:
        return "[" + ",".join(json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))) + "]"
    if r < 0.65:
        return rng.choice(EDGE_NUMBERS) if rng.random() < 0.6 else str(rng.randint(-10**6, 10**6))
    if r < 0.9:
        return rng.choice(JSON_STRINGS) if rng.random() < 0.5 else json.dumps(rand_text(rng, 0, 8, uni=0.2),
                                                                            ensure_ascii=rng.random() < 0.5)
    return rng.choice(["true", "false", "null"])


def gen_json_body(rng):
    r = rng.random()
    if r < 0.7:
        s = json_value(rng)
        if rng.random() < 0.2:
            s = " \n" + s + "\t "
        return s.encode("utf-8")
    return rng.choice([
        b"", b" ", b"{", b"[1,2", b"{'a':1}", b"[1,]", b'{"a":1,}', b"NaN", b"[Infinity]", b"-Infinity",
        b"1.", b"00", b"-01", b".5", b"1.e5", b"1 2", b'"a\tb"', b'"a\x01b"', b'"\xff"', b"\xef\xbb\xbf[1]",
        b'{"a":1}x', b"tru", b"nul", b'"\\x41"', b'"\\u12"', b"[" * 70 + b"]" * 70, b"[" * 1100 + b"]" * 1100,
        b"1" * 5000, b'{"a" 1}', b"\"\\ud800\\udc00\"", b'{"a":1,"a":2}', b"\x00", b'"\xed\xa0\x80"',
        b"\xff\xfe[\x001\x00]\x00",
    ])


JSON_TYPES = ["application/json"] * 8 + ["application/json; charset=utf-8", "application/vnd.api+json",
                                          "APPLICATION/JSON", "text/plain", "application/x-www-form-urlencoded",
                                          None, "application/json-patch+json", "application/jsonx"]


# ---- one request ----

METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "FOO", "get", "Post"]


def gen_request(seed, i, rules):
    rng = random.Random("%s:%d" % (seed, i))
    rule = rng.choice(rules)
    if rng.random() < 0.04:
        path = rng.choice(JUNK_PATHS)
    else:
        path = mutate_path(rng, gen_path(rng, rule))
    r = rng.random()
    if r < 0.72:
        method = rng.choice(rule.methods)
    elif r < 0.97:
        method = rng.choice(METHODS[:7])
    else:
        method = rng.choice(METHODS[7:])
    target = path
    if rng.random() < 0.4:
        target += b"?" + gen_query(rng)
    elif rng.random() < 0.03:
        target += b"?"
    if rng.random() < 0.01:
        target += b"#frag"

    headers = [("Host", None)]  # None: this server's host:port
    if rng.random() < 0.1:
        headers[0] = (casing(rng, "Host"), None)
    if rng.random() < 0.7:
        headers.append((casing(rng, "User-Agent"), rng.choice(UAS).encode("utf-8")))
    for name in ("X-A", "X-B"):
        if rng.random() < 0.35:
            for _ in range(2 if rng.random() < 0.1 else 1):
                headers.append((casing(rng, name), ows(rng).encode() + hval(rng) + ows(rng).encode()))
    if rng.random() < 0.02:
        headers.append(("X-Long", v_long(rng).encode()))
    if rng.random() < 0.03:
        headers.append(("X_A", b"underscore"))
    if rng.random() < 0.1:
        headers.append(("Accept", rng.choice([b"application/json", b"text/html", b"*/*"])))
    if rng.random() < 0.3:
        headers.append((casing(rng, "Cookie"), gen_cookie(rng)))
        if rng.random() < 0.03:
            headers.append(("Cookie", gen_cookie(rng)))

    body = b""
    ctype = None
    if "json" in rule.flags or "silent" in rule.flags:
        if method not in ("GET", "HEAD") or rng.random() < 0.1:
            body = gen_json_body(rng)
            ctype = rng.choice(JSON_TYPES)
    elif method in ("POST", "PUT", "PATCH", "DELETE") or rng.random() < 0.05:
        r = rng.random()
        if r < 0.45:
            body, ctype = gen_urlencoded(rng), rng.choice(FORM_TYPES)
        elif r < 0.9:
            ctype, body = gen_multipart(rng)
        elif r < 0.95:
            body, ctype = b'{"a":1}', "application/json"
    if ctype is not None:
        headers.append((casing(rng, "Content-Type"), ctype.encode()))
    chunked = body and rng.random() < 0.04
    if chunked:
        headers.append(("Transfer-Encoding", b"chunked"))
    elif body or method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(len(body)).encode()))
    if rng.random() < 0.01:
        headers.append(("X-Fold", b"a\r\n b"))  # obs-fold
    if rng.random() < 0.01:
        headers.append(("X-Sp ", b"before colon"))
    rng.shuffle(headers)
    return {"i": i, "method": method.encode(), "target": target, "headers": headers, "body": body,
            "chunked": bool(chunked)}


def raw_request(req, port):
    out = [req["method"] + b" " + req["target"] + b" HTTP/1.1\r\n"]
    for name, value in req["headers"]:
        if value is None:
            value = ("127.0.0.1:%d" % port).encode()
        out.append(name.encode() + b": " + value + b"\r\n")
    out.append(b"Connection: close\r\n\r\n")
    body = req["body"]
    if req["chunked"]:
        chunks, k = [], 0
        while k < len(body):
            n = min(len(body) - k, 1 + (k * 7 + 13) % 50)
            chunks.append(b"%x\r\n" % n + body[k:k + n] + b"\r\n")
            k += n
        body = b"".join(chunks) + b"0\r\n\r\n"
    out.append(body)
    return b"".join(out)


# ---------------------------------------------------------------------------
# sending and parsing answers
# ---------------------------------------------------------------------------


def exchange(port, data, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = []
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: read what it said
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            got.append(b)
    except socket.timeout:
        got.append(b"<<timeout>>")
    finally:
        s.close()
    return b"".join(got)


def dechunk(b):
    out, k = b"", 0
    while True:
        e = b.find(b"\r\n", k)
        if e < 0:
            return out
        n = int(b[k:e].split(b";")[0] or b"0", 16)
        if n == 0:
            return out
        out += b[e + 2:e + 2 + n]
        k = e + 2 + n + 2


def parse_answer(raw, head_request, port):
    """The parts of an answer that are compared, or None when there was none."""
    if not raw.startswith(b"HTTP/") or b"\r\n\r\n" not in raw:
        return None
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        return None
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs.setdefault(k.strip().lower().decode("latin-1"), []).append(v.strip().decode("latin-1"))
    if "chunked" in ",".join(hdrs.get("transfer-encoding", [])).lower():
        body = dechunk(body)
    if head_request:
        body = b""
    loc = hdrs.get("location", [None])[0]
    if loc is not None:
        loc = loc.replace("//127.0.0.1:%d" % port, "//HOST", 1)
    allow = None
    if "allow" in hdrs:
        allow = sorted({m.strip() for v in hdrs["allow"] for m in v.split(",") if m.strip()})
    ctype = hdrs.get("content-type", [None])[0]
    media = ctype.split(";")[0].strip().lower() if ctype else None
    data = None
    if media == "application/json" and body:
        try:
            data = json.loads(body.decode("utf-8", "surrogateescape"))
        except ValueError:
            data = None
        if not (isinstance(data, dict) and "endpoint" in data):
            data = None  # an error body, not a handler's description
    return {"status": status, "location": loc, "allow": allow, "media": media, "data": data,
            "body": body[:300]}


# ---------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------


def canon(v):
    """A type-aware form for equality (1 != 1.0 != True; NaN == NaN)."""
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, int):
        return ("i", v)
    if isinstance(v, float):
        return ("f", "nan" if math.isnan(v) else v)
    if isinstance(v, str):
        return ("s", v)
    if v is None:
        return ("n",)
    if isinstance(v, list):
        return ("l", tuple(canon(x) for x in v))
    if isinstance(v, dict):
        return ("d", tuple(sorted((k, canon(x)) for k, x in v.items())))
    return ("?", repr(v))


def grouped(pairs):
    """Werkzeug's MultiDict keeps the values of a key together, in the order of the keys' first
    appearance: the pairs of both sides in that order."""
    if not isinstance(pairs, list):
        return pairs
    keys, by_key = [], {}
    for p in pairs:
        k = canon(p[0]) if isinstance(p, list) and p else None
        if k not in by_key:
            keys.append(k)
            by_key[k] = []
        by_key[k].append(p)
    return [p for k in keys for p in by_key[k]]


DATA_FIELDS = ["endpoint", "method", "path", "args", "query", "form", "files", "cookies", "headers", "json"]


def differences(f, o):
    """Names of the compared fields in which two parsed answers differ."""
    if f is None or o is None:
        return ["noanswer"] if (f is None or o is None) else []
    d = []
    for k in ("status", "location", "allow", "media"):
        if f[k] != o[k]:
            d.append(k)
    fd, od = f["data"], o["data"]
    if (fd is None) != (od is None):
        d.append("handler")
    elif fd is not None:
        for k in DATA_FIELDS:
            fv, ov = fd.get(k, "<absent>"), od.get(k, "<absent>")
            if k in ("query", "form", "files"):
                fv, ov = grouped(fv), grouped(ov)
            if canon(fv) != canon(ov):
                d.append("body:" + k)
    return d


# ---------------------------------------------------------------------------
# what the request holds (for the explanations below)
# ---------------------------------------------------------------------------


def pct_decode(b):
    return urllib.parse.unquote_to_bytes(b)


def target_parts(req):
    t = req["target"].partition(b"#")[0]
    path, _, query = t.partition(b"?")
    return path, query


def decoded_path(req):
    return pct_decode(target_parts(req)[0])


def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def header_values(req, name):
    return [v for k, v in req["headers"] if k.lower() == name.lower()]


def raw_head_size(req):
    return len(raw_request(dict(req, body=b"", chunked=False), 65535))


def copy_answer(a):
    return copy.deepcopy(a)


def is_error(a):
    return a is not None and a["status"] >= 400 and a["data"] is None


def as_ours(f, o):
    """Flask's answer replaced by ours: the difference is the whole answer."""
    return copy_answer(o)


# ---------------------------------------------------------------------------
# Known differences: two tables. DOCUMENTED holds the deliberate ones, each
# with a comment naming where it is written down (docs/flask-differences.md,
# the README, a commit, flaskc.h). PENDING holds the ones a fix is under way
# for, marked with the branch, and the ones no branch fixes yet, marked NEW:
# the test passes while they are listed, and each entry is deleted when its
# fix lands (gen.py --without NAME, or --no-pending, shows what an entry still
# excuses). `gen.py --list` prints both tables.
#
# Each entry is (name, one-line reason, adjust): adjust(req, flask_answer,
# our_answer) returns Flask's answer changed into what libflaskc answers, or
# None when the entry does not apply. Its conditions look at the raw request
# (and models of how each side reads it), so an entry cannot excuse what it
# is not about. The entries are applied in order; a difference is explained
# when the adjusted Flask answer equals ours; entries that changed nothing are
# not counted.
# ---------------------------------------------------------------------------

DOCUMENTED = []  # deliberate: they stay
PENDING = []  # fixes under way (branch named) or NEW: remove each entry when its fix lands


def documented(name, reason):
    def deco(fn):
        DOCUMENTED.append((name, reason, fn))
        return fn
    return deco


def pending(name, reason):
    def deco(fn):
        PENDING.append((name, reason, fn))
        return fn
    return deco


# ---- models of how each side reads the request head ----

codecs.register_error("gen_pctxx", lambda e: ("".join("%%%02X" % b for b in e.object[e.start:e.end]), e.end))
LATIN1_SPACE = set(b"\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0")  # str.split() splits at these too


def utf8_or_pct(b):
    """libflaskc's one rule for text: UTF-8, any other byte as %XX."""
    return b.decode("utf-8", "gen_pctxx")


def query_mojibake_map(req):
    """Each query key or value with raw non-ASCII bytes: Flask's reading -> libflaskc's."""
    def dec(b):
        return urllib.parse.unquote_to_bytes(b.replace(b"+", b" ")).decode("utf-8", "gen_pctxx")
    table = {}
    for pair in target_parts(req)[1].split(b"&"):
        for tok in pair.split(b"=", 1):
            if any(c >= 0x80 for c in tok):
                table[dec(tok.decode("latin-1").encode("utf-8"))] = dec(tok)
    return lambda s: table.get(s, s)


def map_strings(v, fn):
    if isinstance(v, str):
        return fn(v)
    if isinstance(v, list):
        return [map_strings(x, fn) for x in v]
    if isinstance(v, dict):
        return {k: map_strings(x, fn) for k, x in v.items()}
    return v


def with_data(f, **fields):
    g = copy_answer(f)
    g["data"].update(fields)
    return g


def hdr_model(req, name, first_only=False, strip_trailing=False, utf8=False):
    """A reported header as Flask reads it (all flags off) or as libflaskc does (all on)."""
    vals = header_values(req, name)
    if not vals:
        return None
    if first_only:
        vals = vals[:1]
    out = []
    for v in vals:
        v = v.lstrip(b" \t")
        if strip_trailing:
            v = v.rstrip(b" \t")
        out.append(v.decode("utf-8", "surrogateescape") if utf8 else v.decode("latin-1"))
    return ",".join(out)


COOKIE_RE = re.compile(r"""([^=;]*)(?:\s*=\s*("(?:[^\\"]|\\.)*"|.*?))?\s*;\s*""", re.ASCII)
COOKIE_UNSLASH_RE = re.compile(rb"\\([0-3][0-7]{2}|.)")


def cookie_model(req, separate=False, skip_noeq=False, utf8=False):
    """Werkzeug's parse_cookie (all flags off) and libflaskc's reading (all on):
    {name: first value} for the reported names. libflaskc reads the bytes as
    UTF-8 (strip() then removes Unicode spaces as Werkzeug's does), other
    bytes %XX."""
    heads = header_values(req, "Cookie")
    if not heads:
        return {k: None for k in REPORT_COOKIES}
    if utf8:
        dec, enc = (lambda b: b.decode("utf-8", "surrogateescape")), (lambda s: s.encode("utf-8", "surrogateescape"))
    else:
        dec, enc = (lambda b: b.decode("latin-1")), (lambda s: s.encode("utf-8"))
    texts = [dec(h) for h in heads] if separate else [dec(b",".join(heads))]
    out = {}
    for text in texts:
        for m in COOKIE_RE.finditer(text + ";"):
            ck, cv = m.group(1).strip(), (m.group(2) or "").strip()
            if not ck or (skip_noeq and m.group(2) is None):
                continue
            if len(cv) >= 2 and cv[0] == cv[-1] == '"':
                raw = COOKIE_UNSLASH_RE.sub(lambda m: m.group(1) if len(m.group(1)) == 1 else
                                            int(m.group(1), 8).to_bytes(1, "big"), enc(cv[1:-1]))
                cv = utf8_or_pct(raw) if utf8 else raw.decode("utf-8", "replace")
            elif utf8:
                cv = utf8_or_pct(enc(cv))
            out.setdefault(ck, cv)
    return {k: out.get(k) for k in REPORT_COOKIES}


# ---- Werkzeug's rules as regular expressions: which rules match a path ----

INT64 = (-(2 ** 63), 2 ** 63 - 1)


def conv_regex(conv, pos, kw, digit="[0-9]"):
    if conv == "int":
        return "(-?%s+)" % digit if kw.get("signed") else "(%s+)" % digit
    if conv == "float":
        return r"(-?%s+\.%s+)" % (digit, digit) if kw.get("signed") else r"(%s+\.%s+)" % (digit, digit)
    if conv == "uuid":
        return "([A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12})"
    if conv == "path":
        return "([^/].*?)"
    if conv == "any":
        return "(" + "|".join(re.escape(str(x)) for x in pos) + ")"
    length = kw.get("length")
    lo = kw.get("minlength", length if length is not None else 1)
    hi = kw.get("maxlength", length)
    return "([^/]{%d,%s})" % (lo, "" if hi is None else hi)


def rule_regex(rule, unicode_digits=False):
    """Werkzeug's regex of a rule; its digits are any Unicode digits, ours only ASCII ones."""
    if not hasattr(rule, "regex"):
        rule.regex = {}
        for uni in (False, True):
            rule.regex[uni] = re.compile("".join(
                re.escape(p[1]) if p[0] == "lit" else conv_regex(p[1], *p[2], digit=r"\d" if uni else "[0-9]")
                for p in rule.parts))
    return rule.regex[unicode_digits]


def matching_rules(req, rules, unicode_digits=False):
    """[(rule, [values])] of the rules whose regex matches the path (with or without a final '/')."""
    path = "/" + utf8_or_pct(decoded_path(req)).lstrip("/")
    merged = re.sub("/+", "/", path)  # Werkzeug's merge_slashes redirects to this
    out = []
    for rule in rules:
        for cand in (path, path + "/", path[:-1] if path.endswith("/") else None, merged, merged + "/"):
            m = cand is not None and rule_regex(rule, unicode_digits).fullmatch(cand)
            if m:
                out.append((rule, list(m.groups())))
                break
    return out


def int_fits64(v):
    """Whether the digits v (maybe signed) fit in int64, without Python's 4300-digit limit."""
    digits = v.lstrip("-").lstrip("0") or "0"
    return len(digits) <= 19 and INT64[0] <= int(v[0] == "-" and "-" + digits or digits) <= INT64[1]


def vars_of(rule, values):
    return [(p[1], p[2][0], p[2][1], v) for p, v in zip([p for p in rule.parts if p[0] == "var"], values)]


def routing_other(f, o):
    """Ours answered a routing error, another rule's handler than Flask's, or a HEAD or OPTIONS
    answer (200 without a body) that may come from another rule."""
    if o is None:
        return False
    if o["data"] is None:
        return o["status"] in (404, 405, 308, 200)
    return f["data"] is None or f["data"]["endpoint"] != o["data"]["endpoint"]


def content_type(req):
    vals = header_values(req, "Content-Type")
    return vals[0].decode("latin-1") if vals else ""


def is_json_type(req):
    mt = content_type(req).split(";")[0].strip().lower()
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


def py_json(req):
    """(ok, value) as Flask's get_json() reads the body (Python's json)."""
    try:
        return True, json.loads(req["body"])
    except (ValueError, RecursionError):
        return False, None


class Pairs(list):
    """A JSON object as all its (key, value) pairs, duplicates kept."""


def py_json_pairs(req):
    """The body as Python's json reads it, objects as Pairs (a later duplicate key hides an
    earlier one from Flask's value, not from a parser that checks every key); None if invalid."""
    try:
        return json.loads(req["body"], object_pairs_hook=Pairs)
    except (ValueError, RecursionError):
        return None


def walk_json(v):
    """Every value of a parsed body, and every key of its objects."""
    yield v
    if isinstance(v, Pairs):
        for k, x in v:
            yield k
            yield from walk_json(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk_json(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from walk_json(x)


def json_has(req, what):
    """Whether the body holds: "big" integers outside int64..uint64, "nonfinite" NaN/Infinity
    literals, "surrogate" lone surrogates, "nulkey" U+0000 in an object key."""
    v = py_json_pairs(req)
    if v is None:
        return False
    for x in walk_json(v):
        if what == "big" and isinstance(x, int) and not isinstance(x, bool) and not INT64[0] <= x < 2 ** 64:
            return True
        if what == "nonfinite" and isinstance(x, float) and not math.isfinite(x) and \
                re.search(rb"NaN|Infinity", req["body"]):
            return True
        if what == "surrogate" and isinstance(x, str) and re.search("[\ud800-\udfff]", x):
            return True
        if what == "nulkey" and isinstance(x, Pairs) and any("\0" in k for k, _x in x):
            return True
    return False


def json_depth(body):
    depth = top = 0
    in_str = esc = False
    for c in body:
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c in b"[{":
            depth += 1
            top = max(top, depth)
        elif c in b"]}":
            depth -= 1
    return top


def json_answer_swap(req, f, o, cond):
    """When cond holds: the json route's whole answer is ours; the silent route's body is ours."""
    if not cond:
        return None
    if f["status"] != o["status"]:
        # a JSON route's handler answer (ours may echo a body json-c took that is not JSON)
        ends = [a for a in (f, o) if (a["data"] is not None and "json" in a["data"]) or
                (a["data"] is None and a["status"] == 200 and a["media"] == "application/json")]
        errs = [a for a in (f, o) if a["data"] is None and a["status"] in (400, 500)]
        if len(ends) + len(errs) == 2 and (errs and (ends or is_json_type(req))):
            return as_ours(f, o)
        return None
    if f["data"] is not None and o["data"] is not None and "json" in f["data"]:
        return with_data(f, json=o["data"].get("json"))
    if (f["data"] is None) != (o["data"] is None):
        return as_ours(f, o)
    return None


def mp_parts(req):
    """(boundary, [(part head, content)]) of a multipart body, split at its delimiter lines (CRLF,
    '--boundary', optional '--', padding, CRLF), or None when the request is not multipart."""
    ct = content_type(req)
    m = re.search(r'boundary=("([^"]*)"|[^;\s]+)', ct)
    if "multipart/form-data" not in ct.lower() or not m:
        return None
    b = (m.group(2) if m.group(2) is not None else m.group(1)).encode("latin-1")
    body = req["body"]
    delims = list(re.finditer(rb"(?:\A|\r\n)--" + re.escape(b) + rb"(--)?[ \t\x0b\x0c]*(?:\r\n|\Z)", body))
    parts = []
    for d, nxt in zip(delims, delims[1:] + [None]):
        if d.group(1):
            break
        chunk = body[d.end():nxt.start() if nxt else len(body)]
        head, _, content = chunk.partition(b"\r\n\r\n")
        parts.append((head, content))
    return b, parts


def mp_swap(req, f, o, cond, fields=("form", "files")):
    """When cond(boundary, parts) holds: the form fields and/or files are ours."""
    mp = mp_parts(req)
    if mp is None or f["data"] is None or o["data"] is None or not cond(*mp):
        return None
    return with_data(f, **{k: o["data"][k] for k in fields})


def part_name(h):
    m = re.search(rb'(?:^|[;\s])name=(?:"((?:[^"\\]|\\.)*)"|([^;\r\n]*))', h)
    if not m:
        return None
    v = m.group(1).replace(b'\\"', b'"') if m.group(1) is not None else m.group(2).strip()
    return v.decode("utf-8", "gen_pctxx")


def urlencoded_model(body):
    out = []
    for pair in body.split(b"&"):
        if pair:
            k, _, v = pair.partition(b"=")
            out.append([urllib.parse.unquote_to_bytes(x.replace(b"+", b" ")).decode("utf-8", "gen_pctxx")
                        .replace("\0", "%00") for x in (k, v)])
    return out


def _refused_json(o):
    return o["status"] == 400 or (o["data"] is not None and o["data"].get("json") is None)


# ---- DOCUMENTED: deliberate differences. Reasons say where they are written down. ----


# flask-differences.md, Answers: error pages
@documented("error-body-format",
            "error pages are HTML, or JSON if the client accepts JSON and for fc_request_json's 400/415: only an error's status is compared")
def _(req, f, o):
    if is_error(f) and is_error(o) and f["status"] == o["status"] and f["media"] != o["media"]:
        g = copy_answer(f)
        g["media"] = o["media"]
        return g
    return None


# flask-differences.md, Requests
@documented("path-not-utf8-or-nul",
            "a path that is not UTF-8 once decoded, or holds %00, is a 400")
def _(req, f, o):
    dp = decoded_path(req)
    if (not is_utf8(dp) or b"\0" in dp) and o["status"] == 400 and is_error(o):
        return as_ours(f, o)
    return None


# not written down yet: the 400's own message; RFC 9112 section 3.2
@documented("target-not-origin-form",
            "a target whose decoded path does not start with '/' ('*', '%zz/x') is a 400 (RFC 9112 3.2); Werkzeug routes it")
def _(req, f, o):
    if not decoded_path(req).startswith(b"/") and o["status"] == 400 and is_error(o):
        return as_ours(f, o)
    return None


# flask-differences.md, Requests
@documented("head-over-connection-memory",
            "a request line or header block over the connection memory (20 KiB) is a 414 or 431")
def _(req, f, o):
    head = raw_head_size(req)
    # (libmicrohttpd keeps no copy of the Cookie header and no record per cookie: conn.c's decoy)
    values = len(req["headers"]) + target_parts(req)[1].count(b"&") + 1
    if head + values * 64 + 2048 > 20480 - 2048 and o["status"] in (414, 431):
        return as_ours(f, o)
    return None


# flask-differences.md, Answers
@documented("redirect-over-connection-memory",
            "a redirect whose header lines do not fit beside the request (308 echoing ~10 KB) is a 414")
def _(req, f, o):
    if 300 <= f["status"] < 400 and len(f["location"] or "") > 4096 and o["status"] == 414:
        return as_ours(f, o)
    return None


# flask-differences.md, Requests
@documented("obs-fold-or-space-before-colon",
            "a folded header line or whitespace before a colon is a 400 (RFC 9112 5)")
def _(req, f, o):
    bad = any(b"\r\n" in (v or b"") or k != k.strip() for k, v in req["headers"])
    # libmicrohttpd 0.9.75 may run out of connection memory first on a large folded block: 431
    if bad and (o["status"] == 400 or (o["status"] == 431 and raw_head_size(req) > 8192)) and is_error(o):
        return as_ours(f, o)
    return None


# flask-differences.md, Werkzeug behaviour not copied
@documented("method-not-uppercase",
            "a lowercase method is a 400; Werkzeug upper-cases it (a Werkzeug bug not copied)")
def _(req, f, o):
    if not re.fullmatch(rb"[A-Z]+", req["method"]) and o["status"] == 400 and is_error(o):
        return as_ours(f, o)
    return None


# flask-differences.md, Werkzeug behaviour not copied
@documented("options-nostrict-without-slash",
            "OPTIONS reaching a strict_slashes=False rule without its final '/': Werkzeug sends no Allow, ours lists the rule's methods")
def _(req, f, o):
    if req["method"] != b"OPTIONS" or f["status"] != 200 or f["allow"] is not None or o["allow"] is None:
        return None
    path = "/" + utf8_or_pct(decoded_path(req)).lstrip("/")
    for rule in RULES:
        if "nostrict" in rule.flags and rule.full.endswith("/") and not path.endswith("/") and \
                rule_regex(rule).fullmatch(path + "/"):
            g = copy_answer(f)
            g["allow"] = o["allow"]
            return g
    return None


# flask-differences.md, Requests
@documented("int-past-64-bits",
            "an int route argument past 64 bits does not match, the next rule may (Flask: 500 past 4300 digits)")
def _(req, f, o):
    for rule, values in matching_rules(req, RULES):
        for conv, _pos, _kw, v in vars_of(rule, values):
            if conv == "int" and not int_fits64(v) and routing_other(f, o):
                return as_ours(f, o)
    return None


# flask-differences.md, Routing and Werkzeug behaviour not copied
@documented("non-ascii-digits",
            "Werkzeug's int/float converters take non-ASCII digits ('/int/٣'); ours do not (not copied)")
def _(req, f, o):
    uni = {r.endpoint for r, _v in matching_rules(req, RULES, True)}
    ascii_ = {r.endpoint for r, _v in matching_rules(req, RULES)}
    if uni - ascii_ and routing_other(f, o):
        return as_ours(f, o)
    return None


# flask-differences.md, Werkzeug behaviour not copied (mojibake)
@documented("raw-non-ascii-request-line",
            "raw non-ASCII in the target: the dev server reads latin-1, splits at 0x85/0xA0 (400), counts bytes as characters")
def _(req, f, o):
    if any(b in LATIN1_SPACE for b in req["target"]):  # a 400, or a target cut short
        return as_ours(f, o)
    # string lengths are counted on the latin-1 characters: another rule may match
    if any(b >= 0x80 for b in target_parts(req)[0]) and routing_other(f, o):
        return as_ours(f, o)
    return None


# flask-differences.md, Werkzeug behaviour not copied (mojibake)
@documented("raw-non-ascii-mojibake",
            "raw non-ASCII in the target or a header: Werkzeug gives latin-1 mojibake, ours UTF-8 (query %XX, headers as sent)")
def _(req, f, o):
    g = copy_answer(f)
    if g["location"] is not None:
        for run in re.findall(rb"[\x80-\xff]+", req["target"]):
            g["location"] = g["location"].replace(
                "".join("%%%02X" % c for c in run.decode("latin-1").encode("utf-8")),
                "".join("%%%02X" % c for c in run))
    if f["data"] is None or o["data"] is None:
        return g if differences(g, f) else None
    if any(b >= 0x80 for b in req["target"]):
        runs = [(r.decode("latin-1"), r.decode("utf-8", "gen_pctxx"))
                for r in re.findall(rb"[\x80-\xff]+", target_parts(req)[0])]

        def fix(s):
            for latin1, utf8 in runs:
                s = s.replace(latin1, utf8)
            return s
        for k in ("path", "args"):
            g["data"][k] = map_strings(g["data"][k], fix)
        mapped = map_strings(g["data"]["query"], query_mojibake_map(req))
        model = urlencoded_model(target_parts(req)[1])
        # two keys Werkzeug told apart may now be one: its grouping of their values is lost
        if sorted(map(tuple, mapped)) == sorted(map(tuple, model)):
            mapped = model
        g["data"]["query"] = mapped
    for name in REPORT_HEADERS:
        for first in (False, True):
            for strip in (False, True):
                if g["data"]["headers"].get(name) == hdr_model(req, name, first, strip, False):
                    g["data"]["headers"][name] = hdr_model(req, name, first, strip, True)
    return g


# flask-differences.md, Requests
@documented("header-repeated",
            "a repeated header: the WSGI server joins the values with ',', fc_request_header gives the first")
def _(req, f, o):
    if f["data"] is None:
        return None
    g = copy_answer(f)
    for name in REPORT_HEADERS:
        if len(header_values(req, name)) > 1:
            for utf8 in (False, True):
                if g["data"]["headers"].get(name) == hdr_model(req, name, False, False, utf8):
                    g["data"]["headers"][name] = hdr_model(req, name, True, False, utf8)
    return g


# commit 5f6d1a2 (RFC 9112 section 5.5); not in flask-differences.md
@documented("header-trailing-whitespace",
            "whitespace after a header value is dropped (RFC 9112 5.5, commit 5f6d1a2); the dev server keeps it")
def _(req, f, o):
    if f["data"] is None:
        return None
    g = copy_answer(f)
    for name in REPORT_HEADERS:
        for first in (False, True):
            for utf8 in (False, True):
                if g["data"]["headers"].get(name) == hdr_model(req, name, first, False, utf8):
                    g["data"]["headers"][name] = hdr_model(req, name, first, True, utf8)
    return g


# flask-differences.md, Requests (it says Werkzeug skips a pair without '='; 3.1.8 gives '')
@documented("cookies",
            "Cookie: repeated headers not joined; a pair without '=' skipped (Werkzeug: ''); raw non-ASCII UTF-8, other bytes %XX")
def _(req, f, o):
    if f["data"] is None or o["data"] is None or f["data"]["cookies"] != cookie_model(req):
        return None
    return with_data(f, cookies=cookie_model(req, True, True, True))


# flask-differences.md, Requests
@documented("nul-in-query-or-form",
            "%00 in a query or form value stays '%00' (C strings)")
def _(req, f, o):
    if f["data"] is None:
        return None
    fix = lambda s: s.replace("\0", "%00")
    return with_data(f, query=map_strings(f["data"]["query"], fix), form=map_strings(f["data"]["form"], fix))


# flask-differences.md, Requests ('%XX everywhere'; Werkzeug's %XX is for %FF, not a raw 0xFF)
@documented("form-raw-non-utf8",
            "raw non-UTF-8 bytes in an urlencoded body read %XX; Werkzeug silently drops the whole form")
def _(req, f, o):
    if "x-www-form-urlencoded" in content_type(req).lower() and not is_utf8(req["body"]) and \
            f["data"] is not None and o["data"] is not None and f["data"]["form"] == [] and \
            o["data"]["form"] == urlencoded_model(req["body"]):
        return with_data(f, form=o["data"]["form"])
    return None


# flaskc.h, fc_file_content_type
@documented("file-without-content-type",
            "a file part without Content-Type: ours says application/octet-stream, Werkzeug None (flaskc.h)")
def _(req, f, o):
    if f["data"] is None:
        return None
    return with_data(f, files=[[a, b, c if c is not None else "application/octet-stream", d]
                               for a, b, c, d in f["data"]["files"]])


# flask-differences.md, Request bodies
@documented("json-deep-nesting",
            "JSON nested deeper than 64 is a 400; Flask takes it, or 500s near depth 1000")
def _(req, f, o):
    return json_answer_swap(req, f, o, json_depth(req["body"]) > 64 and (o["status"] == 400 or (
        o["data"] is not None and o["data"].get("json") is None)))


# flask-differences.md, Request bodies
@documented("json-utf16-utf32",
            "a UTF-16 or UTF-32 JSON body is a 400 (RFC 8259 8.1); Python detects the encoding")
def _(req, f, o):
    enc = json.detect_encoding(req["body"]) if req["body"] else "utf-8"
    return json_answer_swap(req, f, o, enc not in ("utf-8", "utf-8-sig") and (o["status"] == 400 or (
        o["data"] is not None and o["data"].get("json") is None)))


# flask-differences.md, Request bodies
@documented("json-nan-infinity",
            "NaN and Infinity in JSON are a 400")
def _(req, f, o):
    return json_answer_swap(req, f, o, json_has(req, "nonfinite") and _refused_json(o))


# flask-differences.md, Request bodies
@documented("json-int-range",
            "JSON integers outside int64..uint64 are a 400")
def _(req, f, o):
    return json_answer_swap(req, f, o, json_has(req, "big") and _refused_json(o))


# flask-differences.md, Request bodies
@documented("json-lone-surrogate-or-nul-key",
            "lone surrogates, or \\u0000 in an object key, are a 400")
def _(req, f, o):
    bad = json_has(req, "surrogate") or json_has(req, "nulkey")
    return json_answer_swap(req, f, o, bad and _refused_json(o))


# flask-differences.md, Request bodies
@documented("multipart-lf-lines",
            "multipart lines must end in CRLF; Werkzeug also takes a bare LF")
def _(req, f, o):
    return mp_swap(req, f, o, lambda b, parts: re.search(rb"Content-Disposition:[^\r\n]*(?<!\r)\n",
                                                            req["body"]) is not None)


# README, Request bodies ('an unquoted one runs to ;')
@documented("multipart-unquoted-parameter",
            "an unquoted multipart parameter runs to ';'; Werkzeug keeps its token characters only")
def _(req, f, o):
    def unquoted_non_token(h):
        for m in re.finditer(rb'(?:^|[;\s])(?:file)?name=(?!")([^;\r\n]*)', h):
            if re.search(rb"[^\w!#$%&'*+\-.^`|~]", m.group(1).strip(), re.ASCII):
                return True
        return False
    return mp_swap(req, f, o, lambda b, parts: any(unquoted_non_token(h) for h, _c in parts))


def ext_value(v):
    """The text of an RFC 8187 ext-value as libflaskc decodes it (UTF-8 or ISO-8859-1, attr-chars
    and %XX; quoted or not), or None when it does not decode."""
    v = v.strip()
    if len(v) >= 2 and v[:1] == v[-1:] == b'"':
        v = v[1:-1]
    m = re.fullmatch(rb"((?i:utf-8|iso-8859-1))'[A-Za-z0-9-]*'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)", v)
    if not m:
        return None
    raw = urllib.parse.unquote_to_bytes(m.group(2))
    return utf8_or_pct(raw) if m.group(1).lower() == b"utf-8" else raw.decode("latin-1")


def ext_value_ok(v):
    return ext_value(v) is not None


def filename_star(h):
    m = re.search(rb'filename\*=("[^"]*"|[^;\r\n]*)', h)
    return m and m.group(1)


# flask-differences.md, Request bodies
@documented("multipart-filename-star-wins",
            "a decodable filename*= wins over filename= wherever each stands; Werkzeug takes the later")
def _(req, f, o):
    files = [(x[0], x[1]) for x in o["data"]["files"]] if o["data"] is not None else []
    return mp_swap(req, f, o, lambda b, parts: any(
        filename_star(h) and ext_value_ok(filename_star(h)) and re.search(rb"(?:^|[;\s])filename=", h) and
        (part_name(h), ext_value(filename_star(h))) in files for h, _c in parts), ("files",))


# flask-differences.md, Request bodies
@documented("multipart-text-pct",
            "multipart field text that is not UTF-8 reads %XX, a NUL %00; Werkzeug gives U+FFFD, keeps NUL")
def _(req, f, o):
    def model_ok(parts):
        texts = [utf8_or_pct(c).replace("\0", "%00") for h, c in parts
                 if b"filename" not in h and (b"\0" in c or not is_utf8(c))]
        return texts and all(t in [v for _k, v in o["data"]["form"]] for t in texts)
    return mp_swap(req, f, o, lambda b, parts: model_ok(parts), ("form",))


# flask-differences.md, Request bodies
@documented("multipart-junk-after-boundary",
            "junk after a boundary ('--XyZ\\x01') is a form error (no fields, no files); Werkzeug drops parts")
def _(req, f, o):
    if o["data"] is None or o["data"]["form"] or o["data"]["files"]:
        return None
    return mp_swap(req, f, o, lambda b, parts: re.search(
        b"--" + re.escape(b) + rb"[ \t\x0b\x0c]*[^ \t\x0b\x0c\r\n-]", req["body"]) is not None)


# flask-differences.md, Request bodies (RFC 6266 4.3: a filename*= that does not decode is ignored)
@documented("multipart-filename-star-undecodable",
            "an undecodable filename*= beside filename= loses to it; Werkzeug takes the later, cut to its token")
def _(req, f, o):
    return mp_swap(req, f, o, lambda b, parts: any(
        filename_star(h) and not ext_value_ok(filename_star(h)) and re.search(rb"(?:^|[;\s])filename=", h)
        for h, _c in parts), ("files",))


# ---- PENDING. The fix-routing and fix-bodies entries (converter checks after matching, long
# floats, path values ending in '/', quadratic matching; strict JSON, BOM, json-c's values,
# multipart padding, filename*, NUL/UTF-8 text, junk after boundaries) were deleted when both
# branches reached main (3905f83); the five NEW ones of c1762b7 (an undecodable filename*= alone,
# a part with no header block, a cookie whose closing quote is escaped, leading slashes in
# fc_request_path, a Cookie header ending in '="') when fix-pending fixed them. None is left. ----


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------


def explain(req, f, o, use_pending):
    """(verdict, entries that fired, what still differs); verdict "same", "documented", "pending"
    or "fail"."""
    d = differences(f, o)
    if not d:
        return "same", [], []
    if f is None or o is None:
        return "fail", [], d
    fired, kinds = [], set()
    g = f
    tables = [("documented", DOCUMENTED)] + ([("pending", PENDING)] if use_pending else [])
    for kind, table in tables:
        for name, _reason, fn in table:
            try:
                h = fn(req, g, o)
            except Exception as e:  # a bug here must fail the case, not the run
                return "fail", fired + ["%s raised %r" % (name, e)], d
            if h is not None and differences(h, g):
                g = h
                fired.append(name)
                kinds.add(kind)
                if not differences(g, o):
                    return ("pending" if "pending" in kinds else "documented"), fired, []
    return "fail", fired, differences(g, o)


def clip(s, n=1500):
    return s if len(s) <= n else s[:n] + "...(%d more characters)" % (len(s) - n)


def show_answer(a):
    if a is None:
        return "(no answer)"
    s = "%d media=%s" % (a["status"], a["media"])
    if a["location"] is not None:
        s += " location=%s" % clip(a["location"], 300)
    if a["allow"] is not None:
        s += " allow=%s" % ",".join(a["allow"])
    if a["data"] is not None:
        s += "\n      " + json.dumps(a["data"], ensure_ascii=True, sort_keys=True)[:1500]
    else:
        s += " body=%r" % a["body"][:200]
    return s


def run_one(req, args):
    head = req["method"].upper() == b"HEAD"
    fr = exchange(args.flask_port, raw_request(req, args.flask_port), args.timeout)
    orr = exchange(args.ours_port, raw_request(req, args.ours_port), args.timeout)
    f = parse_answer(fr, head, args.flask_port)
    o = parse_answer(orr, head, args.ours_port)
    verdict, fired, left = explain(req, f, o, not args.no_pending)
    return req, f, o, verdict, fired, left


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", default=None, help="PRNG seed (default: a fresh random one)")
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--flask-port", type=int)
    ap.add_argument("--ours-port", type=int)
    ap.add_argument("--routes", default=os.path.join(HERE, "routes.txt"))
    ap.add_argument("--only", default=None, help="comma-separated request numbers to run")
    ap.add_argument("--show", type=int, default=None, help="print request N and exit")
    ap.add_argument("--jobs", type=int, default=4, help="requests in flight (default 4)")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--max-print", type=int, default=20)
    ap.add_argument("--no-pending", action="store_true", help="pending differences are failures")
    ap.add_argument("--without", default="", help="comma-separated entries to leave out (as if a fix landed)")
    ap.add_argument("--log", default=None, help="write every differing case as JSON lines here")
    ap.add_argument("--list", action="store_true", help="print the tables of known differences and exit")
    args = ap.parse_args()
    if args.list:
        for kind, table in (("documented", DOCUMENTED), ("pending", PENDING)):
            for name, reason, _fn in table:
                print("%-10s %-42s %s" % (kind, name, reason))
        return 0
    if args.seed is None:
        args.seed = str(random.SystemRandom().randrange(10**9))
    global RULES
    rules = RULES = load_routes(args.routes)
    for name in filter(None, args.without.split(",")):
        for table in (DOCUMENTED, PENDING):
            table[:] = [e for e in table if e[0] != name]

    if args.show is not None:
        req = gen_request(args.seed, args.show, rules)
        print(repr(raw_request(req, 5000)))
        return 0
    if not args.flask_port or not args.ours_port:
        ap.error("--flask-port and --ours-port are needed")

    print("gen.py: seed %s, %d requests%s (replay: gen.py --seed %s ...)" % (
        args.seed, args.requests, "" if not args.only else ", only " + args.only, args.seed), flush=True)
    idx = [int(x) for x in args.only.split(",")] if args.only else range(args.requests)
    reqs = (gen_request(args.seed, i, rules) for i in idx)
    t0 = time.time()
    counts = {"same": 0, "documented": 0, "pending": 0, "fail": 0}
    by_entry, by_kind, printed, example, endpoints, statuses = {}, {}, 0, {}, set(), {}
    log = open(args.log, "w", encoding="utf-8") if args.log else None
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for req, f, o, verdict, fired, diffs in ex.map(lambda r: run_one(r, args), reqs):
            counts[verdict] += 1
            if verdict in ("documented", "pending"):
                for name in fired:
                    by_entry[name] = by_entry.get(name, 0) + 1
                    example.setdefault(name, req["i"])
            for a in (f, o):
                if a is not None and a["data"] is not None:
                    endpoints.add(a["data"]["endpoint"])
            statuses[f["status"] if f else None] = statuses.get(f["status"] if f else None, 0) + 1
            if verdict == "fail":
                for k in diffs:
                    by_kind[k] = by_kind.get(k, 0) + 1
                if printed < args.max_print:
                    printed += 1
                    print("\nFAIL #%d differs in %s%s" % (req["i"], ", ".join(diffs), (
                        " (once these are allowed for: %s)" % ", ".join(fired)) if fired else ""))
                    print("  request: %s" % clip(repr(raw_request(req, 5000))))
                    print("  flask: %s" % show_answer(f))
                    print("  ours:  %s" % show_answer(o))
            if log and verdict != "same":
                log.write(json.dumps({"i": req["i"], "verdict": verdict, "fired": fired, "diffs": diffs,
                                      "request": repr(raw_request(req, 5000)),
                                      "flask": f and dict(f, body=repr(f["body"])),
                                      "ours": o and dict(o, body=repr(o["body"]))}) + "\n")
    dt = time.time() - t0
    n = sum(counts.values())
    print("\ngen.py: seed %s: %d requests in %.1f s: %d same, %d documented differences, %d pending, %d failures" % (
        args.seed, n, dt, counts["same"], counts["documented"], counts["pending"], counts["fail"]))
    missing = sorted({r.endpoint for r in RULES} - {e.rsplit(".", 1)[-1] for e in endpoints})
    print("  handlers reached: %d of %d%s; Flask's statuses: %s" % (
        len(RULES) - len(missing), len(RULES), " (not: %s)" % ", ".join(missing) if 0 < len(missing) <= 8 else "",
        ", ".join("%s %d" % kv for kv in sorted(statuses.items(), key=str))))
    for kind, table in (("documented", DOCUMENTED), ("pending", PENDING)):
        for name, _reason, _fn in table:
            if by_entry.get(name):
                print("  %-10s %-42s %5d  (e.g. --only %d)" % (kind, name, by_entry[name], example[name]))
    if by_kind:
        print("  failures by kind: " + ", ".join("%s %d" % kv for kv in sorted(by_kind.items(), key=lambda kv: -kv[1])))
    if counts["fail"]:
        print("gen.py: FAIL (replay: --seed %s --only <request numbers above>)" % args.seed)
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
