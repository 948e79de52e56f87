"""slow_flask.py - answer after 2 s, in Flask under gunicorn's gevent worker
(time.sleep is cooperative there: gunicorn monkey-patches the worker).

    gunicorn -k gevent -w 2 slow_flask:app
"""
import time

from flask import Flask

app = Flask(__name__)


@app.get("/slow")
def slow():
    time.sleep(2)
    return {"waited_ms": 2000}
