/* The registry of every module's option table, for the public listing
 * (alchdb_options_count/_info/_to_json) and the tools generated from it. A
 * module that has options adds its spec here. */
#include "core/opt.h"

extern const alchdb__optspec alchdb__dashboard_spec;

const alchdb__optspec *const alchdb__option_specs[] = {
    &alchdb__dashboard_spec,
    NULL,
};
