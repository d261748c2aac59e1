/* Private to lib/advisor: the report model and the helpers between its files. */
#ifndef ALCHDB_ADV_H
#define ALCHDB_ADV_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "alchdb/advisor.h"
#include "core/opt.h"
#include "internal.h"

#define ADV_MOD "advisor"

/* ---- options ---------------------------------------------------------------- */
typedef struct adv_query {
    char *sql;
    int64_t calls;
    double total_ms;
    const char *source; /* static: "api", "file", "pg_stat_statements" */
    uint32_t userid;    /* the role that ran it (pg_stat_statements), 0 when given to the advisor */
} adv_query;

/* The public config: the option engine's values and the workload. */
struct alchdb_advisor_config {
    alchdb__opts opts;
    adv_query *queries;
    size_t nqueries, capqueries;
};

/* What one analysis reads, loaded from a config (or the defaults) when it
 * starts (config.c); durations in microseconds. */
typedef struct adv_settings {
    const char *conninfo; /* borrowed from the config */
    int64_t use_pgss, use_hypopg, max_suggestions, max_index_bytes, min_gain_pct;
    int64_t max_queries, statement_timeout_us, lock_timeout_us, min_table_rows;
    const adv_query *queries; /* borrowed from the config */
    size_t nqueries;
} adv_settings;

/* ---- catalog model ---------------------------------------------------------- */
typedef struct adv_table {
    uint32_t oid;
    char *schema, *name, *qname; /* qname: quoted "schema"."name" */
    char *display;               /* unquoted, schema omitted for public */
    int64_t bytes, live_rows, seq_scan, seq_tup_read, idx_scan, writes;
    double reltuples;
    char **cols; /* by attnum (1-based; cols[0] unused), NULL for dropped */
    int ncols;
    bool has_stats;
    char kind;                /* pg_class.relkind: 'r', 'p' (partitioned) or 'm' */
    uint32_t parent_oid;      /* the partitioned table it is a partition of, 0 if none */
    struct adv_table *parent; /* that table when the advisor reads it, else NULL */
    int64_t nparts;           /* partitions (pg_inherits), any kind */
} adv_table;

typedef struct adv_index {
    uint32_t oid;
    adv_table *table;
    char *schema, *name, *qname;
    char *am, *def, *exprs, *pred;
    int16_t *keys; /* indkey (key + INCLUDE columns), 0 = expression */
    uint32_t *opclass, *collation;
    int16_t *option;
    int nkeys, natts;
    bool unique, primary, exclusion, valid, constraint;
    bool partitioned; /* the index of a partitioned table: bytes and scans are its partitions' */
    bool attached;    /* a partition's index attached to its parent's index */
    bool plain_keys;  /* every key column has its type's default operator class and the column's collation */
    bool to_attach;   /* a suggested index's sequence attaches it (never advised for dropping then) */
    int64_t bytes, scans;
    const char *fk_name; /* borrowed: an FK this index supports, NULL if none */
} adv_index;

typedef struct adv_fk {
    char *name;
    adv_table *table, *ref;
    int16_t *cols;
    int ncols;
    int64_t ref_writes;
} adv_fk;

/* ---- findings ---------------------------------------------------------------- */
typedef struct adv_unused {
    adv_index *idx;
    const char *confidence; /* static */
    char *warning;          /* NULL when none */
    char *drop_sql;
} adv_unused;

typedef struct adv_redundant {
    adv_index *idx, *by;
    const char *kind; /* "exact_duplicate" | "left_prefix" */
    char *reason, *drop_sql;
} adv_redundant;

/* One statement of how a suggested index is created (partition.c). */
typedef struct adv_step {
    char *sql;
    const char *schema; /* borrowed from a table: where the index it creates lives */
    char *name;         /* the index it creates, NULL for ATTACH PARTITION */
    bool concurrent;    /* CREATE INDEX CONCURRENTLY */
} adv_step;

typedef struct adv_fkmiss {
    adv_fk *fk;
    char *create_sql, *cols_text, *idx_name;
    adv_step *steps; /* create_sql, one statement each, in order */
    size_t nsteps;
} adv_fkmiss;

