/* Internal model of a migration assessment (lib/migration). */
#ifndef ALCHDB_MIGRATION_MODEL_H
#define ALCHDB_MIGRATION_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alchdb/migration.h"
#include "core/opt.h"
#include "internal.h"

typedef struct mig_lock {
    char *relation; /* as written in the script */
    int mode;       /* alchdb_lock_mode */
    bool existing;  /* the relation existed before this file (not created here) */
} mig_lock;

typedef struct mig_finding {
    const char *rule;     /* static rule id */
    const char *severity; /* "error" | "warning" | "info" */
    char *message;
    char *help;
} mig_finding;

typedef struct mig_stmt {
    size_t offset, length; /* bytes in the file, first token to end of statement */
    int64_t line, column;  /* 1-based position of the first token */
    char *sql;             /* the statement text, trimmed */
    mig_lock *locks;
    size_t nlocks, caplocks;
    uint32_t flags; /* ALCHDB_MIG_* */
    int risk;       /* alchdb_migration_risk */
    char *reason;
    mig_finding *findings;
    size_t nfindings, capfindings;
    char *safer_rewrite;
    char *rollback; /* NULL with REVERSIBLE unset: irreversible (reason in rollback_note) */
    char *rollback_note;
    double estimated_seconds; /* < 0: unknown */
    bool concurrent;          /* cannot run inside a transaction block */
    bool txn_control;         /* BEGIN/COMMIT/...: not part of a plan phase */
    bool swaps_file;          /* TRUNCATE: a new empty file, not a rewrite of the rows */
    char *size_note;          /* live mode: "app.orders, ~2.1 GB" */
} mig_stmt;

typedef struct mig_phase {
    char *name;
    bool transactional;
    size_t *stmts; /* indexes into the file's statements */
    size_t nstmts;
    int lock; /* strongest lock mode taken */
    double expected_seconds;
    char *checkpoint;
} mig_phase;

typedef struct mig_file {
    char *name;
    char *error;
    int64_t err_line, err_column;
    mig_stmt *stmts;
    size_t nstmts;
    int max_risk;
    mig_phase *phases;
    size_t nphases;
    bool sets_lock_timeout;
} mig_file;

/* A column type as written (for type-change rules). */
typedef struct mig_type {
    char name[64]; /* pg_catalog name: int4, varchar, numeric, ... */
    int32_t mods[2];
    int nmods;
    bool is_array;
    char sql[256]; /* the type as SQL: rendered from the tree, or format_type() in live mode */
} mig_type;

typedef struct mig_column {
    char *table; /* key as written */
    char *column;
    mig_type type;
} mig_column;

/* Knowledge carried across statements and files. */
typedef struct mig_state {
    char **new_tables; /* created in the current file */
    size_t n_new, cap_new;
    char **known_tables; /* created in an earlier file of this assessment */
    size_t n_known, cap_known;
    mig_column *cols;
    size_t ncols, capcols;
    char **notnull_checks; /* "table\x1fcolumn" with a validated CHECK (col IS NOT NULL) */
    size_t n_nn, cap_nn;
    char **fks; /* "table\x1fconstraint\x1freferenced" */
    size_t n_fk, cap_fk;
    bool in_txn;
    bool lock_timeout_set;
    int timezone_utc; /* SET timezone in this file: 1 to UTC, -1 to another zone, 0 not seen */
    char **ae_held; /* tables under ACCESS EXCLUSIVE in the open transaction */
    size_t n_ae, cap_ae;
} mig_state;

/* The public config: the option engine's values (api.c declares the table). */
struct alchdb_migration_config {
    alchdb__opts opts;
};

/* What an assessment reads, copied from the config when it is made;
 * durations in microseconds. */
typedef struct mig_settings {
    int64_t pg_version;
    char *conninfo; /* owned */
    int64_t rewrite_bytes_per_sec;
    int64_t lock_timeout_us;
    int64_t statement_timeout_us;
    int64_t max_retries;
} mig_settings;

struct alchdb_migration {
    mig_settings opts;
    mig_file *files;
    size_t nfiles, capfiles;
    mig_state state;
    void *live; /* struct mig_live * (live.c) or NULL */
};

