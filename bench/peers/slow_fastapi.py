"""slow_fastapi.py - answer after 2 s, in FastAPI with an async sleep.

    uvicorn --workers 2 slow_fastapi:app
"""
import asyncio

from fastapi import FastAPI

app = FastAPI()


@app.get("/slow")
async def slow():
    await asyncio.sleep(2)
    return {"waited_ms": 2000}
