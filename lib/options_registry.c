/* The registry of every module's option table, for the public listing
 * (alchdb_options_count/_info/_to_json) and the tools generated from it. A
 * module that has options adds its spec here. */
#include "core/opt.h"

extern const alchdb__optspec alchdb__pool_optspec;
extern const alchdb__optspec alchdb__router_optspec;
extern const alchdb__optspec alchdb__cache_optspec;
extern const alchdb__optspec alchdb__monitor_optspec;
extern const alchdb__optspec alchdb__perftest_spec;
extern const alchdb__optspec alchdb__dashboard_spec;
extern const alchdb__optspec alchdb__advisor_optspec;
extern const alchdb__optspec alchdb__migration_optspec;

const alchdb__optspec *const alchdb__option_specs[] = {
    &alchdb__pool_optspec,
    &alchdb__router_optspec,
    &alchdb__cache_optspec,
    &alchdb__monitor_optspec,
    &alchdb__perftest_spec,
    &alchdb__dashboard_spec,
    &alchdb__advisor_optspec,
    &alchdb__migration_optspec,
    NULL,
};
