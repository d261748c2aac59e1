/* Every module's configuration, through the public API only: the same eight
 * functions, driven by the public listing (alchdb_options_info), so that an
 * option added to any table is checked here without editing this file.
 * For each option: the default reads back, both bounds are accepted and one
 * past each refused (the value unchanged), the default written as text by
 * name (upper-cased) and as an environment variable reads back, an enum reads
 * and sets by choice name, a string restores its default from NULL, and a
 * secret never reads back as its value. Unknown keys and names are
 * ALCHDB_E_NOTFOUND in every module, bad arguments ALCHDB_E_INVALID. */
#include <check.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alchdb/alchdb.h"

/* The eight functions of one module behind one signature: each adapter
 * calls the module's own typed function. */
typedef struct shape {
    const char *module;
    int (*create)(void **out);
    void (*destroy)(void *cfg);
    int (*set_int64)(void *cfg, int opt, int64_t v);
    int (*get_int64)(const void *cfg, int opt, int64_t *out);
    int (*set_string)(void *cfg, int opt, const char *v);
    int (*get_string)(const void *cfg, int opt, const char **out);
    int (*set_from_string)(void *cfg, const char *name, const char *v);
    int (*from_env)(void *cfg, const char *prefix);
} shape;

#define SHAPE(m)                                                                                        \
    static int m##_create(void **out)                                                                   \
    {                                                                                                   \
        if (!out)                                                                                       \
            return alchdb_##m##_config_new(NULL);                                                       \
        alchdb_##m##_config *c = NULL;                                                                  \
        int rc = alchdb_##m##_config_new(&c);                                                           \
        *out = c;                                                                                       \
        return rc;                                                                                      \
    }                                                                                                   \
    static void m##_destroy(void *c) { alchdb_##m##_config_free(c); }                                   \
    static int m##_set_int64(void *c, int o, int64_t v) { return alchdb_##m##_config_set_int64(c, o, v); } \
    static int m##_get_int64(const void *c, int o, int64_t *v) { return alchdb_##m##_config_get_int64(c, o, v); } \
    static int m##_set_string(void *c, int o, const char *v) { return alchdb_##m##_config_set_string(c, o, v); } \
    static int m##_get_string(const void *c, int o, const char **v)                                      \
    {                                                                                                   \
        return alchdb_##m##_config_get_string(c, o, v);                                                 \
    }                                                                                                   \
    static int m##_set_from_string(void *c, const char *n, const char *v)                                \
    {                                                                                                   \
        return alchdb_##m##_config_set_from_string(c, n, v);                                            \
    }                                                                                                   \
    static int m##_from_env(void *c, const char *p) { return alchdb_##m##_config_from_env(c, p); }      \
    static const shape m##_shape = {#m,           m##_create,     m##_destroy,    m##_set_int64,         \
                                    m##_get_int64, m##_set_string, m##_get_string, m##_set_from_string,  \
                                    m##_from_env};

SHAPE(pool)
SHAPE(router)
SHAPE(cache)
SHAPE(monitor)
SHAPE(perftest)
SHAPE(dashboard)
SHAPE(advisor)
SHAPE(migration)

static const shape *const SHAPES[] = {&pool_shape,     &router_shape,    &cache_shape,  &monitor_shape,
                                      &perftest_shape, &dashboard_shape, &advisor_shape, &migration_shape};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* The default of a numeric option as text in the option's own syntax. */
static void default_text(const alchdb_option_info *in, int64_t v, char *buf, size_t cap)
{
    switch (in->type) {
    case ALCHDB_OPT_DURATION:
        snprintf(buf, cap, "%" PRId64 "us", v);
        break;
    case ALCHDB_OPT_BOOL:
        snprintf(buf, cap, "%s", v ? "true" : "false");
        break;
    case ALCHDB_OPT_ENUM:
        snprintf(buf, cap, "%s", in->choices[v]);
        break;
    default:
        snprintf(buf, cap, "%" PRId64, v);
        break;
    }
}

