/* Growable arrays, and the small ordered sets an analysis keeps: strings (volatile function
 * names) and names (tables, function calls) as catalog/schema/name parts plus
 * their rendering. Sets are small, so duplicates are found by a linear scan. */
#include "sql_priv.h"
#include "tree.h"

void *sql__grow(void *arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *g = alchdb__realloc(arr, ncap * size);
    if (g)
        *cap = ncap;
    return g;
}

bool sql__strset_add(sql_strset *s, const char *str, size_t n)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->items[i]) == n && !memcmp(s->items[i], str, n))
            return true;
    char **items = sql__grow(s->items, &s->cap, s->n + 1, sizeof *s->items);
    if (!items)
        return false;
    s->items = items;
    char *d = alchdb__strndup(str, n);
    if (!d)
        return false;
    s->items[s->n++] = d;
    return true;
}

void sql__strset_free(sql_strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        alchdb__free(s->items[i]);
    alchdb__free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

static bool same(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = alchdb__strdup(s);
    if (!d)
        *ok = false;
    return d;
}

bool sql__nameset_add(sql_nameset *s, const char *catalog, const char *schema, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (same(s->items[i].catalog, catalog) && same(s->items[i].schema, schema) && !strcmp(s->items[i].name, name))
            return true;
    sql_name *items = sql__grow(s->items, &s->cap, s->n + 1, sizeof *s->items);
    if (!items)
        return false;
    s->items = items;
    bool ok = true;
    sql_name nm = {dup_or_null(catalog, &ok), dup_or_null(schema, &ok), dup_or_null(name, &ok), NULL};
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sql_quote_qualified(&sb, catalog, schema, name);
    nm.display = alchdb__sb_finish(&sb);
    if (!ok || !nm.display) {
        alchdb__free(nm.catalog);
        alchdb__free(nm.schema);
        alchdb__free(nm.name);
        alchdb__free(nm.display);
        return false;
    }
    s->items[s->n++] = nm;
    return true;
}

void sql__nameset_free(sql_nameset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        alchdb__free(s->items[i].catalog);
        alchdb__free(s->items[i].schema);
        alchdb__free(s->items[i].name);
        alchdb__free(s->items[i].display);
    }
    alchdb__free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}
