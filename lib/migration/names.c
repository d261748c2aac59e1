/* Relation names and the one way the assessor writes names, literals and
 * report text.
 *
 * The assessor keys relations by their SQL form: each part quoted as
 * PostgreSQL's quote_ident does (lib/sql's alchdb__sql_quote_ident), parts
 * joined by a dot, and a part with control characters written as a U&"..."
 * identifier. That form is built from the (schema, name) the parse tree or
 * the catalog gives, is one line, and is injective: two relations have the
 * same key only when both fields are equal, so keys are compared, never
 * split on dots. alchdb__mig_rel_parse() is its exact inverse, for the few
 * places that hand the two fields on (catalog queries, JSON output). */
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "sql/tree.h"

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

void alchdb__mig_sql_ident(alchdb__strbuf *sb, const char *ident)
{
    if (!ident)
        ident = "";
    if (!has_control(ident)) {
        alchdb__sql_quote_ident(sb, ident);
        return;
    }
    /* U&"..." with \XXXX for control characters: one line, the same name. */
    alchdb__sb_puts(sb, "U&\"");
    for (const char *p = ident; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f)
            alchdb__sb_printf(sb, "\\%04X", ch);
        else if (ch == '\\')
            alchdb__sb_puts(sb, "\\\\");
        else if (ch == '"')
            alchdb__sb_puts(sb, "\"\"");
        else
            alchdb__sb_append(sb, p, 1);
    }
    alchdb__sb_puts(sb, "\"");
}

char *alchdb__mig_quote_ident(const char *name)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__mig_sql_ident(&sb, name);
    return alchdb__sb_finish(&sb);
}

void alchdb__mig_rel_key(char *buf, size_t cap, const char *schema, const char *name)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    if (schema) {
        alchdb__mig_sql_ident(&sb, schema);
        alchdb__sb_puts(&sb, ".");
    }
    alchdb__mig_sql_ident(&sb, name ? name : "?");
    char *s = alchdb__sb_finish(&sb);
    /* cap is ALCHDB_MIG_REL_CAP at every caller: two parts of at most 63
     * bytes each always fit; anything longer is not a PostgreSQL name. */
    snprintf(buf, cap, "%s", s ? s : "?");
    alchdb__free(s);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* One part of a key at *p: appended to sb; *p moves past it. */
static bool parse_part(const char **p, alchdb__strbuf *sb)
{
    const char *s = *p;
    bool uni = !strncmp(s, "U&\"", 3);
    if (uni || *s == '"') {
        s += uni ? 3 : 1;
        for (;;) {
            if (!*s)
                return false;
            if (*s == '"') {
                if (s[1] != '"')
                    break;
                alchdb__sb_append(sb, "\"", 1);
                s += 2;
            } else if (uni && *s == '\\') {
                if (s[1] == '\\') {
                    alchdb__sb_append(sb, "\\", 1);
                    s += 2;
                    continue;
                }
                int v = 0;
                for (int i = 1; i <= 4; i++) {
                    int h = hexval(s[i]);
                    if (h < 0)
                        return false;
                    v = v * 16 + h;
                }
                char ch = (char)v;
                alchdb__sb_append(sb, &ch, 1);
                s += 5;
            } else {
                alchdb__sb_append(sb, s++, 1);
            }
        }
        *p = s + 1;
        return true;
    }
    const char *e = s;
    while (*e && *e != '.')
        e++;
    if (e == s)
        return false;
    alchdb__sb_append(sb, s, (size_t)(e - s));
    *p = e;
    return true;
}

bool alchdb__mig_rel_parse(const char *key, mig_rel *out)
{
    out->schema = out->name = NULL;
    alchdb__strbuf a, b;
    alchdb__sb_init(&a);
    alchdb__sb_init(&b);
    const char *p = key;
    bool ok = parse_part(&p, &a);
    if (ok && *p == '.') {
        p++;
        ok = parse_part(&p, &b) && !*p;
        char *sa = alchdb__sb_finish(&a), *sbn = alchdb__sb_finish(&b);
        out->schema = sa;
        out->name = sbn;
    } else {
        ok = ok && !*p;
        alchdb__free(alchdb__sb_finish(&b));
        out->name = alchdb__sb_finish(&a);
    }
    if (!ok || !out->name) {
        alchdb__mig_rel_free(out);
        return false;
    }
    return true;
}

void alchdb__mig_rel_free(mig_rel *r)
{
    alchdb__free(r->schema);
    alchdb__free(r->name);
    r->schema = r->name = NULL;
}

void alchdb__mig_sql_literal(alchdb__strbuf *sb, const char *s)
{
    if (!s)
        s = "";
    bool escape = has_control(s) || strchr(s, '\\');
    alchdb__sb_puts(sb, escape ? "E'" : "'");
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\'')
            alchdb__sb_puts(sb, "''");
        else if (escape && ch == '\\')
            alchdb__sb_puts(sb, "\\\\");
        else if (escape && (ch < 0x20 || ch == 0x7f))
            alchdb__sb_printf(sb, "\\x%02X", ch);
        else
            alchdb__sb_append(sb, p, 1);
    }
    alchdb__sb_puts(sb, "'");
}

void alchdb__mig_text_escaped(alchdb__strbuf *sb, const char *s)
{
    if (!s) {
        alchdb__sb_puts(sb, "(null)");
        return;
    }
    size_t run = 0, n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != 0x7f)
            continue;
        alchdb__sb_append(sb, s + run, i - run);
        run = i + 1;
        if (ch == '\n')
            alchdb__sb_puts(sb, "\\n");
        else if (ch == '\r')
            alchdb__sb_puts(sb, "\\r");
        else if (ch == '\t')
            alchdb__sb_puts(sb, "\\t");
        else
            alchdb__sb_printf(sb, "\\x%02X", ch);
    }
    alchdb__sb_append(sb, s + run, n - run);
}

char *alchdb__mig_generated_name(const char *base, const char *suffix)
{
    size_t ls = strlen(suffix), lb = strlen(base);
    size_t max = ls < 63 ? 63 - ls : 0;
    if (lb > max) {
        lb = max;
        while (lb > 0 && ((unsigned char)base[lb] & 0xC0) == 0x80) /* never inside a character */
            lb--;
    }
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_append(&sb, base, lb);
    alchdb__sb_puts(&sb, suffix);
    return alchdb__sb_finish(&sb);
}
