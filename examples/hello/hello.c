/* hello.c — the smallest libflaskc service: {"message":"hello"} on /.
 * Build: cc hello.c $(pkg-config --cflags --libs libflaskc) -o hello */
#include <flaskc.h>

static const char hello_body[] = "{\"message\":\"hello\"}";

FC_APP_ROUTE("GET", "/", hello)
{
    fc_response_json_str(req, 200, hello_body);
}

int main(void)
{
    fc_app *app = fc_app_new("hello");
    if (!app)
        return 1;
    int rc = fc_app_run(app); /* FLASKC_HOST, FLASKC_PORT, ...; Ctrl-C stops it */
    fc_app_free(app);
    return rc ? 1 : 0;
}
