/* Built without libmicrohttpd (-Dhttp=disabled or not found): the listener
 * functions exist, so the ABI does not depend on the build, and say why
 * they cannot serve. */
#include "dashboard/dash.h"

ALCHDB_API int alchdb_dashboard_listen(alchdb_dashboard *d, const char *address,
                                       const char *token_file, alchdb_dashboard_listener **out)
{
    (void)address;
    (void)token_file;
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    return alchdb__error(ALCHDB_E_UNSUPPORTED,
                         "alchdb_dashboard_listen: this build has no HTTP listener (libmicrohttpd)");
}

ALCHDB_API int alchdb_dashboard_listener_port(const alchdb_dashboard_listener *l)
{
    ALCHDB_CHECK_ARG(l, "l", "must not be NULL");
    return ALCHDB_E_UNSUPPORTED;
}

ALCHDB_API void alchdb_dashboard_listener_stop(alchdb_dashboard_listener *l) { (void)l; }
