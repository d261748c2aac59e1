/* The one option engine (see opt.h for the rules): typed and by-name setters,
 * the environment loader, the value parsers and the public listing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "opt.h"
#include "pqconn.h"

/* ---- lookup ----------------------------------------------------------------- */

static long def_index(const alchdb__optspec *spec, int key)
{
    for (size_t i = 0; i < spec->n; i++)
        if (spec->defs[i].key == key)
            return (long)i;
    return -1;
}

int64_t alchdb__opts_value(const alchdb__opts *o, const alchdb__optspec *spec, int key)
{
    if (o)
        return alchdb__opts_i(o, key);
    long i = def_index(spec, key);
    return i < 0 ? 0 : spec->defs[i].def;
}

static long name_index(const alchdb__optspec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n; i++)
        if (strcasecmp(spec->defs[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int unknown_key(const alchdb__optspec *spec, int key, const char *func)
{
    return alchdb__error(ALCHDB_E_NOTFOUND, "%s: unknown %s option %d", func, spec->module, key);
}

/* ---- life cycle --------------------------------------------------------------- */

/* Free a string value; the bytes of one that may hold a password (a secret,
 * a conninfo) are overwritten first, so the password does not linger in freed
 * memory. */
static void free_value(const alchdb__optspec *spec, int key, char *s)
{
    long i = spec ? def_index(spec, key) : -1;
    if (i >= 0 && (spec->defs[i].flags & (ALCHDB__OPT_SECRET | ALCHDB__OPT_CONNINFO)))
        alchdb__free_wiped(s);
    else
        alchdb__free(s);
}

/* Replace the string option d's value by a copy of value (NULL: unset), and
 * a conninfo option's shown form by its redaction. 0 or ALCHDB_E_NOMEM (the
 * old value is then kept). */
static int store_string(alchdb__opts *o, const alchdb__optdef *d, const char *value)
{
    char *copy = NULL, *shown = NULL;
    if (value && !(copy = alchdb__strdup(value)))
        return alchdb__nomem("option value");
    if (value && (d->flags & ALCHDB__OPT_CONNINFO) && !(shown = alchdb__redact_conninfo(value, value))) {
        free_value(o->spec, d->key, copy);
        return alchdb__nomem("option value");
    }
    free_value(o->spec, d->key, o->s[d->key]);
    alchdb__free(o->shown[d->key]);
    o->s[d->key] = copy;
    o->shown[d->key] = shown;
    return 0;
}

static size_t nslots(const alchdb__optspec *spec)
{
    int max = 0;
    for (size_t i = 0; i < spec->n; i++)
        if (spec->defs[i].key > max)
            max = spec->defs[i].key;
    return (size_t)max + 1;
}

int alchdb__opts_init(alchdb__opts *o, const alchdb__optspec *spec)
{
    o->spec = spec;
    o->nslots = nslots(spec);
    o->v = alchdb__calloc(o->nslots, sizeof *o->v);
    o->s = alchdb__calloc(o->nslots, sizeof *o->s);
    o->shown = alchdb__calloc(o->nslots, sizeof *o->shown);
    if (!o->v || !o->s || !o->shown)
        goto nomem;
    for (size_t i = 0; i < spec->n; i++) {
        const alchdb__optdef *d = &spec->defs[i];
        o->v[d->key] = d->def;
        if (d->type == ALCHDB_OPT_STRING && d->def_str && store_string(o, d, d->def_str) != 0)
            goto nomem;
    }
    return 0;
nomem:
    alchdb__opts_free(o);
    o->spec = spec;
    return alchdb__nomem("options");
}

void alchdb__opts_free(alchdb__opts *o)
{
    if (!o)
        return;
    for (size_t k = 0; k < o->nslots; k++) {
        if (o->s)
            free_value(o->spec, (int)k, o->s[k]);
        if (o->shown)
            alchdb__free(o->shown[k]);
    }
    alchdb__free(o->s);
    alchdb__free(o->shown);
    alchdb__free(o->v);
    o->s = NULL;
    o->shown = NULL;
    o->v = NULL;
    o->nslots = 0;
}

int alchdb__opts_copy(alchdb__opts *dst, const alchdb__opts *src)
{
    if (alchdb__opts_init(dst, src->spec) != 0)
        return ALCHDB_E_NOMEM;
    for (size_t k = 0; k < src->nslots; k++)
        dst->v[k] = src->v[k];
    for (size_t i = 0; i < src->spec->n; i++) {
        const alchdb__optdef *d = &src->spec->defs[i];
        if (d->type == ALCHDB_OPT_STRING && store_string(dst, d, src->s[d->key]) != 0) {
            alchdb__opts_free(dst);
            return ALCHDB_E_NOMEM;
        }
    }
    return 0;
}

/* ---- typed access --------------------------------------------------------------- */

static void describe_value(const alchdb__optdef *d, int64_t v, char *buf, size_t cap)
{
    if (d->type == ALCHDB_OPT_DURATION)
        alchdb__format_duration(v, buf, cap);
    else if (d->type == ALCHDB_OPT_SIZE)
        snprintf(buf, cap, "%lld bytes", (long long)v);
    else
        snprintf(buf, cap, "%lld", (long long)v);
}

static int check_range(const alchdb__optspec *spec, const alchdb__optdef *d, int64_t value,
                       const char *func)
{
    if (value >= d->min && value <= d->max)
        return 0;
    char v[48], lo[48], hi[48];
    describe_value(d, value, v, sizeof v);
    describe_value(d, d->min, lo, sizeof lo);
    describe_value(d, d->max, hi, sizeof hi);
    return alchdb__error(ALCHDB_E_INVALID, "%s: %s option '%s' = %s is out of range (%s..%s)",
                         func, spec->module, d->name, v, lo, hi);
}

int alchdb__opts_set_int64(alchdb__opts *o, int key, int64_t value, const char *func)
{
    long i = def_index(o->spec, key);
    if (i < 0)
        return unknown_key(o->spec, key, func);
    const alchdb__optdef *d = &o->spec->defs[i];
    if (d->type == ALCHDB_OPT_STRING)
        return alchdb__error(ALCHDB_E_INVALID, "%s: %s option '%s' is a string: use set_string",
                             func, o->spec->module, d->name);
    int rc = check_range(o->spec, d, value, func);
    if (rc == 0)
        o->v[d->key] = value;
    return rc;
}

int alchdb__opts_get_int64(const alchdb__opts *o, int key, int64_t *out, const char *func)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    long i = def_index(o->spec, key);
    if (i < 0)
        return unknown_key(o->spec, key, func);
    const alchdb__optdef *d = &o->spec->defs[i];
    if (d->type == ALCHDB_OPT_STRING)
        return alchdb__error(ALCHDB_E_INVALID, "%s: %s option '%s' is a string: use get_string",
                             func, o->spec->module, d->name);
    *out = o->v[d->key];
    return 0;
}

static int set_string_at(alchdb__opts *o, long i, const char *value, const char *func)
{
    const alchdb__optdef *d = &o->spec->defs[i];
    if (value && d->check) {
        char why[200] = "";
        if (d->check(value, why, sizeof why) != 0)
            return alchdb__error(ALCHDB_E_INVALID, "%s: %s option '%s': %s", func,
                                 o->spec->module, d->name, why[0] ? why : "invalid value");
    }
    if (!value) /* NULL restores the default */
        value = d->def_str;
    return store_string(o, d, value);
}

static int set_parsed(alchdb__opts *o, const alchdb__optdef *d, const char *value, const char *func);

int alchdb__opts_set_string(alchdb__opts *o, int key, const char *value, const char *func)
{
    long i = def_index(o->spec, key);
    if (i < 0)
        return unknown_key(o->spec, key, func);
    const alchdb__optdef *d = &o->spec->defs[i];
    if (d->type == ALCHDB_OPT_ENUM) { /* an enum is set by its choice's name too; NULL: the default */
        if (!value) {
            o->v[d->key] = d->def;
            return 0;
        }
        return set_parsed(o, d, value, func);
    }
    if (d->type != ALCHDB_OPT_STRING)
        return alchdb__error(ALCHDB_E_INVALID,
                             "%s: %s option '%s' is not a string: use set_int64 or set_from_string",
                             func, o->spec->module, d->name);
    return set_string_at(o, i, value, func);
}

int alchdb__opts_get_string(const alchdb__opts *o, int key, const char **out, const char *func)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    long i = def_index(o->spec, key);
    if (i < 0)
        return unknown_key(o->spec, key, func);
    const alchdb__optdef *d = &o->spec->defs[i];
    if (d->type == ALCHDB_OPT_ENUM && d->choices) { /* the choice's name */
        *out = d->choices[o->v[d->key]];
        return 0;
    }
    if (d->type != ALCHDB_OPT_STRING)
        return alchdb__error(ALCHDB_E_INVALID, "%s: %s option '%s' is not a string: use get_int64",
                             func, o->spec->module, d->name);
    if ((d->flags & ALCHDB__OPT_SECRET) && o->s[d->key])
        *out = "***";
    else if (d->flags & ALCHDB__OPT_CONNINFO)
        *out = o->shown[d->key];
    else
        *out = o->s[d->key];
    return 0;
}

int64_t alchdb__opts_i(const alchdb__opts *o, int key)
{
    return key >= 0 && (size_t)key < o->nslots ? o->v[key] : 0;
}

const char *alchdb__opts_s(const alchdb__opts *o, int key)
{
    return key >= 0 && (size_t)key < o->nslots ? o->s[key] : NULL;
}

/* ---- parsers --------------------------------------------------------------------- */

static const char *skip_space(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* Units, matched longest first so "ms" wins over "m". */
static const struct {
    const char *unit;
    int64_t ns;
} UNITS[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* micro sign */
    {"\xce\xbcs", 1000}, /* Greek mu */
    {"ms", 1000000},
    {"s", INT64_C(1000000000)},
    {"m", INT64_C(60000000000)},
    {"h", INT64_C(3600000000000)},
};

int alchdb__parse_duration(const char *text, int64_t *out_us)
{
    const char *p = skip_space(text);
    if (*p == '+')
        p++;
    if (*p == '\0')
        return alchdb__error(ALCHDB_E_INVALID, "invalid duration '%.64s': empty", text);
    if (*p == '-')
        return alchdb__error(ALCHDB_E_INVALID, "invalid duration '%.64s': must not be negative",
                             text);
    if (p[0] == '0' && *skip_space(p + 1) == '\0') { /* a bare 0 needs no unit */
        *out_us = 0;
        return 0;
    }
    int64_t total_ns = 0;
    while (*p && !isspace((unsigned char)*p)) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return alchdb__error(ALCHDB_E_INVALID,
                                 "invalid duration '%.64s': expected a number at '%.16s' "
                                 "(write e.g. 250ms, 5s, 30m, 1h30m)",
                                 text, p);
        int64_t ipart = 0;
        int ndig = 0;
        bool overflow = false;
        while (isdigit((unsigned char)*p)) {
            if (ipart > (INT64_MAX - 9) / 10)
                overflow = true;
            else
                ipart = ipart * 10 + (*p - '0');
            p++;
            ndig++;
        }
        long double frac = 0, scale = 1;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) {
                scale /= 10;
                frac += (long double)(*p - '0') * scale;
                p++;
                ndig++;
            }
        }
        if (ndig == 0)
            return alchdb__error(ALCHDB_E_INVALID, "invalid duration '%.64s': a '.' without digits",
                                 text);
        int64_t unit = 0;
        size_t ulen = 0;
        for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++) {
            size_t n = strlen(UNITS[i].unit);
            if (n > ulen && strncmp(p, UNITS[i].unit, n) == 0) {
                unit = UNITS[i].ns;
                ulen = n;
            }
        }
        if (!unit)
            return alchdb__error(ALCHDB_E_INVALID,
                                 "invalid duration '%.64s': missing or unknown unit at '%.16s' "
                                 "(units: ns, us, ms, s, m, h; e.g. 250ms, 5s, 30m)",
                                 text, p);
        p += ulen;
        if (overflow || ipart > INT64_MAX / unit)
            return alchdb__error(ALCHDB_E_RANGE, "duration '%.64s' is too large", text);
        int64_t fpart = (int64_t)(frac * (long double)unit); /* < unit */
        if (ipart * unit > INT64_MAX - fpart) /* "9223372036.9s": the fraction tips it over */
            return alchdb__error(ALCHDB_E_RANGE, "duration '%.64s' is too large", text);
        int64_t part = ipart * unit + fpart;
        if (part > INT64_MAX - total_ns)
            return alchdb__error(ALCHDB_E_RANGE, "duration '%.64s' is too large", text);
        total_ns += part;
    }
    if (*skip_space(p) != '\0')
        return alchdb__error(ALCHDB_E_INVALID, "invalid duration '%.64s': trailing text", text);
    *out_us = total_ns / 1000;
    return 0;
}

