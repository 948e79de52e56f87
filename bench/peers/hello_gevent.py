"""hello_gevent.py - {"message": "hello"} on / with gevent.pywsgi.

One listening socket, WORKERS processes forked after binding (gevent's
pre-fork pattern), access log off.

    WORKERS=2 python3 hello_gevent.py PORT
"""
from gevent import monkey
monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402

BODY = json.dumps({"message": "hello"}).encode()


def app(environ, start_response):
    if environ["PATH_INFO"] != "/":
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error":"not found"}']
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]


if __name__ == "__main__":
    server = WSGIServer(("127.0.0.1", int(sys.argv[1])), app, log=None, backlog=4096)
    server.init_socket()
    for _ in range(int(os.environ.get("WORKERS", "2")) - 1):
        if os.fork() == 0:
            break
    server.serve_forever()