static void check_numeric(const shape *sh, void *cfg, const alchdb_option_info *in)
{
    int64_t v = -7;
    ck_assert_int_eq(sh->get_int64(cfg, in->key, &v), 0);
    ck_assert_msg(v == in->def, "%s.%s: default %" PRId64 ", listed %" PRId64, sh->module, in->name, v, in->def);
    ck_assert_int_eq(sh->set_int64(cfg, in->key, in->min), 0);
    ck_assert_int_eq(sh->set_int64(cfg, in->key, in->max), 0);
    if (in->max < INT64_MAX) {
        ck_assert_int_eq(sh->set_int64(cfg, in->key, in->max + 1), ALCHDB_E_INVALID);
        ck_assert_msg(strstr(alchdb_last_error_message(), in->name), "%s: message '%s' names no option", in->name,
                      alchdb_last_error_message());
    }
    if (in->min > INT64_MIN)
        ck_assert_int_eq(sh->set_int64(cfg, in->key, in->min - 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(sh->get_int64(cfg, in->key, &v), 0);
    ck_assert_int_eq(v, in->max); /* refused values changed nothing */

    /* The default as text, by its upper-cased name. */
    char text[128], upper[128];
    default_text(in, in->def, text, sizeof text);
    snprintf(upper, sizeof upper, "%s", in->name);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    ck_assert_msg(sh->set_from_string(cfg, upper, text) == 0, "%s.%s = '%s': %s", sh->module, in->name, text,
                  alchdb_last_error_message());
    ck_assert_int_eq(sh->get_int64(cfg, in->key, &v), 0);
    ck_assert_int_eq(v, in->def);
    ck_assert_int_eq(sh->set_from_string(cfg, in->name, "not a value"), ALCHDB_E_INVALID);

    /* The same text from the environment. */
    ck_assert_int_eq(sh->set_int64(cfg, in->key, in->min), 0);
    char var[160];
    snprintf(var, sizeof var, "SHAPETEST_%s", upper);
    setenv(var, text, 1);
    ck_assert_msg(sh->from_env(cfg, "SHAPETEST") == 0, "%s: %s", var, alchdb_last_error_message());
    unsetenv(var);
    ck_assert_int_eq(sh->get_int64(cfg, in->key, &v), 0);
    ck_assert_int_eq(v, in->def);

    if (in->type == ALCHDB_OPT_ENUM) {
        const char *name = NULL;
        ck_assert_int_eq(sh->get_string(cfg, in->key, &name), 0);
        ck_assert_str_eq(name, in->choices[in->def]);
        for (int64_t k = in->min; k <= in->max; k++) {
            ck_assert_int_eq(sh->set_string(cfg, in->key, in->choices[k]), 0);
            ck_assert_int_eq(sh->get_int64(cfg, in->key, &v), 0);
            ck_assert_int_eq(v, k);
        }
        ck_assert_int_eq(sh->set_string(cfg, in->key, "no such choice"), ALCHDB_E_INVALID);
    } else {
        const char *s = NULL;
        ck_assert_int_eq(sh->get_string(cfg, in->key, &s), ALCHDB_E_INVALID);
        ck_assert_int_eq(sh->set_string(cfg, in->key, "1"), ALCHDB_E_INVALID);
    }
}

static void check_string(const shape *sh, void *cfg, const alchdb_option_info *in)
{
    const char *s = (const char *)1;
    ck_assert_int_eq(sh->get_string(cfg, in->key, &s), 0);
    if (in->def_string)
        ck_assert_str_eq(s, in->def_string);
    else
        ck_assert_ptr_null(s);
    int64_t v;
    ck_assert_int_eq(sh->get_int64(cfg, in->key, &v), ALCHDB_E_INVALID);
    ck_assert_int_eq(sh->set_int64(cfg, in->key, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(sh->set_string(cfg, in->key, NULL), 0);
    ck_assert_int_eq(sh->get_string(cfg, in->key, &s), 0);
    if (in->def_string)
        ck_assert_str_eq(s, in->def_string);
    else
        ck_assert_ptr_null(s);
}

START_TEST(test_every_module_every_option)
{
    size_t checked = 0;
    for (size_t m = 0; m < NSHAPES; m++) {
        const shape *sh = SHAPES[m];
        size_t n = 0;
        ck_assert_msg(alchdb_options_count(sh->module, &n) == 0, "%s is not in the listing", sh->module);
        ck_assert_uint_gt(n, 0);
        void *cfg = NULL;
        ck_assert_int_eq(sh->create(&cfg), 0);
        for (size_t i = 0; i < n; i++) {
            alchdb_option_info in;
            ck_assert_int_eq(alchdb_options_info(sh->module, i, &in, sizeof in), 0);
            ck_assert_str_eq(in.module, sh->module);
            ck_assert_ptr_nonnull(in.doc);
            ck_assert_uint_gt(strlen(in.doc), 0);
            if (in.type == ALCHDB_OPT_STRING)
                check_string(sh, cfg, &in);
            else
                check_numeric(sh, cfg, &in);
            checked++;
        }
        /* One rule for unknown keys and names, one for bad arguments. */
        int64_t v;
        const char *s;
        ck_assert_int_eq(sh->set_int64(cfg, 9999, 1), ALCHDB_E_NOTFOUND);
        ck_assert_int_eq(sh->get_int64(cfg, 9999, &v), ALCHDB_E_NOTFOUND);
        ck_assert_int_eq(sh->set_string(cfg, 9999, "x"), ALCHDB_E_NOTFOUND);
        ck_assert_int_eq(sh->get_string(cfg, 9999, &s), ALCHDB_E_NOTFOUND);
        ck_assert_int_eq(sh->set_from_string(cfg, "no_such_option", "1"), ALCHDB_E_NOTFOUND);
        ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "no_such_option"));
        ck_assert_int_eq(sh->set_from_string(cfg, NULL, "1"), ALCHDB_E_INVALID);
        ck_assert_int_eq(sh->from_env(cfg, NULL), ALCHDB_E_INVALID);
        ck_assert_int_eq(sh->set_int64(NULL, 1, 1), ALCHDB_E_INVALID);
        ck_assert_int_eq(sh->get_int64(cfg, 1, NULL), ALCHDB_E_INVALID);
        ck_assert_int_eq(sh->create(NULL), ALCHDB_E_INVALID);
        sh->destroy(cfg);
        sh->destroy(NULL);
    }
    ck_assert_uint_gt(checked, 50);
}
END_TEST

/* A secret is stored and used but never read back or echoed. */
START_TEST(test_secret_never_shown)
{
    alchdb_cache_config *c = NULL;
    ck_assert_int_eq(alchdb_cache_config_new(&c), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(c, "redis_password", "s3cr3t-Pa55"), 0);
    const char *s = NULL;
    ck_assert_int_eq(alchdb_cache_config_get_string(c, ALCHDB_CACHE_OPT_REDIS_PASSWORD, &s), 0);
    ck_assert_str_eq(s, "***");
    ck_assert_int_eq(alchdb_cache_config_set_from_string(c, "redis_password", ""), ALCHDB_E_INVALID);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "s3cr3t"));
    size_t n = 0;
    ck_assert_int_eq(alchdb_options_count("cache", &n), 0);
    int secrets = 0;
    for (size_t i = 0; i < n; i++) {
        alchdb_option_info in;
        ck_assert_int_eq(alchdb_options_info("cache", i, &in, sizeof in), 0);
        if (in.flags & ALCHDB_OPTION_SECRET)
            secrets++;
    }
    ck_assert_int_ge(secrets, 1);
    alchdb_cache_config_free(c);
}
END_TEST

