/* json.c — json-c glue: the request body as JSON (415/400 with reasons),
 * JSON responses (compact, '/' unescaped, trailing newline). */
#include "internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

int fc__response_body(fc_request *req, int status, const char *ctype, const void *data, size_t len,
                      bool copy, const char *what);
int fc__abort_json(fc_request *req, int status, const char *description);

static void put_json(void *p)
{
    json_object_put(p);
}

/* 0 ok (*out may be NULL for "null"), FC_EINVAL wrong type, FC_ERANGE bad JSON;
 * *why gets a request-owned reason */
static int parse_body(fc_request *req, struct json_object **out, const char **why)
{
    *out = NULL;
    const char *ct = fc_request_header(req, "Content-Type");
    if (!ct || !fc__is_json_type(ct)) {
        *why = "Did not attempt to load JSON data because the request Content-Type was not "
               "'application/json'.";
        return FC_EINVAL;
    }
    if (req->body_len == 0) {
        *why = "Failed to decode JSON object: the request body is empty.";
        return FC_ERANGE;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        *why = "out of memory";
        return FC_ENOMEM;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    if (req->body_len > (size_t)INT32_MAX - 1) {
        json_tokener_free(tok);
        *why = "Failed to decode JSON object: body too large.";
        return FC_ERANGE;
    }
    struct json_object *obj = json_tokener_parse_ex(tok, req->body, (int)req->body_len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* a bare scalar at the end of the input ("42", "null") needs the
         * end of input to be seen: feed the terminating NUL */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        used = req->body_len;
    }
    int rc = 0;
    if (jerr == json_tokener_continue) {
        *why = "Failed to decode JSON object: unexpected end of data.";
        rc = FC_ERANGE;
    } else if (jerr != json_tokener_success) {
        *why = fc_request_printf(req, "Failed to decode JSON object: %s at offset %zu.",
                                 json_tokener_error_desc(jerr), used);
        rc = FC_ERANGE;
    } else {
        /* trailing garbage after the value (whitespace is fine) */
        for (size_t i = used; i < req->body_len; i++) {
            char c = req->body[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
                *why = fc_request_printf(req, "Failed to decode JSON object: extra data at offset %zu.", i);
                rc = FC_ERANGE;
                break;
            }
        }
    }
    json_tokener_free(tok);
    if (rc) {
        json_object_put(obj);
        if (!*why)
            *why = "Failed to decode JSON object.";
        return rc;
    }
    *out = obj;
    return 0;
}

static struct json_object *request_json(fc_request *req, bool silent)
{
    if (req->json_parsed)
        return req->json;
    const char *why = NULL;
    struct json_object *obj = NULL;
    int rc = parse_body(req, &obj, &why);
    if (rc == 0 && obj && fc_request_on_cleanup(req, put_json, obj) != 0) {
        json_object_put(obj);
        obj = NULL;
        rc = FC_ENOMEM;
        why = "out of memory";
    }
    req->json_parsed = true;
    req->json = obj;
    if (rc && !silent)
        fc__abort_json(req, rc == FC_EINVAL ? 415 : rc == FC_ENOMEM ? 500 : 400, why);
    return obj;
}

struct json_object *fc_request_json(fc_request *req)
{
    return request_json(req, false);
}

struct json_object *fc_request_json_silent(fc_request *req)
{
    return request_json(req, true);
}

char *fc__json_to_arena(fc_request *req, struct json_object *obj, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s)
        return NULL;
    pthread_mutex_lock(&req->mu);
    char *p = fc__arena_alloc(req->arena, n + 2);
    pthread_mutex_unlock(&req->mu);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\n';
    p[n + 1] = '\0';
    *len = n + 1;
    return p;
}

int fc_response_json(fc_request *req, int status, struct json_object *obj)
{
    size_t len = 0;
    char *p = fc__json_to_arena(req, obj, &len);
    json_object_put(obj);
    if (!p)
        return fc__response_body(req, 500, NULL, NULL, 0, false, "json");
    return fc__response_body(req, status, "application/json", p, len, false, "json");
}

int fc_response_json_str(fc_request *req, int status, const char *json)
{
    if (!json)
        return FC_EINVAL;
    size_t n = strlen(json);
    if (n && json[n - 1] == '\n')
        return fc__response_body(req, status, "application/json", json, n, true, "json");
    pthread_mutex_lock(&req->mu);
    char *p = fc__arena_alloc(req->arena, n + 1);
    pthread_mutex_unlock(&req->mu);
    if (!p)
        return fc__response_body(req, 500, NULL, NULL, 0, false, "json");
    memcpy(p, json, n);
    p[n] = '\n';
    return fc__response_body(req, status, "application/json", p, n + 1, false, "json");
}