typedef struct adv_missing {
    adv_table *table;
    char **colnames; /* borrowed from the table */
    int ncols;
    char *name, *pred, *create_sql, *cols_text;
    const char *priority, *verified_by; /* static */
    double gain_pct, cost_before, cost_after, workload_share;
    int64_t est_bytes;
    struct adv_mq {
        char *sql;
        int64_t calls;
        double before, after;
    } *qs;
    size_t nqs;
    char *note;
    adv_step *steps; /* create_sql, one statement each, in order */
    size_t nsteps;
    /* evidence of the priority (priority.c) */
    double calls, saving_per_call; /* of the helped statements; saving -1 when unverified */
    double selectivity;            /* share of the table's rows the filter keeps, -1 unknown */
    double table_rows;
    int64_t writes, reads, table_bytes;
    char *why;                     /* the factors, in words */
} adv_missing;

typedef struct adv_reason {
    char *text;
    int points;
} adv_reason;

typedef struct adv_trust adv_trust;
struct alchdb__sql_node;
struct alchdb__sql_tree;

/* The visitor of lib/sql is iterative: this limit only bounds the work. */
#define ADV_MAX_TREE_DEPTH ((size_t)1 << 22)

typedef struct adv_relname {
    char *schema, *name;
    char kind;     /* pg_class.relkind */
    char *viewdef; /* views: pg_get_viewdef(), else NULL */
} adv_relname;

struct alchdb_advisor_report {
    char *database;
    char *search_path_note; /* how unqualified names were resolved, NULL when none were */
    char **search_path;     /* the advisor session's current_schemas(false), NULL-terminated */
    size_t nsearch_path;
    adv_relname *relnames;  /* every relation of the user schemas (index names must not collide) */
    size_t nrelnames;
    adv_relname *reserved;  /* index names handed out by alchdb__adv_index_name() */
    size_t nreserved, capreserved;
    adv_trust *untrusted;   /* functions, operators, relations and casts planning could run (trust.c) */
    size_t nuntrusted;
    bool untrusted_cast, trust_unknown;
    bool superuser;         /* the advisor's role */
    int server_version;
    bool has_hypopg, has_pgss, read_all_stats;
    double window_s; /* statistics observation window in seconds, -1 unknown */
    char *stats_since;
    int replicas;
    adv_table *tables;
    size_t ntables;
    adv_index *indexes;
    size_t nindexes;
    adv_fk *fks;
    size_t nfks;
    int64_t tot_seq, tot_idx;
    adv_unused *unused;
    size_t nunused;
    adv_redundant *redundant;
    size_t nredundant;
    adv_fkmiss *fkmiss;
    size_t nfkmiss;
    adv_missing *missing;
    size_t nmissing;
    size_t nqueries_seen, nqueries_used;
    char **notes; /* what could not be done */
    size_t nnotes;
    int health;
    adv_reason *reasons;
    size_t nreasons;
    char **recs;
    size_t nrecs;
    char *script;
    int64_t lock_timeout_us;
    char **keywords;
    size_t nkeywords;
};

/* ---- shared helpers ----------------------------------------------------------- */
typedef struct adv_ctx {
    PGconn *conn;
    const adv_settings *opts;
    alchdb_advisor_report *r;
} adv_ctx;

/* Append an owned note (formatted) to the report; false on out of memory. */
bool alchdb__adv_note(alchdb_advisor_report *r, const char *fmt, ...) ALCHDB_PRINTF(2, 3);
/* Append prefix, the formatted text on one line (control characters and
 * line separators escaped: a name can never end a `--` comment or forge a
 * report line), and a newline. Every comment line of a script and every
 * line of a text report goes through it. */
void alchdb__adv_line(alchdb__strbuf *sb, const char *prefix, const char *fmt, ...) ALCHDB_PRINTF(3, 4);
/* An identifier quoted when it needs to be (owned). */
char *alchdb__adv_ident(adv_ctx *c, const char *id);
/* "schema"."name" with public left implicit when the search path finds it. */
char *alchdb__adv_qualified(adv_ctx *c, const char *schema, const char *name);
char *alchdb__adv_literal(adv_ctx *c, const char *s);
/* Run a catalog query with text parameters; NULL (note added) on error. */
PGresult *alchdb__adv_query(adv_ctx *c, const char *what, const char *sql, int nparams,
                            const char *const *params);