ALCHDB_API int alchdb_parse_duration(const char *text, int64_t *out_us)
{
    ALCHDB_CHECK_ARG(text, "text", "must not be NULL");
    ALCHDB_CHECK_ARG(out_us, "out_us", "must not be NULL");
    return alchdb__parse_duration(text, out_us);
}

long long alchdb__duration_ms_ceil(int64_t us)
{
    return (long long)(us / 1000 + (us % 1000 > 0));
}

void alchdb__format_duration(int64_t us, char *buf, size_t cap)
{
    static const struct {
        const char *unit;
        int64_t us;
    } parts[] = {{"h", INT64_C(3600000000)}, {"m", 60000000}, {"s", 1000000}, {"ms", 1000},
                 {"us", 1}};
    if (cap == 0)
        return;
    if (us <= 0) {
        snprintf(buf, cap, us == 0 ? "0" : "-%lldus", (long long)-us);
        return;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && us > 0; i++) {
        int64_t n = us / parts[i].us;
        if (n == 0)
            continue;
        /* Below a second, keep one unit ("1500us" rather than "1ms500us"). */
        if (parts[i].us < 1000000 && us % parts[i].us != 0)
            continue;
        int w = snprintf(buf + len, cap - len, "%lld%s", (long long)n, parts[i].unit);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
        us -= n * parts[i].us;
    }
}

