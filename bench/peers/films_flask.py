"""films_flask.py - the films app (examples/films) in Flask + psycopg2.

Deployed as the seed did: gunicorn with the eventlet worker, psycopg2 made
cooperative with eventlet's own patcher (under the gevent worker a
psycogreen-style wait callback is installed instead), a pool of 20
connections per worker. The INSERT is committed (the seed's version never
committed, so psycopg2 rolled every review back when the connection went back
to the pool).

    DATABASE_URL=postgresql:///films gunicorn -k eventlet -w 2 films_flask:app
"""
import os
import sys
from contextlib import contextmanager

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2.pool import ThreadedConnectionPool
from flask import Flask, abort, jsonify, request



def _gevent_wait(conn, timeout=None):  # psycogreen.gevent's wait callback
    from gevent.socket import wait_read, wait_write
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            wait_read(conn.fileno(), timeout=timeout)
        elif state == psycopg2.extensions.POLL_WRITE:
            wait_write(conn.fileno(), timeout=timeout)
        else:
            raise psycopg2.OperationalError(f"bad poll state {state}")


if "gevent" in sys.modules and __import__("gevent.monkey").monkey.is_module_patched("socket"):
    psycopg2.extensions.set_wait_callback(_gevent_wait)
elif "eventlet" in sys.modules:
    import eventlet.support.psycopg2_patcher
    eventlet.support.psycopg2_patcher.make_psycopg_green()

app = Flask(__name__)
app.json.sort_keys = False  # keep the films in id order
POOL = int(os.environ.get("DB_POOL", "20"))
# minconn = maxconn: psycopg2 closes a returned connection when minconn are idle
pool = ThreadedConnectionPool(POOL, POOL, os.environ["DATABASE_URL"])


@contextmanager
def cursor():
    conn = pool.getconn()
    try:
        with conn, conn.cursor() as cur:  # commits on success, rolls back on error
            yield cur
    finally:
        pool.putconn(conn)


@app.errorhandler(404)
def not_found(e):
    return jsonify(error="Not Found", status=404, message=e.description), 404


@app.get("/films/<int:film_id>/")
def get_film(film_id):
    with cursor() as cur:
        cur.execute("SELECT film_id, release_year, title FROM film WHERE film_id = %s", (film_id,))
        row = cur.fetchone()
    if row is None:
        abort(404, f"film {film_id} not found")
    return jsonify(film_id=row[0], release_year=row[1], title=row[2])


@app.get("/films/")
def list_films():
    year = request.args.get("year.gt", 2000, type=int)
    with cursor() as cur:
        cur.execute("SELECT film_id, release_year, title FROM film WHERE release_year > %s ORDER BY film_id",
                    (year,))
        rows = cur.fetchall()
    return jsonify({str(i): {"release_year": y, "title": t} for i, y, t in rows})


@app.post("/reviews/")
def add_review():
    body = request.get_json()
    film_id, rating = int(body["film_id"]), int(body["rating"])
    try:
        with cursor() as cur:
            cur.execute("INSERT INTO review (film_id, rating) VALUES (%s, %s)", (film_id, rating))
    except psycopg2.errors.ForeignKeyViolation:
        abort(404, f"film {film_id} not found")
    return jsonify(film_id=film_id, rating=rating)