/* A table by (schema, name); an unqualified name is looked up along path
 * (npath schemas, in order) as PostgreSQL resolves it. */
adv_table *alchdb__adv_find_table(alchdb_advisor_report *r, const char *schema, const char *name,
                                  char *const *path, size_t npath);
/* A relation of the user schemas by (schema, name) or along path; NULL if none. */
const adv_relname *alchdb__adv_find_rel(const alchdb_advisor_report *r, const char *schema, const char *name,
                                        char *const *path, size_t npath);
/* A fresh index name in schema: stem cut (at a character boundary) so that
 * stem + suffix fits in 63 bytes with the suffix kept whole, then _2, _3, ...
 * until no relation of the schema (table, index, sequence, view, ...) and no
 * name handed out so far has it; the name is then reserved for the report.
 * Owned; NULL on out of memory. */
char *alchdb__adv_index_name(alchdb_advisor_report *r, const char *schema, const char *stem, const char *suffix);
adv_table *alchdb__adv_table_by_oid(alchdb_advisor_report *r, uint32_t oid);
/* The session's current_schemas(false), in order (owned, NULL-terminated);
 * empty when it cannot be read. */
int alchdb__adv_load_path(PGconn *conn, char ***path, size_t *n);
int alchdb__adv_attnum(const adv_table *t, const char *col);
bool alchdb__adv_push(void **arr, size_t *n, size_t *cap, size_t elem);

/* api.c: the PGconn variant, for <alchdb/pq.h> (the lead adds the public
 * declaration there and the name to the map; until then it is hidden). */
ALCHDB_API int alchdb_advisor_analyze_pgconn(PGconn *conn, const alchdb_advisor_config *cfg,
                                             alchdb_advisor_report **out);

/* partition.c: partitioned tables */
/* a is a proper ancestor of t in a partition tree. */
bool alchdb__adv_inherits(const adv_table *t, const adv_table *a);
/* What t holds: for a partitioned table, the sums over its partitions
 * (PostgreSQL keeps no row or write counts on the parent itself). */
typedef struct adv_tree_stats {
    double rows, live; /* the planner's estimate (ANALYZE), the statistics' live rows */
    int64_t writes, seq_scan, idx_scan, bytes;
} adv_tree_stats;
void alchdb__adv_tree_stats(const alchdb_advisor_report *r, const adv_table *t, adv_tree_stats *s);
/* An index can be built on t the documented way: every partition (at every
 * level) is a table the advisor reads, none a foreign table. */
bool alchdb__adv_indexable(const alchdb_advisor_report *r, const adv_table *t);
/* The key columns of an index to be made, by name (a partition's attribute
 * numbers may differ from its parent's), with their ADV_ORD_* (ord NULL: all
 * ascending): what an existing partition index must hold to be attached
 * instead of building another. */
typedef struct adv_keyspec {
    const char *const *names;
    const uint8_t *ord;
    int n;
} adv_keyspec;
/* The statements that create index name on t with keys (quoted column list)
 * and pred (NULL: none): CREATE INDEX CONCURRENTLY, or on a partitioned
 * table the documented way (ON ONLY the parent, CONCURRENTLY on each
 * partition named from its table + stem_cols + suffix, ATTACH PARTITION). A
 * partition that already has an index equivalent to spec (as PostgreSQL's
 * ATTACH PARTITION requires it) gets that one attached instead (spec NULL or
 * pred set: never). *create_sql is the statements one per line. 0,
 * ALCHDB_E_NOMEM, or ALCHDB_E_STATE when a partition cannot hold an index
 * (foreign table, or not readable): nothing is made. */
int alchdb__adv_create_steps(adv_ctx *c, adv_table *t, const char *name, const char *keys, const char *pred,
                             const adv_keyspec *spec, const char *stem_cols, const char *suffix, adv_step **steps,
                             size_t *nsteps, char **create_sql);
