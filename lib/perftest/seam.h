/* What another module (lib/dashboard, which runs perftests for its REST
 * routes) may use of the perftest module beyond <alchdb/perftest.h>; the
 * module's own internals stay in pt.h. Never exported. */
#ifndef ALCHDB_PERFTEST_SEAM_H
#define ALCHDB_PERFTEST_SEAM_H

#include "alchdb/perftest.h"

/* A new config holding a deep copy of src's options (src NULL: the
 * defaults). 0, or ALCHDB_E_NOMEM with *out NULL. */
int alchdb__perftest_config_copy(const alchdb_perftest_config *src, alchdb_perftest_config **out);

#endif /* ALCHDB_PERFTEST_SEAM_H */
