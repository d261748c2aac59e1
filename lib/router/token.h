/* The read-your-writes token: one type, one encoder, one parser, one reader.
 * Internal seam owned by lib/router; used by the router, the routed client
 * (lib/router/client_route.c) and the cache (lib/cache/hooks.c). Never exported.
 *
 * A token names one position in one cluster's history:
 *
 *     alchdb2:<system identifier>:<timeline>:<WAL position hi>/<lo>
 *     alchdb2:7714984100493093343:2:0/4010D30
 *
 * The system identifier says which cluster (a streaming replica shares it
 * with its primary; a different cluster never does); the timeline says which
 * branch of its history (a promotion starts a new one); the WAL position is
 * where the primary's WAL ended right after the write committed. The leading
 * "alchdb2" is the format version: version 1 tokens carried no timeline and
 * are refused, because a position without a timeline cannot be checked
 * across a failover. */
#ifndef ALCHDB_ROUTER_TOKEN_H
#define ALCHDB_ROUTER_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "alchdb/router.h"

/* Bytes a formatted token needs, NUL included (the longest is 57 + 1). The
 * public API asks callers for buffers of at least 64. */
#define ALCHDB__TOKEN_CAP 64

typedef struct alchdb__token {
    uint64_t sysid;    /* the cluster's system identifier (never 0) */
    uint32_t timeline; /* the timeline the write committed on (>= 1) */
    int64_t lsn;       /* WAL insert position after the commit (>= 0) */
} alchdb__token;

/* Write t as text into buf (NUL-terminated). Returns the length, or -1 when
 * t is not a valid token (sysid 0, timeline 0, negative position) or cap is
 * too small. */
int alchdb__token_format(const alchdb__token *t, char *buf, size_t cap);

/* Parse exactly len bytes of text (no NUL needed; an embedded NUL is an
 * error). A pure function: no allocation, no global or thread state, no
 * error detail set, safe on any bytes. Returns 0 and fills *out, or -1 and
 * points *why (may be NULL) at static text saying what is wrong. */
int alchdb__token_parse(const char *text, size_t len, alchdb__token *out, const char **why);

/* "16/B374D848" → byte position; exactly len bytes, pure like the parser.
 * -1 when malformed. */
int64_t alchdb__lsn_parse_n(const char *text, size_t len);
/* The same for a NUL-terminated string (NULL → -1). */
int64_t alchdb__lsn_parse(const char *text);
/* The timeline of a WAL file name ("000000020000000000000004" → 2), 0 when
 * the name is not one. */
uint32_t alchdb__walfile_timeline(const char *name);

/* An insert position (where the next WAL record will start) as the end of
 * the last record written, the form a standby's replay position takes: a
 * position right after a page header (nothing written on the page yet: the
 * last record ended at the page boundary, or a WAL switch ended the segment)
 * becomes the boundary, which standbys do reach; any other is unchanged.
 * seg_off is the position's offset in its WAL segment, blcksz the server's
 * wal_block_size. Headers are 24 bytes (40 on a segment's first page) on
 * 64-bit servers, 20 (36) where MAXALIGN is 4; a record never starts at the
 * other width, so both are recognised. Pure. */
int64_t alchdb__lsn_insert_to_end(int64_t lsn, int64_t seg_off, int64_t blcksz);

/* Read, on a connection to a primary outside a transaction, the position of
 * everything committed on it so far (its WAL insert position as a record end,
 * alchdb__lsn_insert_to_end, and timeline: one round trip). sysid is the cluster's, as the router knows it (copied into
 * the token; 0 when the caller only wants the position). Returns 0, or -1
 * with the reason (redacted, one line) in why when why is not NULL; the
 * thread's error detail is left alone. The caller checks PQstatus() to tell
 * a lost connection apart. The round trip is bounded by deadline_ns (absolute,
 * alchdb__now_ns(); 0 = none): when it passes, the query is left running,
 * -1 is returned with "timed out" and the caller must discard the connection
 * (the pool cancels a query still running when it closes one). */
int alchdb__token_read(PGconn *pg, uint64_t sysid, int64_t deadline_ns, alchdb__token *out, char *why, size_t cap);

/* What a token is worth against the router's cluster now. */
enum {
    ALCHDB__TOKEN_OK = 0,           /* on the current history: a server must have replayed *need */
    ALCHDB__TOKEN_MALFORMED = 1,    /* not a token: the router refuses it (ALCHDB_E_INVALID) */
    ALCHDB__TOKEN_FOREIGN = 2,      /* another cluster: the primary serves the read */
    ALCHDB__TOKEN_UNVERIFIABLE = 3, /* a timeline the router cannot check: the primary serves it, flagged */
    ALCHDB__TOKEN_LOST = 4          /* its write is not on the current timeline (a failover lost it): same */
};
/* Judge a token (NUL-terminated text) for a read. Only ALCHDB__TOKEN_OK may
 * be satisfied by a standby or a cached result; the router handles the rest. */
int alchdb__router_token_verdict(alchdb_router *r, const char *token, int64_t *need);

/* The cluster as the router sees it now: its system identifier and the
 * timeline of its current primary (or the newest one seen while no primary
 * answers). Returns 0, or ALCHDB_E_STATE while the router has not learnt them
 * (not started, nothing answered yet). For the cache, whose positions are
 * freshness bounds rather than the identity of one write: a bound taken
 * before a failover is still a bound on the new timeline, because positions
 * keep growing across a promotion. */
int alchdb__router_cluster(alchdb_router *r, uint64_t *sysid, uint32_t *timeline);

#endif /* ALCHDB_ROUTER_TOKEN_H */
