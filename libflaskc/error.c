/* error.c — the error table (fc_strerror), the version string and the small
 * growable-vector helper shared by the registration code. */
#include "internal.h"

#include <stdlib.h>

const char *fc_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define FC__ERR_CASE(name, val, msg)                                           \
    case FC_##name:                                                            \
        return msg;
        FC_ERRNO_MAP(FC__ERR_CASE)
#undef FC__ERR_CASE
    default:
        return "unknown error";
    }
}

#define FC__STR2(x) #x
#define FC__STR(x) FC__STR2(x)
const char *fc_version_string(void)
{
    return FC__STR(FC_VERSION_MAJOR) "." FC__STR(FC_VERSION_MINOR) "." FC__STR(FC_VERSION_PATCH);
}

int fc__vec_grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    while (nc < n)
        nc *= 2;
    void *p = realloc(*v, nc * elem);
    if (!p)
        return FC_ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}
