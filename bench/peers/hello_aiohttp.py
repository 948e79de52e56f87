"""hello_aiohttp.py - {"message": "hello"} on / in aiohttp.

    python3 hello_aiohttp.py PORT                                   (one process)
    gunicorn -k aiohttp.GunicornUVLoopWebWorker -w 2 hello_aiohttp:app   (as deployed here)
"""
import sys

from aiohttp import web


async def hello(request):
    return web.json_response({"message": "hello"})


async def make_app():
    app = web.Application()
    app.router.add_get("/", hello)
    return app

app = make_app  # gunicorn's aiohttp worker accepts a coroutine factory

if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None)
