"""hello_flask.py - {"message": "hello"} on / in Flask.

    gunicorn -w 2 hello_flask:app              (sync workers)
    gunicorn -k gevent -w 2 hello_flask:app    (gevent workers)
"""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return {"message": "hello"}
