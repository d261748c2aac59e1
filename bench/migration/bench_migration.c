/* bench/migration: statements assessed per second on a generated migration of
 * N statements (default 10,000) mixing the common kinds. Prints the median of
 * several runs; --json for machines; --write FILE writes the migration instead
 * (vs-squawk.sh runs alchdb and squawk on it side by side). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <alchdb/alchdb.h>
#include <alchdb/migration.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = 10000;
    int runs = 5;
    int json = 0;
    const char *write_to = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--write") && i + 1 < argc)
            write_to = argv[++i];
        else if (!strcmp(argv[i], "--statements") && i + 1 < argc)
            n = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_migration [--statements N] [--runs R] [--json] [--write FILE]\n");
            return 2;
        }
    }
    if (n == 0 || runs < 1 || runs > 100) {
        fprintf(stderr, "bench_migration: --statements must be > 0 and --runs 1..100\n");
        return 2;
    }
    size_t cap = n * 120 + 1, off = 0;
    char *sql = malloc(cap);
    if (!sql)
        return 1;
    for (size_t i = 0; i < n; i++) {
        size_t t = i % 100;
        switch (i % 5) {
        case 0: off += (size_t)snprintf(sql + off, cap - off, "ALTER TABLE app.t%zu ADD COLUMN c%zu int;\n", t, i); break;
        case 1: off += (size_t)snprintf(sql + off, cap - off, "CREATE INDEX CONCURRENTLY i%zu ON app.t%zu (c);\n", i, t); break;
        case 2: off += (size_t)snprintf(sql + off, cap - off, "ALTER TABLE app.t%zu ALTER COLUMN c%zu SET NOT NULL;\n", t, i); break;
        case 3:
            off += (size_t)snprintf(sql + off, cap - off,
                                    "ALTER TABLE app.t%zu ADD CONSTRAINT f%zu FOREIGN KEY (p) REFERENCES app.p (id) NOT VALID;\n",
                                    t, i);
            break;
        default: off += (size_t)snprintf(sql + off, cap - off, "UPDATE app.t%zu SET c = 1 WHERE id = %zu;\n", t, i); break;
        }
    }
    if (write_to) { /* the same file for another tool (vs-squawk.sh) */
        FILE *f = fopen(write_to, "wb");
        if (!f || fwrite(sql, 1, off, f) != off || fclose(f) != 0) {
            fprintf(stderr, "bench_migration: cannot write %s\n", write_to);
            return 1;
        }
        free(sql);
        return 0;
    }
    double *t = calloc((size_t)runs, sizeof *t);
    for (int r = 0; r < runs; r++) {
        alchdb_migration *m = NULL;
        double t0 = now_s();
        if (alchdb_migration_new(NULL, &m) < 0 || alchdb_migration_add_file(m, "bench.sql", sql, off) < 0) {
            fprintf(stderr, "bench_migration: %s\n", alchdb_last_error_message());
            return 1;
        }
        t[r] = now_s() - t0;
        if (alchdb_migration_stmt_count(m, 0) != n) {
            fprintf(stderr, "bench_migration: assessed %zu of %zu statements\n", alchdb_migration_stmt_count(m, 0), n);
            return 1;
        }
        alchdb_migration_free(m);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double med = t[runs / 2];
    if (json)
        printf("{\"bench\":\"migration\",\"statements\":%zu,\"bytes\":%zu,\"runs\":%d,\"median_seconds\":%.4f,"
               "\"statements_per_second\":%.0f}\n",
               n, off, runs, med, (double)n / med);
    else
        printf("migration assessment: %zu statements (%zu bytes), median of %d runs: %.3f s = %.0f statements/s\n",
               n, off, runs, med, (double)n / med);
    free(t);
    free(sql);
    return 0;
}
