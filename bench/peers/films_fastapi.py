"""films_fastapi.py - the films app (examples/films) in FastAPI + asyncpg.

    DATABASE_URL=postgresql:///films uvicorn --workers 2 films_fastapi:app
    DATABASE_URL=postgresql:///films gunicorn -k uvicorn.workers.UvicornWorker -w 2 films_fastapi:app
"""
import os

import asyncpg
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

app = FastAPI()
pool = None


@app.on_event("startup")
async def connect():
    global pool
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1,
                                     max_size=int(os.environ.get("DB_POOL", "20")))


@app.on_event("shutdown")
async def disconnect():
    await pool.close()


@app.exception_handler(HTTPException)
async def http_error(request, exc):
    return JSONResponse({"error": "Not Found" if exc.status_code == 404 else "Error",
                         "status": exc.status_code, "message": exc.detail}, status_code=exc.status_code)


@app.get("/films/{film_id}/")
async def get_film(film_id: int):
    row = await pool.fetchrow("SELECT film_id, release_year, title FROM film WHERE film_id = $1", film_id)
    if row is None:
        raise HTTPException(404, f"film {film_id} not found")
    return dict(row)


@app.get("/films/")
async def list_films(year_gt: int = Query(2000, alias="year.gt")):
    rows = await pool.fetch(
        "SELECT film_id, release_year, title FROM film WHERE release_year > $1 ORDER BY film_id", year_gt)
    return {str(r["film_id"]): {"release_year": r["release_year"], "title": r["title"]} for r in rows}


class Review(BaseModel):
    film_id: int
    rating: int


@app.post("/reviews/")
async def add_review(review: Review):
    try:
        await pool.execute("INSERT INTO review (film_id, rating) VALUES ($1, $2)", review.film_id, review.rating)
    except asyncpg.ForeignKeyViolationError:
        raise HTTPException(404, f"film {review.film_id} not found")
    return {"film_id": review.film_id, "rating": review.rating}
