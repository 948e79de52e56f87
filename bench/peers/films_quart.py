"""films_quart.py - the films app (examples/films) in Quart + asyncpg.

    DATABASE_URL=postgresql:///films hypercorn -k uvloop -w 2 films_quart:app
"""
import os

import asyncpg
from quart import Quart, abort, jsonify, request

app = Quart(__name__)
app.json.sort_keys = False  # keep the films in id order


@app.before_serving
async def connect():
    app.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1,
                                         max_size=int(os.environ.get("DB_POOL", "20")))


@app.after_serving
async def disconnect():
    await app.pool.close()


@app.errorhandler(404)
async def not_found(e):
    return jsonify(error="Not Found", status=404, message=e.description), 404


@app.get("/films/<int:film_id>/")
async def get_film(film_id):
    row = await app.pool.fetchrow("SELECT film_id, release_year, title FROM film WHERE film_id = $1", film_id)
    if row is None:
        abort(404, f"film {film_id} not found")
    return jsonify(dict(row))


@app.get("/films/")
async def list_films():
    year = request.args.get("year.gt", 2000, type=int)
    rows = await app.pool.fetch(
        "SELECT film_id, release_year, title FROM film WHERE release_year > $1 ORDER BY film_id", year)
    return jsonify({str(r["film_id"]): {"release_year": r["release_year"], "title": r["title"]} for r in rows})


@app.post("/reviews/")
async def add_review():
    body = await request.get_json()
    film_id, rating = int(body["film_id"]), int(body["rating"])
    try:
        await app.pool.execute("INSERT INTO review (film_id, rating) VALUES ($1, $2)", film_id, rating)
    except asyncpg.ForeignKeyViolationError:
        abort(404, f"film {film_id} not found")
    return jsonify(film_id=film_id, rating=rating)
