/* A cheap upper estimate of how deep libpg_query's tree of a text will be,
 * read with the scanner before the text is given to libpg_query (whose
 * output, fingerprint and normalize code recurse once per tree level and
 * would overflow the stack on deep input).
 *
 * The estimate counts tokens along the nesting: every bracket opens a level
 * that starts at the depth reached where it opens; within a level every
 * token counts one, because an unbroken run of operators or keywords can
 * stack one node on the other ("1+1+1...", "NOT NOT ...", "x::a::b...").
 * A run restarts only where the parser builds siblings, not parents:
 *  - after a comma (list items are siblings),
 *  - after AND/OR (the parser flattens a chain of them into one node), but
 *    not after the AND that belongs to BETWEEN, whose bounds can nest,
 * and a restart keeps a small allowance for the list or boolean node itself.
 * Set operations (UNION, INTERSECT, EXCEPT) stack their arms one below the
 * other across commas, so they are counted apart and never restart.
 * A semicolon outside brackets ends a statement. */
#include "sql_priv.h"

#define RESTART_ALLOWANCE 2
#define INLINE_LEVELS 64

typedef struct level {
    size_t base;    /* the estimate where the level opened */
    size_t run;     /* tokens since the last restart */
    size_t setops;  /* UNION/INTERSECT/EXCEPT in this level */
    size_t between; /* BETWEENs still waiting for their AND */
} level;

static size_t here(const level *l) { return l->base + l->setops + l->run; }

int sql__depth_estimate(const char *s, size_t len, size_t *out)
{
    level inline_levels[INLINE_LEVELS];
    level *lv = inline_levels;
    size_t cap = INLINE_LEVELS, top = 0, max = 0;
    lv[0] = (level){0, 0, 0, 0};
    alchdb__sql_tok t;
    int rc = 0;
    for (size_t pos = 0; pos < len;) {
        pos = alchdb__sql_token(s, len, pos, &t);
        if (t.kind == ALCHDB__SQL_TOK_SPACE || t.kind == ALCHDB__SQL_TOK_COMMENT)
            continue;
        level *l = &lv[top];
        char c = s[t.start];
        if (t.kind == ALCHDB__SQL_TOK_PUNCT && t.len == 1 && (c == '(' || c == '[')) {
            if (top + 1 == cap) {
                size_t ncap = cap * 2;
                level *grown = alchdb__malloc(ncap * sizeof *grown);
                if (!grown) {
                    rc = alchdb__nomem("SQL nesting estimate");
                    break;
                }
                memcpy(grown, lv, cap * sizeof *lv);
                if (lv != inline_levels)
                    alchdb__free(lv);
                lv = grown;
                cap = ncap;
                l = &lv[top];
            }
            lv[++top] = (level){here(l) + 1, 0, 0, 0};
        } else if (t.kind == ALCHDB__SQL_TOK_PUNCT && t.len == 1 && (c == ')' || c == ']')) {
            if (top > 0)
                top--;
            lv[top].run++;
        } else if (t.kind == ALCHDB__SQL_TOK_PUNCT && t.len == 1 && c == ',') {
            l->run = RESTART_ALLOWANCE;
        } else if (t.kind == ALCHDB__SQL_TOK_PUNCT && t.len == 1 && c == ';' && top == 0) {
            *l = (level){0, 0, 0, 0};
        } else if (alchdb__sql_word_is(s, &t, "and") && l->between > 0) {
            l->between--;
            l->run++;
        } else if (alchdb__sql_word_is(s, &t, "and") || alchdb__sql_word_is(s, &t, "or")) {
            l->run = RESTART_ALLOWANCE;
        } else if (alchdb__sql_word_is(s, &t, "union") || alchdb__sql_word_is(s, &t, "intersect") ||
                   alchdb__sql_word_is(s, &t, "except")) {
            l->setops++;
        } else {
            if (alchdb__sql_word_is(s, &t, "between"))
                l->between++;
            l->run++;
        }
        if (here(&lv[top]) > max)
            max = here(&lv[top]);
    }
    if (lv != inline_levels)
        alchdb__free(lv);
    *out = max;
    return rc;
}
