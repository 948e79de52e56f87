/* slow_flaskc.c - answer after 2 s, two ways, in libflaskc.
 *
 *   GET /slow           async: fc_after() parks the request on a timer and
 *                       holds no thread while it waits
 *   GET /slow-blocking  FC_ROUTE_BLOCKING: runs on the worker pool
 *                       (FLASKC_WORKERS threads) and sleeps there
 *
 * Build: cc slow_flaskc.c $(pkg-config --cflags --libs libflaskc) -o slow_flaskc
 * Run:   FLASKC_PORT=5000 ./slow_flaskc */
#include <flaskc.h>

#include <unistd.h>

static void waited(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_json_str(req, 200, "{\"waited_ms\":2000}");
}

FC_APP_ROUTE("GET", "/slow", slow)
{
    int rc = fc_after(req, 2000, waited, NULL);
    if (rc)
        fc_abort(req, 503, fc_strerror(rc));
}

FC_APP_ROUTE_BLOCKING("GET", "/slow-blocking", slow_blocking)
{
    sleep(2);
    fc_response_json_str(req, 200, "{\"waited_ms\":2000}");
}

int main(void)
{
    fc_app *app = fc_app_new("slow");
    if (!app)
        return 1;
    int rc = fc_app_run(app); /* FLASKC_HOST, FLASKC_PORT, ...; until SIGINT/SIGTERM */
    fc_app_free(app);
    return rc ? 1 : 0;
}
