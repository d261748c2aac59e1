/* Parsing a script into the layer's tree: libpg_query (behind the stack
 * guard of pgq.c) prints the tree as JSON, which is read here without
 * recursion (an explicit stack of open containers) into nodes that live in
 * one arena. A wrapper object {"Type": {...}} becomes one node of that type.
 * Then CTE references are resolved once (visit.c). */
#include <stdlib.h>

#include "sql_priv.h"
#include "tree.h"

/* ---- arena ------------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

struct alchdb__sql_tree {
    chunk *chunks;
    char *text;
    size_t len;
    alchdb__sql_node root;
    const alchdb__sql_node *stmts; /* the "stmts" list */
    size_t depth;
};

static void *arena_alloc(alchdb__sql_tree *t, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk *c = t->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 60000 ? n : 65536 - sizeof(chunk);
        c = alchdb__malloc(sizeof(chunk) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = t->chunks;
        t->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* ---- JSON reader ----------------------------------------------------------------- */

typedef struct member {
    const char *key; /* NULL inside a list */
    alchdb__sql_node val;
} member;

typedef struct open_container {
    bool object;
    size_t first; /* index of its first member in the member stack */
} open_container;

typedef struct reader {
    alchdb__sql_tree *t;
    const char *p, *end;
    member *mem;
    size_t nmem, capmem;
    open_container *open;
    size_t nopen, capopen;
    bool nomem;
} reader;

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r'))
        r->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A JSON string at r->p == '"', unescaped into the arena. */
static const char *read_string(reader *r)
{
    const char *s = ++r->p;
    const char *q = s;
    bool esc = false;
    while (q < r->end && *q != '"') {
        if (*q == '\\') {
            esc = true;
            q++;
        }
        q++;
    }
    if (q >= r->end)
        return NULL;
    size_t n = (size_t)(q - s);
    char *out = arena_alloc(r->t, n + 1); /* unescaping never lengthens */
    if (!out) {
        r->nomem = true;
        return NULL;
    }
    if (!esc) {
        memcpy(out, s, n);
        out[n] = '\0';
        r->p = q + 1;
        return out;
    }
    size_t o = 0;
    for (const char *c = s; c < q; c++) {
        if (*c != '\\') {
            out[o++] = *c;
            continue;
        }
        c++;
        switch (*c) {
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'u': {
            unsigned cp, lo;
            if (!hex4(c + 1, q, &cp))
                return NULL;
            c += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && q - c > 6 && c[1] == '\\' && c[2] == 'u' && hex4(c + 3, q, &lo) &&
                lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                c += 6;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: out[o++] = *c; break; /* \" \\ \/ */
        }
    }
    out[o] = '\0';
    r->p = q + 1;
    return out;
}

static bool push_member(reader *r, const char *key, const alchdb__sql_node *v)
{
    member *mem = sql__grow(r->mem, &r->capmem, r->nmem + 1, sizeof *r->mem);
    if (!mem) {
        r->nomem = true;
        return false;
    }
    r->mem = mem;
    r->mem[r->nmem].key = key;
    r->mem[r->nmem].val = *v;
    r->nmem++;
    return true;
}

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

/* Close the innermost container: its members become one node. */
static bool close_container(reader *r, alchdb__sql_node *out)
{
    open_container oc = r->open[--r->nopen];
    size_t n = r->nmem - oc.first;
    member *m = r->mem + oc.first;
    memset(out, 0, sizeof *out);
    if (oc.object && n == 1 && m[0].key && is_upper(m[0].key[0]) && m[0].val.jtype == ALCHDB__SQL_J_OBJECT &&
        !m[0].val.type) {
        *out = m[0].val; /* {"Type": {...}}: one node of that type */
        out->type = m[0].key;
        r->nmem = oc.first;
        return true;
    }
    out->jtype = oc.object ? ALCHDB__SQL_J_OBJECT : ALCHDB__SQL_J_LIST;
    out->n = (uint32_t)n;
    if (n) {
        out->kids = arena_alloc(r->t, n * sizeof *out->kids);
        if (oc.object)
            out->keys = arena_alloc(r->t, n * sizeof *out->keys);
        if (!out->kids || (oc.object && !out->keys)) {
            r->nomem = true;
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            out->kids[i] = m[i].val;
            if (oc.object)
                out->keys[i] = m[i].key;
        }
    }
    r->nmem = oc.first;
    return true;
}

static bool read_number(reader *r, alchdb__sql_node *v)
{
    char *endp;
    long long x = strtoll(r->p, &endp, 10);
    if (endp == r->p)
        return false;
    while (endp < r->end && strchr(".eE+-0123456789", *endp)) /* a fraction: not in libpg_query's output */
        endp++;
    v->jtype = ALCHDB__SQL_J_INT;
    v->num = x;
    r->p = endp;
    return true;
}

/* After "{" or ",": an object member's key and its colon. */
static bool read_key(reader *r, const char **key)
{
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"' || !(*key = read_string(r)))
        return false;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':')
        return false;
    r->p++;
    return true;
}

/* Read the whole document into *root; false when it is malformed or memory
 * ran out (r->nomem). Containers nest on r->open, never on the C stack. */
static bool read_json(reader *r, alchdb__sql_node *root)
{
    const char *key = NULL;
    alchdb__sql_node v;
    for (;;) {
        /* a value */
        skip_ws(r);
        if (r->p >= r->end)
            return false;
        memset(&v, 0, sizeof v);
        char c = *r->p;
        if (c == '{' || c == '[') {
            open_container *open = sql__grow(r->open, &r->capopen, r->nopen + 1, sizeof *r->open);
            if (!open) {
                r->nomem = true;
                return false;
            }
            r->open = open;
            if (r->nopen > 0 && !push_member(r, key, &v)) /* placeholder, filled on close */
                return false;
            r->open[r->nopen++] = (open_container){c == '{', r->nmem};
            if (r->nopen > r->t->depth)
                r->t->depth = r->nopen;
            r->p++;
            skip_ws(r);
            if (r->p < r->end && *r->p == (c == '{' ? '}' : ']'))
                goto closing;
            key = NULL;
            if (c == '{' && !read_key(r, &key))
                return false;
            continue;
        }
        if (c == '"') {
            if (!(v.str = read_string(r)))
                return false;
            v.jtype = ALCHDB__SQL_J_STRING;
        } else if (c == 't' && r->end - r->p >= 4 && !memcmp(r->p, "true", 4)) {
            v.jtype = ALCHDB__SQL_J_BOOL;
            v.num = 1;
            r->p += 4;
        } else if (c == 'f' && r->end - r->p >= 5 && !memcmp(r->p, "false", 5)) {
            v.jtype = ALCHDB__SQL_J_BOOL;
            r->p += 5;
        } else if (c == 'n' && r->end - r->p >= 4 && !memcmp(r->p, "null", 4)) {
            r->p += 4;
        } else if (!(c == '-' || (c >= '0' && c <= '9')) || !read_number(r, &v)) {
            return false;
        }
        if (r->nopen == 0) {
            *root = v;
            return true;
        }
        if (!push_member(r, key, &v))
            return false;
        for (;;) {
            /* after a value: a comma, or the end of containers */
            skip_ws(r);
            if (r->p >= r->end)
                return false;
            if (*r->p == ',') {
                r->p++;
                key = NULL;
                if (r->open[r->nopen - 1].object && !read_key(r, &key))
                    return false;
                break;
            }
        closing:
            if (*r->p != (r->open[r->nopen - 1].object ? '}' : ']'))
                return false;
            r->p++;
            if (!close_container(r, &v))
                return false;
            if (r->nopen == 0) {
                *root = v;
                return true;
            }
            r->mem[r->nmem - 1].val = v;
        }
    }
}

/* ---- parse ---------------------------------------------------------------------- */

void alchdb__sql_tree_free(alchdb__sql_tree *t)
{
    if (!t)
        return;
    for (chunk *c = t->chunks; c;) {
        chunk *next = c->next;
        alchdb__free(c);
        c = next;
    }
    alchdb__free(t->text);
    alchdb__free(t);
}

static int read_tree(alchdb__sql_tree *t, const char *json)
{
    reader r = {.t = t, .p = json, .end = json + strlen(json)};
    bool ok = read_json(&r, &t->root);
    alchdb__free(r.mem);
    alchdb__free(r.open);
    if (r.nomem)
        return alchdb__nomem("SQL parse tree");
    if (!ok)
        return alchdb__error(ALCHDB_E_INTERNAL, "libpg_query printed a parse tree this library cannot read");
    t->stmts = alchdb__sql_node_get(&t->root, "stmts");
    return 0;
}

int alchdb__sql_tree_parse(const char *sql, size_t len, alchdb__sql_tree **out, int64_t *err_offset)
{
    if (err_offset)
        *err_offset = -1;
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    int err = 0;
    if (!sql__valid_input("alchdb_sql_analyze", sql, &len, &err))
        return err;
    alchdb__sql_tree *t = alchdb__calloc(1, sizeof *t);
    if (!t || !(t->text = alchdb__strndup(sql, len))) {
        alchdb__free(t);
        return alchdb__nomem("SQL text");
    }
    t->len = len;
    sql_pgq q;
    int rc = sql__pgq_prepare(&q, t->text, len, SQL_PGQ_PARSE);
    if (rc == 0)
        rc = sql__pgq_run(&q);
    if (rc == 0 && q.parse.error) {
        if (err_offset)
            *err_offset = sql__cursor_to_offset(t->text, len, q.parse.error->cursorpos);
        rc = alchdb__error(ALCHDB_E_PARSE, "%s", q.parse.error->message ? q.parse.error->message : "syntax error");
    } else if (rc == 0) {
        rc = read_tree(t, q.parse.parse_tree);
    }
    sql__pgq_done(&q);
    if (rc == 0)
        rc = sql__resolve_ctes(t->stmts);
    if (rc < 0) {
        alchdb__sql_tree_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

const char *alchdb__sql_tree_text(const alchdb__sql_tree *t, size_t *len)
{
    if (len)
        *len = t->len;
    return t->text;
}

size_t alchdb__sql_tree_depth(const alchdb__sql_tree *t) { return t->depth; }

size_t alchdb__sql_tree_count(const alchdb__sql_tree *t) { return alchdb__sql_node_count(t->stmts); }

const alchdb__sql_node *alchdb__sql_tree_stmt(const alchdb__sql_tree *t, size_t i, size_t *offset, size_t *length)
{
    const alchdb__sql_node *raw = alchdb__sql_node_item(t->stmts, i);
    int64_t loc = alchdb__sql_node_int(alchdb__sql_node_get(raw, "stmt_location"), 0);
    int64_t slen = alchdb__sql_node_int(alchdb__sql_node_get(raw, "stmt_len"), 0);
    if (offset)
        *offset = loc > 0 && (uint64_t)loc <= t->len ? (size_t)loc : 0;
    if (length)
        *length = slen > 0 ? (size_t)slen : 0;
    return alchdb__sql_node_get(raw, "stmt");
}

/* ---- nodes ---------------------------------------------------------------------- */

const char *alchdb__sql_node_type(const alchdb__sql_node *n)
{
    return n && n->jtype == ALCHDB__SQL_J_OBJECT ? n->type : NULL;
}

bool alchdb__sql_node_is(const alchdb__sql_node *n, const char *type)
{
    const char *t = alchdb__sql_node_type(n);
    return t && !strcmp(t, type);
}

const alchdb__sql_node *alchdb__sql_node_get(const alchdb__sql_node *n, const char *field)
{
    if (!n || n->jtype != ALCHDB__SQL_J_OBJECT)
        return NULL;
    for (uint32_t i = 0; i < n->n; i++)
        if (!strcmp(n->keys[i], field))
            return &n->kids[i];
    return NULL;
}

size_t alchdb__sql_node_count(const alchdb__sql_node *n)
{
    return n && n->jtype == ALCHDB__SQL_J_LIST ? n->n : 0;
}

const alchdb__sql_node *alchdb__sql_node_item(const alchdb__sql_node *n, size_t i)
{
    return n && n->jtype == ALCHDB__SQL_J_LIST && i < n->n ? &n->kids[i] : NULL;
}

const char *alchdb__sql_node_str(const alchdb__sql_node *n)
{
    return n && n->jtype == ALCHDB__SQL_J_STRING ? n->str : NULL;
}

int64_t alchdb__sql_node_int(const alchdb__sql_node *n, int64_t dflt)
{
    return n && n->jtype == ALCHDB__SQL_J_INT ? n->num : dflt;
}

bool alchdb__sql_node_true(const alchdb__sql_node *n) { return n && n->jtype == ALCHDB__SQL_J_BOOL && n->num; }

const char *alchdb__sql_field_str(const alchdb__sql_node *n, const char *field)
{
    return alchdb__sql_node_str(alchdb__sql_node_get(n, field));
}

const char *alchdb__sql_string_node(const alchdb__sql_node *n)
{
    return alchdb__sql_node_is(n, "String") ? alchdb__sql_field_str(n, "sval") : NULL;
}