/* Every option that takes a libpq conninfo, in every module, is declared as
 * one (ALCHDB_OPTION_CONNINFO, "conninfo":true in the JSON listing), and
 * every way of setting it (typed, by name, from the environment) reads back
 * with the host but never the password, in each conninfo form. */
static const char *const CONNINFO_FORMS[] = {
    "host=db.example port=5432 password=Sntl7Kq9Xw",
    "host=db.example password = 'Sntl7\\'Kq9Xw' user=app",
    "postgresql://app:Sntl7Kq9Xw@db.example:5432/x",
    "postgresql://app:%53ntl7%4Bq9Xw@db.example/x",
    "postgresql://db.example/x?user=app&password=Sntl7Kq9Xw",
    "postgresql://db.example/x?pass%77ord=Sntl7Kq9Xw",
    "host=db.example options='-c app.password=Sntl7Kq9Xw'",
    "host=db.example password='Sntl7Kq9Xw", /* unterminated: libpq cannot parse it */
};

static void assert_shown_safe(const char *module, const char *how, const char *form, const char *shown)
{
    ck_assert_msg(shown != NULL, "%s conninfo (%s): nothing reads back for %s", module, how, form);
    static const char *const fragments[] = {"ntl7", "q9Xw", "Sntl", "Kq9"};
    for (size_t f = 0; f < sizeof fragments / sizeof fragments[0]; f++)
        ck_assert_msg(!strstr(shown, fragments[f]), "%s conninfo (%s) shows the password: %s", module, how, shown);
    ck_assert_msg(strstr(shown, "***") && strstr(shown, "db.example"), "%s conninfo (%s) reads back as %s", module,
                  how, shown);
}

