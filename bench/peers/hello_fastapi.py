"""hello_fastapi.py - {"message": "hello"} on / in FastAPI.

    uvicorn --workers 2 hello_fastapi:app
    gunicorn -k uvicorn.workers.UvicornWorker -w 2 hello_fastapi:app
"""
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello():
    return {"message": "hello"}
