"""oracle_app.py — the Flask side of tests/test_oracle.sh.

The same small app as tests/oracle/oracle_app.c, written with Flask 3.x; the
test runs both on loopback and compares their answers (status, selected
headers, body). Usage: python3 oracle_app.py PORT  (or ORACLE_PORT=...).
"""
import os
import sys

from flask import Blueprint, Flask, Response, abort, jsonify, make_response, redirect, request
from werkzeug.serving import run_simple

app = Flask(__name__)


@app.route("/films/<int:id>/")
def film(id):
    return "film %d type=int" % id


@app.route("/items", methods=["GET", "POST"])
def items():
    return "items " + request.method


@app.route("/onlypost", methods=["POST"])
def onlypost():
    return "onlypost"


@app.route("/about")
def about():
    return "about"


@app.route("/coll/", methods=["GET", "POST"])
def coll():
    return "coll " + request.method


@app.route("/str/<name>")
def str_(name):
    return "name=[%s] len=%d" % (name, len(name))


@app.route("/path/<path:p>")
def path(p):
    return "path=[%s]" % p


@app.route("/f/<float:x>")
def float_(x):
    return "float=%r" % x


@app.route("/u/<uuid:u>")
def uuid_(u):
    return str(u)


# issue 19: values are converted after the match; a path before a final '/';
# two variables in one segment
@app.route("/lim/<int(max=100):n>")
def lim(n):
    return "lim n=%d" % n


@app.route("/lim/<s>")
def lim_s(s):
    return "lim s=[%s]" % s


@app.route("/paths/<path:p>/")
def paths(p):
    return "paths=[%s]" % p


@app.route("/pair/<a>-<b>")
def pair(a, b):
    return "pair a=%d b=%d" % (len(a), len(b))


@app.route("/pair/<path:rest>")
def pair_rest(rest):
    return "pair rest=%d" % len(rest)


@app.route("/any/<any(a,b):v>")
def any_(v):
    return "any=" + v


@app.route("/args")
def args():
    return jsonify(
        {
            "all": {k: request.args.getlist(k) for k in request.args},
            "get": request.args.get("a"),
            "getlist": request.args.getlist("a"),
        }
    )


@app.route("/json", methods=["POST"])
def json_():
    return jsonify({"got": request.get_json()})


@app.route("/jsonsilent", methods=["POST"])
def jsonsilent():
    return jsonify({"got": request.get_json(silent=True)})


@app.route("/form", methods=["POST"])
def form():
    files = {}
    for k in request.files:
        f = request.files[k]
        files[k] = [f.filename, len(f.read())]
    return jsonify({"files": files, "form": {k: request.form.getlist(k) for k in request.form}})


@app.route("/stream")
def stream():
    def gen():
        for i in range(3):
            yield "chunk%d\n" % i

    return Response(gen(), mimetype="text/plain")


@app.route("/dict")
def dict_():
    return {"a": 1}


@app.route("/list")
def list_():
    return [1, 2]


@app.route("/tuple")
def tuple_():
    return "created", 201, {"X-Custom": "yes"}


@app.route("/abort")
def abort_():
    abort(418)


@app.route("/abort401")
def abort401():
    abort(401)


@app.route("/redir")
def redir():
    return redirect("/about")


@app.route("/cookie")
def cookie():
    resp = make_response("cookie")
    resp.set_cookie("k", "v", max_age=60, httponly=True, samesite="Lax")
    return resp


bp = Blueprint("bp", __name__, url_prefix="/bp")


@bp.route("/x")
def x():
    return "bp x"


app.register_blueprint(bp)

if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ORACLE_PORT", "5077"))
    run_simple("127.0.0.1", port, app, threaded=True)
