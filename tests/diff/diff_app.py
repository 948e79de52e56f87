"""diff_app.py - the Flask side of tests/test_diff.sh.

The rules of tests/diff/routes.txt (also read by diff_app.c, the libflaskc
side), each answered by one view that describes what it parsed, as JSON:

  {"endpoint", "method", "path", "args": {name: typed value},
   "query": [[k, v]...], "form": [[k, v]...],
   "files": [[field, filename, content_type, size]...],
   "cookies": {name: value or null}, "headers": {name: value or null},
   "json": body}                           (json routes only)

Usage: python3 diff_app.py ROUTES_FILE PORT
"""
import logging
import sys
import uuid

from flask import Blueprint, Flask, jsonify, request
from werkzeug.serving import run_simple

# the headers and cookies a view reports (gen.py sends these names)
REPORT_HEADERS = ["X-A", "X-B", "X-Long", "User-Agent", "Content-Type"]
REPORT_COOKIES = ["a", "b", "sid", "q", "e"]


def typed(v):
    if isinstance(v, uuid.UUID):
        return str(v)
    return v  # int, float, str


def make_view(endpoint, body):
    def view(**kwargs):
        data = None
        if body == "json":
            data = request.get_json()  # 415 / 400 as Flask answers them
        elif body == "silent":
            data = request.get_json(silent=True)
        out = {
            "endpoint": endpoint,
            "method": request.method,
            "path": request.path,
            "args": {k: typed(v) for k, v in kwargs.items()},
            "query": [[k, v] for k, v in request.args.items(multi=True)],
            "form": [[k, v] for k, v in request.form.items(multi=True)],
            "files": [
                [k, f.filename, f.content_type, len(f.read())]
                for k, f in request.files.items(multi=True)
            ],
            "cookies": {k: request.cookies.get(k) for k in REPORT_COOKIES},
            "headers": {k: request.headers.get(k) for k in REPORT_HEADERS},
        }
        if body is not None:
            out["json"] = data
        return jsonify(out)

    return view


def load(app, path):
    bps = {}
    parents = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            if w[0] == "blueprint":
                name, prefix, parent = w[1], w[2], w[3]
                bps[name] = Blueprint(name, __name__, url_prefix=prefix)
                parents[name] = None if parent == "-" else parent
            elif w[0] == "route":
                bp, methods, rule, endpoint = w[1], w[2].split(","), w[3], w[4]
                flags = w[5].split(",") if len(w) > 5 else []
                body = "json" if "json" in flags else "silent" if "silent" in flags else None
                full = endpoint
                if bp != "-":
                    names = [bp]
                    while parents[names[0]]:
                        names.insert(0, parents[names[0]])
                    full = ".".join(names + [endpoint])
                options = {}
                if "nostrict" in flags:
                    options["strict_slashes"] = False
                if "noopts" in flags:
                    options["provide_automatic_options"] = False
                target = app if bp == "-" else bps[bp]
                target.add_url_rule(
                    rule, endpoint, make_view(full, body), methods=methods, **options
                )
            else:
                raise SystemExit("diff_app.py: bad line: " + line)
    # children first, then the top-level blueprints on the app
    for name, parent in parents.items():
        if parent:
            bps[parent].register_blueprint(bps[name])
    for name, parent in parents.items():
        if not parent:
            app.register_blueprint(bps[name])


app = Flask(__name__)

if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: diff_app.py ROUTES_FILE PORT")
    load(app, sys.argv[1])
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log
    run_simple("127.0.0.1", int(sys.argv[2]), app, threaded=True)
