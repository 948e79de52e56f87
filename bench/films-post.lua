-- bench/films-post.lua - wrk script for bench/films: POST /reviews/ with a
-- JSON body over keep-alive connections.
wrk.method = "POST"
wrk.body = '{"film_id": 995, "rating": 4}'
wrk.headers["Content-Type"] = "application/json"