void alchdb__adv_steps_free(adv_step *steps, size_t n);

/* catalog.c */
int alchdb__adv_load_catalog(adv_ctx *c);
int alchdb__adv_find_problems(adv_ctx *c);
/* After the suggestions are made: an index that one of them attaches to a
 * parent's index is taken off the unused and redundant lists (it is what the
 * suggestion keeps; dropping it would break the sequence). */
void alchdb__adv_keep_attached(alchdb_advisor_report *r);
/* workload.c */
int alchdb__adv_missing(adv_ctx *c);
/* walk.c: what a statement asks of each table it reads */
#define ADV_MAX_COLS 4
#define ADV_ORD_DESC 1        /* INDOPTION_DESC */
#define ADV_ORD_NULLS_FIRST 2 /* INDOPTION_NULLS_FIRST */
typedef struct adv_use {
    adv_table *t;
    const char *alias;               /* borrowed from the tree */
    int16_t eq[ADV_MAX_COLS];        /* compared with a value by = or IN */
    int neq;
    int16_t range;                   /* <, >, <=, >=, BETWEEN, LIKE; 0 none */
    int16_t sort[ADV_MAX_COLS];      /* ORDER BY, leading items on this table */
    uint8_t sort_ord[ADV_MAX_COLS];  /* their order: ADV_ORD_DESC | ADV_ORD_NULLS_FIRST, as pg_index.indoption */
    int nsort;
    int16_t join[ADV_MAX_COLS];      /* = a column of another table */
    int njoin;
    const char *const *map_names;    /* read through a view: its output columns ... */
    const int16_t *map_atts;         /* ... and the base columns they are (0: an expression) */
    int nmap;
    struct {
        int16_t att;
        char *text;                  /* `col = constant`, `col IS [NOT] NULL` as SQL; freed after use() */
    } pred[2];
    int npred;
} adv_use;

typedef struct adv_walk {
    adv_ctx *c;
    const struct alchdb__sql_tree *tree;
    char *const *path;               /* schemas for unqualified names */
    size_t npath;
    void (*use)(void *ud, const adv_use *u); /* once per table per SELECT/UPDATE/DELETE level */
    void *ud;
    /* results */
    int known;                       /* user tables named */
    bool bad;                        /* a table named does not exist */
    char *bad_name;                  /* owned: the first such name, as SQL */
    int maxparam;                    /* highest $n */
    bool nomem;
    const adv_relname *view_seen;    /* the first view read (seen through to its base tables) */
    const adv_relname *foreign_seen; /* the first foreign table read (not indexed here) */
    int view_depth;                  /* views being seen through (bounded) */
    void *views;                     /* parsed view definitions, freed by alchdb__adv_walk */
} adv_walk;
/* 0, ALCHDB_E_RANGE (too deep: part of the statement was not walked) or ALCHDB_E_NOMEM. */
int alchdb__adv_walk(adv_walk *w, const struct alchdb__sql_node *stmt);

/* trust.c: what planning a statement could run */
int alchdb__adv_trust_load(adv_ctx *c);
void alchdb__adv_trust_free(alchdb_advisor_report *r);
/* *why NULL when stmt may be planned; otherwise why not (owned). 0 or
 * ALCHDB_E_NOMEM. */
int alchdb__adv_trust_check(const alchdb_advisor_report *r, const struct alchdb__sql_node *stmt, char **why);
/* priority.c: m->priority and m->why from its evidence (owned why). */
int alchdb__adv_prioritize(adv_missing *m, bool verified, bool planned);
/* report.c */
int alchdb__adv_finish(adv_ctx *c);
void alchdb__adv_report_destroy(alchdb_advisor_report *r);
/* config.c: the option table, the settings of one analysis, and the
 * workload split from a script */
extern const alchdb__optspec alchdb__advisor_optspec;
/* cfg NULL: the defaults. Borrows from cfg; allocates nothing. */
void alchdb__adv_settings_load(adv_settings *s, const alchdb_advisor_config *cfg);
int alchdb__adv_add_script(alchdb_advisor_config *cfg, const char *text, size_t len, const char *source);

#endif