START_TEST(test_conninfo_shown_redacted)
{
    size_t found = 0;
    for (size_t m = 0; m < NSHAPES; m++) {
        const shape *sh = SHAPES[m];
        size_t n = 0;
        ck_assert_int_eq(alchdb_options_count(sh->module, &n), 0);
        char *json = NULL;
        ck_assert_int_eq(alchdb_options_to_json(sh->module, &json), 0);
        for (size_t i = 0; i < n; i++) {
            alchdb_option_info in;
            ck_assert_int_eq(alchdb_options_info(sh->module, i, &in, sizeof in), 0);
            bool takes_conninfo = in.type == ALCHDB_OPT_STRING && (strstr(in.name, "conninfo") ||
                                                                   strstr(in.doc, "conninfo"));
            ck_assert_msg(takes_conninfo == !!(in.flags & ALCHDB_OPTION_CONNINFO),
                          "%s.%s takes a conninfo but is not declared one (or the reverse)", sh->module, in.name);
            if (!takes_conninfo)
                continue;
            found++;
            ck_assert(!(in.flags & ALCHDB_OPTION_SECRET));
            char needle[128];
            snprintf(needle, sizeof needle, "\"name\":\"%s\",", in.name);
            const char *entry = strstr(json, needle);
            ck_assert_ptr_nonnull(entry);
            const char *end = strchr(entry, '}');
            const char *flag = strstr(entry, "\"conninfo\":true");
            ck_assert_msg(flag && flag < end, "%s.%s: no \"conninfo\":true in the listing", sh->module, in.name);
            for (size_t f = 0; f < sizeof CONNINFO_FORMS / sizeof CONNINFO_FORMS[0]; f++) {
                const char *form = CONNINFO_FORMS[f], *shown = NULL;
                void *cfg = NULL;
                ck_assert_int_eq(sh->create(&cfg), 0);
                ck_assert_int_eq(sh->set_string(cfg, in.key, form), 0);
                ck_assert_int_eq(sh->get_string(cfg, in.key, &shown), 0);
                assert_shown_safe(sh->module, "set_string", form, shown);
                ck_assert_int_eq(sh->set_string(cfg, in.key, NULL), 0);
                ck_assert_int_eq(sh->set_from_string(cfg, in.name, form), 0);
                ck_assert_int_eq(sh->get_string(cfg, in.key, &shown), 0);
                assert_shown_safe(sh->module, "set_from_string", form, shown);
                ck_assert_int_eq(sh->set_string(cfg, in.key, NULL), 0);
                char var[128];
                snprintf(var, sizeof var, "ALCHDB_SHAPE_%s", in.name);
                for (char *p = var; *p; p++)
                    *p = (char)toupper((unsigned char)*p);
                ck_assert_int_eq(setenv(var, form, 1), 0);
                ck_assert_int_eq(sh->from_env(cfg, "ALCHDB_SHAPE"), 0);
                unsetenv(var);
                ck_assert_int_eq(sh->get_string(cfg, in.key, &shown), 0);
                assert_shown_safe(sh->module, "from_env", form, shown);
                sh->destroy(cfg);
            }
        }
        alchdb_free(json);
    }
    /* the advisor's and the migration's */
    ck_assert_uint_ge(found, 2);
}
END_TEST

/* The listing names every module that has a configuration. */
START_TEST(test_listing_has_every_module)
{
    char *json = NULL;
    ck_assert_int_eq(alchdb_options_to_json(NULL, &json), 0);
    for (size_t m = 0; m < NSHAPES; m++) {
        char needle[64];
        snprintf(needle, sizeof needle, "\"module\":\"%s\"", SHAPES[m]->module);
        ck_assert_msg(strstr(json, needle), "%s missing from the listing", SHAPES[m]->module);
    }
    alchdb_free(json);
    ck_assert_int_eq(alchdb_options_to_json("nonexistent", &json), ALCHDB_E_NOTFOUND);
    /* Every registered module is checked by the shape test above. */
    size_t i = 0;
    for (; alchdb_options_module(i); i++) {
        size_t m = 0;
        while (m < NSHAPES && strcmp(SHAPES[m]->module, alchdb_options_module(i)) != 0)
            m++;
        ck_assert_msg(m < NSHAPES, "module %s has no shape entry in this test", alchdb_options_module(i));
    }
    ck_assert_uint_ge(i, NSHAPES);
    ck_assert_ptr_null(alchdb_options_module(i));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config-shape");
    TCase *tc = tcase_create("shape");
    tcase_add_test(tc, test_every_module_every_option);
    tcase_add_test(tc, test_secret_never_shown);
    tcase_add_test(tc, test_conninfo_shown_redacted);
    tcase_add_test(tc, test_listing_has_every_module);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