/* assess.c */
int alchdb__mig_assess_file(alchdb_migration *m, mig_file *f, const char *sql, size_t len);
void alchdb__mig_file_free(mig_file *f);
void alchdb__mig_state_free(mig_state *s);

/* plan.c */
int alchdb__mig_plan_file(mig_file *f);

/* render.c */
int alchdb__mig_render_json(const alchdb_migration *m, char **out);
int alchdb__mig_render_text(const alchdb_migration *m, char **out);

/* live.c: table sizes and lock-queue risks from a live database. */
int alchdb__mig_live_open(alchdb_migration *m);
void alchdb__mig_live_close(alchdb_migration *m);
/* Relations are keys (names.c). Fills *bytes / *rows; false when unknown. */
bool alchdb__mig_live_size(alchdb_migration *m, const char *relation, int64_t *bytes, double *rows);
/* Sessions that are long-running or idle in transaction on the relation; owned
 * description or NULL. */
char *alchdb__mig_live_blockers(alchdb_migration *m, const char *relation);
bool alchdb__mig_live_column_type(alchdb_migration *m, const char *relation, const char *column,
                                  mig_type *out);

/* The session TimeZone of the live connection: 1 UTC, -1 another zone, 0
 * unknown (no live connection). */
int alchdb__mig_live_timezone_utc(alchdb_migration *m);
/* The tables whose rows a check of domain's constraints reads (live mode;
 * owned keys in out, at most cap); 0 without a live connection. */
size_t alchdb__mig_live_domain_tables(alchdb_migration *m, const char *domain, char **out, size_t cap);
/* Views, materialized views and rules that use the column (ALTER COLUMN TYPE
 * is refused while they exist): owned text naming them, or NULL. */
char *alchdb__mig_live_column_dependents(alchdb_migration *m, const char *relation, const char *column);

/* The key of the table an index belongs to (no schema when in public), owned, or NULL. */
char *alchdb__mig_live_index_table(alchdb_migration *m, const char *index);

/* Tables related through foreign keys (live mode). outgoing: tables that `table`
 * references (only constraint `conname` when not NULL); incoming: tables that
 * reference `table`. Returns the number of keys stored in out (owned strings). */
size_t alchdb__mig_live_fk_rels(alchdb_migration *m, const char *table, const char *conname, bool incoming,
                                char **out, size_t cap);

/* names.c: relation keys and the SQL the assessor writes. A relation is
 * keyed by its SQL form ([schema.]name, each part quoted where needed, a part
 * with control characters as U&"..."), built from the two fields of the parse
 * tree or the catalog; keys are compared whole, never split on dots. */
typedef struct mig_rel {
    char *schema; /* NULL when not written */
    char *name;
} mig_rel;
/* Two parts of at most 63 bytes, every byte a control character at worst. */
#define ALCHDB_MIG_REL_CAP 700
void alchdb__mig_rel_key(char *buf, size_t cap, const char *schema, const char *name);
/* The exact inverse of alchdb__mig_rel_key(): owned fields; false when key is
 * not one. */
bool alchdb__mig_rel_parse(const char *key, mig_rel *out);
void alchdb__mig_rel_free(mig_rel *r);
/* An identifier as SQL: quote_ident's rules, U&"..." with control characters. */
void alchdb__mig_sql_ident(alchdb__strbuf *sb, const char *ident);
char *alchdb__mig_quote_ident(const char *name);
/* A string literal as SQL (E'...' with escapes when it holds control characters). */
void alchdb__mig_sql_literal(alchdb__strbuf *sb, const char *s);
/* A generated identifier: base + suffix, the base cut on a character
 * boundary so that the whole fits PostgreSQL's 63 bytes with its suffix (a
 * truncated suffix could name the base itself). Owned. */
char *alchdb__mig_generated_name(const char *base, const char *suffix);
/* Report text: control characters written as \n, \r, \t, \xNN. */
void alchdb__mig_text_escaped(alchdb__strbuf *sb, const char *s);

#endif