static int parse_int(const char *text, int64_t *out)
{
    const char *p = skip_space(text);
    if (!*p)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno == ERANGE || *skip_space(end) != '\0')
        return -1;
    *out = v;
    return 0;
}

int alchdb__parse_size(const char *text, int64_t *out_bytes)
{
    const char *p = skip_space(text);
    if (!isdigit((unsigned char)*p))
        return alchdb__error(ALCHDB_E_INVALID,
                             "invalid size '%.64s': expected a number of bytes (e.g. 65536, 64KiB, 1MiB)",
                             text);
    errno = 0;
    char *end;
    unsigned long long n = strtoull(p, &end, 10);
    if (errno == ERANGE)
        return alchdb__error(ALCHDB_E_RANGE, "size '%.64s' is too large", text);
    end = (char *)skip_space(end);
    static const struct {
        const char *suffix;
        int shift;
    } sfx[] = {{"", 0},     {"b", 0},    {"k", 10},   {"kb", 10},  {"kib", 10},
               {"m", 20},   {"mb", 20},  {"mib", 20}, {"g", 30},   {"gb", 30},
               {"gib", 30}, {"t", 40},   {"tb", 40},  {"tib", 40}};
    size_t elen = strlen(end);
    while (elen && isspace((unsigned char)end[elen - 1]))
        elen--;
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        if (strlen(sfx[i].suffix) != elen || strncasecmp(end, sfx[i].suffix, elen) != 0)
            continue;
        if (n > ((unsigned long long)INT64_MAX >> sfx[i].shift))
            return alchdb__error(ALCHDB_E_RANGE, "size '%.64s' is too large", text);
        *out_bytes = (int64_t)(n << sfx[i].shift);
        return 0;
    }
    return alchdb__error(ALCHDB_E_INVALID,
                         "invalid size '%.64s': unknown suffix (use B, KiB, MiB, GiB, TiB)", text);
}

