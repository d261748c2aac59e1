#include "alchdb/version.h"

ALCHDB_API uint32_t alchdb_version(void) { return (uint32_t)ALCHDB_VERSION_NUMBER; }

ALCHDB_API const char *alchdb_version_string(void) { return ALCHDB_VERSION_STRING; }
