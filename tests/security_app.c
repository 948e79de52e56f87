/* security_app.c — the server tests/test_security.sh attacks: routes that copy
 * client input (query values, path variables, the Host header) into response
 * headers, cookies, redirects and the library's own pages, as careless
 * applications do. The library must keep every such answer well-formed.
 *
 *   GET /header?v=     X-Echo: v           (fc_response_header; 400 if refused)
 *   GET /setheader?v=  X-Echo: v           (fc_response_set_header; 400 if refused)
 *   GET /cookie?v=     Set-Cookie: c=v     (fc_response_cookie; 400 if refused)
 *   GET /redirect?to=  302 Location: to    (fc_response_redirect; 400 if refused)
 *   GET /abort?m=      400 with m as the description (fc_abort)
 *   GET /dir/          200: /dir and /dir?q answer 308 with a page that echoes the URL
 *   GET /p/<path:p>/   200 echo of p as text: /p/<anything> answers 308 too
 *   GET /fmt/<s>       200 text "s|q" through fc_request_printf("%s|%s")
 *   GET /              200 "hello"; GET /wait?ms= answers after ms (fc_after; bench/soak)
 *
 * Run: FLASKC_PORT=5000 ./security_app */
#include <flaskc.h>

#include <stdio.h>
#include <string.h>

FC_APP_ROUTE("GET", "/header", header)
{
    const char *v = fc_query(req, "v");
    if (fc_response_header(req, "X-Echo", v ? v : "") != 0)
        fc_abort(req, 400, "header refused");
    else
        fc_response_text(req, 200, "header set");
}

FC_APP_ROUTE("GET", "/setheader", setheader)
{
    const char *v = fc_query(req, "v");
    if (fc_response_set_header(req, "X-Echo", v ? v : "") != 0)
        fc_abort(req, 400, "header refused");
    else
        fc_response_text(req, 200, "header set");
}

FC_APP_ROUTE("GET", "/cookie", cookie)
{
    const char *v = fc_query(req, "v");
    if (fc_response_cookie(req, "c", v ? v : "", NULL) != 0)
        fc_abort(req, 400, "cookie refused");
    else
        fc_response_text(req, 200, "cookie set");
}

FC_APP_ROUTE("GET", "/redirect", redirect)
{
    const char *to = fc_query(req, "to");
    if (fc_response_redirect(req, 302, to ? to : "/") != 0 && !fc_request_answered(req))
        fc_abort(req, 400, "redirect refused");
}

FC_APP_ROUTE("GET", "/abort", abort_route)
{
    fc_abort(req, 400, fc_query(req, "m"));
}

FC_APP_ROUTE("GET", "/dir/", dir)
{
    fc_response_text(req, 200, "dir");
}

FC_APP_ROUTE("GET", "/p/<path:p>/", path_echo)
{
    fc_response_text(req, 200, fc_arg(req, "p"));
}

FC_APP_ROUTE("GET", "/fmt/<s>", fmt)
{
    const char *q = fc_query(req, "q");
    fc_response_text(req, 200, fc_request_printf(req, "%s|%s", fc_arg(req, "s"), q ? q : ""));
}

FC_APP_ROUTE("GET", "/", hello)
{
    fc_response_text(req, 200, "hello");
}

static void waited(fc_request *req, void *ud)
{
    (void)ud;
    fc_response_text(req, 200, "waited");
}

FC_APP_ROUTE("GET", "/wait", wait_ms)
{
    long long ms;
    if (fc_query_int(req, "ms", 2000, &ms) != 0 || ms < 0 || ms > 60000)
        fc_abort(req, 400, "ms must be 0..60000");
    else
        fc_after(req, (unsigned)ms, waited, NULL);
}

int main(void)
{
    fc_app *app = fc_app_new("security");
    if (!app)
        return 1;
    int rc = fc_app_run(app); /* FLASKC_HOST, FLASKC_PORT...; until SIGINT/SIGTERM */
    if (rc)
        fprintf(stderr, "security_app: %s\n", fc_strerror(rc));
    fc_app_free(app);
    return rc ? 1 : 0;
}