int alchdb__parse_bool(const char *text, int64_t *out)
{
    static const char *const yes[] = {"1", "true", "on", "yes"};
    static const char *const no[] = {"0", "false", "off", "no"};
    const char *p = skip_space(text);
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    for (size_t i = 0; i < 4; i++) {
        if (strlen(yes[i]) == n && strncasecmp(p, yes[i], n) == 0) {
            *out = 1;
            return 0;
        }
        if (strlen(no[i]) == n && strncasecmp(p, no[i], n) == 0) {
            *out = 0;
            return 0;
        }
    }
    return alchdb__error(ALCHDB_E_INVALID,
                         "invalid boolean '%.64s' (use 1/0, true/false, on/off, yes/no)", text);
}

static int parse_enum(const alchdb__optdef *d, const char *text, int64_t *out)
{
    const char *p = skip_space(text);
    for (int64_t i = 0; d->choices && d->choices[i]; i++)
        if (strcasecmp(d->choices[i], p) == 0) {
            *out = i;
            return 0;
        }
    if (parse_int(text, out) == 0)
        return 0;
    char list[256] = "";
    size_t len = 0;
    for (size_t i = 0; d->choices && d->choices[i] && len < sizeof list; i++) {
        int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", d->choices[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return alchdb__error(ALCHDB_E_INVALID, "'%.64s' is not one of: %s", text, list);
}

/* ---- by name, from the environment ------------------------------------------------- */

int alchdb__opts_set_from_string(alchdb__opts *o, const char *name, const char *value,
                                 const char *func)
{
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    long i = name_index(o->spec, name);
    if (i < 0)
        return alchdb__error(ALCHDB_E_NOTFOUND, "%s: unknown %s option '%.64s'", func,
                             o->spec->module, name);
    const alchdb__optdef *d = &o->spec->defs[i];
    if (d->type == ALCHDB_OPT_STRING)
        return set_string_at(o, i, value, func);
    return set_parsed(o, d, value, func);
}

/* A numeric option from its text, checked against its range. */
static int set_parsed(alchdb__opts *o, const alchdb__optdef *d, const char *value, const char *func)
{
    int64_t v = 0;
    int rc = 0;
    switch (d->type) {
    case ALCHDB_OPT_DURATION: rc = alchdb__parse_duration(value, &v); break;
    case ALCHDB_OPT_SIZE: rc = alchdb__parse_size(value, &v); break;
    case ALCHDB_OPT_BOOL: rc = alchdb__parse_bool(value, &v); break;
    case ALCHDB_OPT_ENUM: rc = parse_enum(d, value, &v); break;
    default:
        if (parse_int(value, &v) != 0)
            rc = alchdb__error(ALCHDB_E_INVALID, "'%.64s' is not an integer", value);
        break;
    }
    if (rc != 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", alchdb_last_error_message());
        return alchdb__error(ALCHDB_E_INVALID, "%s: %s option '%s': %s", func, o->spec->module,
                             d->name, msg);
    }
    rc = check_range(o->spec, d, v, func);
    if (rc == 0)
        o->v[d->key] = v;
    return rc;
}

int alchdb__opts_from_env(alchdb__opts *o, const char *prefix, const char *func)
{
    ALCHDB_CHECK_ARG(prefix, "prefix", "must not be NULL");
    size_t plen = strlen(prefix);
    ALCHDB_CHECK_ARG(plen >= 1 && plen <= 100, "prefix", "must have 1..100 characters");
    char var[200];
    for (size_t i = 0; i < o->spec->n; i++) {
        int n = snprintf(var, sizeof var, "%s_%s", prefix, o->spec->defs[i].name);
        if (n < 0 || (size_t)n >= sizeof var)
            continue;
        for (size_t k = plen + 1; k < (size_t)n; k++)
            var[k] = (char)toupper((unsigned char)var[k]);
        const char *val = getenv(var);
        if (!val || !*val)
            continue;
        int rc = alchdb__opts_set_from_string(o, o->spec->defs[i].name, val, func);
        if (rc != 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", alchdb_last_error_message());
            return alchdb__error(rc, "environment variable %s: %s", var, msg);
        }
    }
    return 0;
}

/* ---- the public listing --------------------------------------------------------------- */

const alchdb__optspec *alchdb__optspec_find(const char *module)
{
    for (size_t i = 0; alchdb__option_specs[i]; i++)
        if (strcasecmp(alchdb__option_specs[i]->module, module) == 0)
            return alchdb__option_specs[i];
    return NULL;
}

static int find_spec(const char *module, const alchdb__optspec **out, const char *func)
{
    *out = alchdb__optspec_find(module);
    if (!*out)
        return alchdb__error(ALCHDB_E_NOTFOUND, "%s: no module '%.64s' has options", func, module);
    return 0;
}

static const char *unit_of(int type)
{
    return type == ALCHDB_OPT_DURATION ? "us" : type == ALCHDB_OPT_SIZE ? "bytes" : "";
}

static const char *type_name(int type)
{
    switch (type) {
    case ALCHDB_OPT_DURATION: return "duration";
    case ALCHDB_OPT_SIZE: return "size";
    case ALCHDB_OPT_BOOL: return "bool";
    case ALCHDB_OPT_ENUM: return "enum";
    case ALCHDB_OPT_STRING: return "string";
    default: return "int";
    }
}

ALCHDB_API const char *alchdb_options_module(size_t index)
{
    for (size_t i = 0; alchdb__option_specs[i]; i++)
        if (i == index)
            return alchdb__option_specs[i]->module;
    return NULL;
}

ALCHDB_API int alchdb_options_count(const char *module, size_t *n)
{
    ALCHDB_CHECK_ARG(module, "module", "must not be NULL");
    ALCHDB_CHECK_ARG(n, "n", "must not be NULL");
    const alchdb__optspec *spec;
    int rc = find_spec(module, &spec, __func__);
    if (rc != 0)
        return rc;
    *n = spec->n;
    return 0;
}

ALCHDB_API int alchdb_options_info(const char *module, size_t index, alchdb_option_info *info,
                                   size_t size)
{
    ALCHDB_CHECK_ARG(module, "module", "must not be NULL");
    ALCHDB_CHECK_ARG(info, "info", "must not be NULL");
    ALCHDB_CHECK_ARG(size >= offsetof(alchdb_option_info, doc) + sizeof(const char *), "size",
                     "must be at least the size of alchdb_option_info as of 0.1.0");
    const alchdb__optspec *spec;
    int rc = find_spec(module, &spec, __func__);
    if (rc != 0)
        return rc;
    if (index >= spec->n)
        return alchdb__error(ALCHDB_E_NOTFOUND, "%s: module '%s' has %zu options, not %zu",
                             __func__, spec->module, spec->n, index + 1);
    const alchdb__optdef *d = &spec->defs[index];
    alchdb_option_info full = {
        .module = spec->module,
        .name = d->name,
        .key = d->key,
        .type = d->type,
        .min = d->min,
        .max = d->max,
        .def = d->def,
        .def_string = d->type == ALCHDB_OPT_STRING && !(d->flags & ALCHDB__OPT_SECRET) ? d->def_str
                                                                                       : NULL,
        .choices = d->choices,
        .unit = unit_of(d->type),
        .doc = d->doc ? d->doc : "",
        .flags = ((d->flags & ALCHDB__OPT_SECRET) ? ALCHDB_OPTION_SECRET : 0u) |
                 ((d->flags & ALCHDB__OPT_CONNINFO) ? ALCHDB_OPTION_CONNINFO : 0u),
    };
    memcpy(info, &full, size < sizeof full ? size : sizeof full);
    return 0;
}

static void json_spec(alchdb__strbuf *sb, const alchdb__optspec *spec)
{
    alchdb__sb_puts(sb, "{\"module\":");
    alchdb__sb_json_str(sb, spec->module);
    alchdb__sb_puts(sb, ",\"options\":[");
    for (size_t i = 0; i < spec->n; i++) {
        const alchdb__optdef *d = &spec->defs[i];
        char env[80], deftext[48];
        size_t k = 0;
        for (; d->name[k] && k < sizeof env - 1; k++)
            env[k] = (char)toupper((unsigned char)d->name[k]);
        env[k] = '\0';
        alchdb__sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
        alchdb__sb_json_str(sb, d->name);
        alchdb__sb_printf(sb, ",\"key\":%d,\"type\":\"%s\",\"unit\":\"%s\"", d->key,
                          type_name(d->type), unit_of(d->type));
        if (d->type == ALCHDB_OPT_STRING) {
            alchdb__sb_puts(sb, ",\"default\":");
            alchdb__sb_json_str(sb, (d->flags & ALCHDB__OPT_SECRET) ? NULL : d->def_str);
        } else {
            alchdb__sb_printf(sb, ",\"min\":%lld,\"max\":%lld,\"default\":%lld", (long long)d->min,
                              (long long)d->max, (long long)d->def);
            if (d->type == ALCHDB_OPT_DURATION) {
                alchdb__format_duration(d->def, deftext, sizeof deftext);
                alchdb__sb_puts(sb, ",\"default_text\":");
                alchdb__sb_json_str(sb, deftext);
            } else if (d->type == ALCHDB_OPT_ENUM && d->choices) {
                alchdb__sb_puts(sb, ",\"default_text\":");
                alchdb__sb_json_str(sb, d->choices[d->def]);
            }
        }
        if (d->choices) {
            alchdb__sb_puts(sb, ",\"choices\":[");
            for (size_t c = 0; d->choices[c]; c++) {
                if (c)
                    alchdb__sb_puts(sb, ",");
                alchdb__sb_json_str(sb, d->choices[c]);
            }
            alchdb__sb_puts(sb, "]");
        }
        if (d->flags & ALCHDB__OPT_SECRET)
            alchdb__sb_puts(sb, ",\"secret\":true");
        if (d->flags & ALCHDB__OPT_CONNINFO)
            alchdb__sb_puts(sb, ",\"conninfo\":true");
        alchdb__sb_puts(sb, ",\"env\":");
        alchdb__sb_json_str(sb, env);
        alchdb__sb_puts(sb, ",\"doc\":");
        alchdb__sb_json_str(sb, d->doc ? d->doc : "");
        alchdb__sb_puts(sb, "}");
    }
    alchdb__sb_puts(sb, "]}");
}

ALCHDB_API int alchdb_options_to_json(const char *module, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    const alchdb__optspec *one = NULL;
    if (module) {
        int rc = find_spec(module, &one, __func__);
        if (rc != 0)
            return rc;
    }
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{\"modules\":[");
    if (one) {
        json_spec(&sb, one);
    } else {
        for (size_t i = 0; alchdb__option_specs[i]; i++) {
            if (i)
                alchdb__sb_puts(&sb, ",");
            json_spec(&sb, alchdb__option_specs[i]);
        }
    }
    alchdb__sb_puts(&sb, "]}");
    char *s = alchdb__sb_finish(&sb);
    if (!s)
        return alchdb__nomem("options JSON");
    *out = s;
    return 0;
}
