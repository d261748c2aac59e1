/* The cluster's timeline history, and what a read-your-writes token is worth
 * against it.
 *
 * A promotion starts a new timeline at a switch position: everything the
 * old timeline wrote before that position is part of the new one's history,
 * everything after it is not (an asynchronous standby promoted before it
 * received those writes loses them for good). So a token (timeline T,
 * position L) is satisfied on the current timeline W only when T == W, or T
 * is an ancestor of W that ended at or after L. The switch positions come
 * from W's history file; without it (the role may not read it) a token from
 * an earlier timeline cannot be checked and is never claimed as satisfied. */
#include <inttypes.h>
#include <string.h>

#include "router/router_internal.h"

/* ---- the history file ------------------------------------------------------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int alchdb__timeline_history_parse(const char *text, size_t len, router_switch *out, int cap)
{
    if (!text || !out || cap <= 0)
        return -1;
    int n = 0;
    uint32_t prev = 0;
    size_t i = 0;
    while (i < len) {
        size_t eol = i;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t p = i;
        while (p < eol && (is_space(text[p]) || text[p] == '\r'))
            p++;
        if (p < eol && text[p] != '#') {
            /* "<timeline><ws><hi>/<lo>[<ws><reason>]" */
            uint64_t tli = 0;
            size_t d = p;
            while (d < eol && text[d] >= '0' && text[d] <= '9' && tli <= UINT32_MAX)
                tli = tli * 10 + (uint64_t)(text[d++] - '0');
            if (d == p || tli == 0 || tli > UINT32_MAX || d == eol || !is_space(text[d]))
                return -1;
            while (d < eol && is_space(text[d]))
                d++;
            size_t e = d;
            while (e < eol && !is_space(text[e]) && text[e] != '\r')
                e++;
            int64_t end = alchdb__lsn_parse_n(text + d, e - d);
            /* Ancestors are listed oldest first, each on a later timeline. */
            if (end < 0 || (uint32_t)tli <= prev)
                return -1;
            prev = (uint32_t)tli;
            if (n == cap) { /* keep the newest cap entries */
                memmove(out, out + 1, (size_t)(cap - 1) * sizeof *out);
                n--;
            }
            out[n].timeline = (uint32_t)tli;
            out[n].end = end;
            n++;
        }
        i = eol + 1;
    }
    return n;
}

bool alchdb__router_history_wanted(alchdb_router *r, uint32_t tli)
{
    /* Only the newest timeline's history is kept: an old primary still up on
     * an older timeline (split brain) must not replace it. */
    pthread_mutex_lock(&r->state_lock);
    bool wanted = tli > 1 && tli >= atomic_load(&r->timeline) && r->history_of != tli && r->history_denied != tli;
    pthread_mutex_unlock(&r->state_lock);
    return wanted;
}

void alchdb__router_set_history(alchdb_router *r, uint32_t tli, const char *text, size_t len)
{
    router_switch tmp[ROUTER_MAX_HISTORY];
    int n = text ? alchdb__timeline_history_parse(text, len, tmp, ROUTER_MAX_HISTORY) : -1;
    if (text && n < 0)
        alchdb__log(ALCHDB_LOG_WARN, "router", "the history file of timeline %" PRIu32 " does not parse", tli);
    pthread_mutex_lock(&r->state_lock);
    if (n < 0) {
        r->history_denied = tli;
    } else {
        memcpy(r->history, tmp, (size_t)n * sizeof tmp[0]);
        r->nhistory = n;
        r->history_of = tli;
    }
    pthread_mutex_unlock(&r->state_lock);
}

/* ---- tokens ----------------------------------------------------------------------- */

int alchdb__router_token_check(alchdb_router *r, const alchdb__token *t, int64_t *need)
{
    *need = 0;
    uint64_t id = atomic_load(&r->sysid);
    if (id == 0 || t->sysid != id)
        return ALCHDB__TOKEN_FOREIGN;
    uint32_t now_tli = atomic_load(&r->timeline);
    if (now_tli == 0 || t->timeline > now_tli)
        return ALCHDB__TOKEN_UNVERIFIABLE; /* a timeline the router has not seen yet */
    if (t->timeline == now_tli) {
        *need = t->lsn;
        return ALCHDB__TOKEN_OK;
    }
    int verdict = ALCHDB__TOKEN_UNVERIFIABLE;
    pthread_mutex_lock(&r->state_lock);
    if (r->history_of == now_tli && r->nhistory > 0 && t->timeline >= r->history[0].timeline) {
        verdict = ALCHDB__TOKEN_LOST; /* not an ancestor of the current timeline at all */
        for (int i = 0; i < r->nhistory; i++)
            if (r->history[i].timeline == t->timeline) {
                verdict = t->lsn <= r->history[i].end ? ALCHDB__TOKEN_OK : ALCHDB__TOKEN_LOST;
                break;
            }
    }
    pthread_mutex_unlock(&r->state_lock);
    if (verdict == ALCHDB__TOKEN_OK)
        *need = t->lsn;
    return verdict;
}

int alchdb__router_token_verdict(alchdb_router *r, const char *token, int64_t *need)
{
    alchdb__token t;
    *need = 0;
    if (!token || alchdb__token_parse(token, strlen(token), &t, NULL) < 0)
        return ALCHDB__TOKEN_MALFORMED;
    return alchdb__router_token_check(r, &t, need);
}
