// A Go program over libalchdb (cgo): queries through a routed, cached client
// from many goroutines, each statement with its own deadline.
//
//	go run . -primary "host=... dbname=app" -replica "host=... dbname=app"
//
// The library's error detail is thread-local, and a goroutine may move to
// another OS thread between two cgo calls, so the statement and the reading
// of its error happen in one C call (exec below).
package main

/*
#cgo pkg-config: libalchdb
#cgo CFLAGS: -Wall -Werror
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <alchdb/alchdb.h>

// One statement with a deadline; on failure the message (and the SQLSTATE of
// a server error) is copied out on the same thread that failed.
static int exec(alchdb_client *c, const char *sql, int n, const char *const *params,
                int64_t timeout_us, char **value, char *err, size_t cap)
{
    alchdb_exec_opts o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.timeout_us = timeout_us;
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec_opts(c, sql, n, params, &o, &r);
    *value = NULL;
    if (rc == 0 && alchdb_result_nrows(r) > 0 && !alchdb_result_is_null(r, 0, 0))
        *value = strdup(alchdb_result_value(r, 0, 0));
    if (rc != 0)
        snprintf(err, cap, "%s [%s]", alchdb_last_error_message(), alchdb_last_error_sqlstate());
    alchdb_result_free(r);
    return rc;
}

static int last_error(char *err, size_t cap)
{
    snprintf(err, cap, "%s", alchdb_last_error_message());
    return alchdb_last_error_code();
}
*/
import "C"

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Client is a routed, cached client and what it borrows.
type Client struct {
	router *C.alchdb_router
	cache  *C.alchdb_cache
	client *C.alchdb_client
}

// Error is a failed library call: the ALCHDB_E_* code and the detail.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("alchdb error %d: %s", e.Code, e.Message) }

func lastError() error {
	var buf [512]C.char
	code := C.last_error(&buf[0], C.size_t(len(buf)))
	return &Error{int(code), C.GoString(&buf[0])}
}

// Open starts a router over the primary and the replica, a memory cache and a routed client.
func Open(primary, replica string) (*Client, error) {
	c := &Client{}
	p, r := C.CString(primary), C.CString(replica)
	defer C.free(unsafe.Pointer(p))
	defer C.free(unsafe.Pointer(r))
	if C.alchdb_router_new(p, nil, nil, &c.router) != 0 {
		return nil, lastError()
	}
	if C.alchdb_router_add_replica(c.router, r, 1) != 0 || C.alchdb_router_start(c.router) != 0 {
		err := lastError()
		C.alchdb_router_free(c.router)
		return nil, err
	}
	if C.alchdb_cache_new(nil, &c.cache) != 0 || C.alchdb_client_new_routed(c.router, &c.client) != 0 ||
		C.alchdb_client_set_cache(c.client, c.cache, nil) != 0 {
		err := lastError()
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close frees the client before what it borrows.
func (c *Client) Close() {
	C.alchdb_client_free(c.client)
	C.alchdb_cache_free(c.cache)
	C.alchdb_router_free(c.router)
}

// Query runs one statement with parameters and a deadline; it returns the
// first column of the first row ("" when there is none).
func (c *Client) Query(timeout time.Duration, sql string, params ...string) (string, error) {
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	// The parameter array lives in C memory: cgo forbids C keeping Go pointers.
	n := len(params)
	arr := (*[1 << 16]*C.char)(C.malloc(C.size_t(n+1) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	for i, p := range params {
		arr[i] = C.CString(p)
	}
	defer func() {
		for i := 0; i < n; i++ {
			C.free(unsafe.Pointer(arr[i]))
		}
		C.free(unsafe.Pointer(arr))
	}()
	var value *C.char
	var err [512]C.char
	rc := C.exec(c.client, csql, C.int(n), (**C.char)(unsafe.Pointer(arr)), C.int64_t(timeout.Microseconds()),
		&value, &err[0], C.size_t(len(err)))
	if rc != 0 {
		return "", &Error{int(rc), C.GoString(&err[0])}
	}
	defer C.free(unsafe.Pointer(value))
	return C.GoString(value), nil
}

func main() {
	primary := flag.String("primary", os.Getenv("ALCHDB_TEST_PRIMARY"), "libpq conninfo of the primary")
	replica := flag.String("replica", os.Getenv("ALCHDB_TEST_REPLICA"), "libpq conninfo of a streaming replica")
	workers := flag.Int("goroutines", 16, "goroutines")
	each := flag.Int("queries", 200, "queries per goroutine")
	flag.Parse()

	db, err := Open(*primary, *replica)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	defer db.Close()
	fmt.Printf("libalchdb %s\n", C.GoString(C.alchdb_version_string()))

	for _, sql := range []string{
		"CREATE TABLE IF NOT EXISTS go_items (id int PRIMARY KEY, qty int NOT NULL)",
		"TRUNCATE go_items",
	} {
		if _, err := db.Query(5*time.Second, sql); err != nil {
			fmt.Fprintln(os.Stderr, sql, err)
			os.Exit(1)
		}
	}

	// Each goroutine owns one row: it writes it, then reads it back many times
	// (reads may come from a replica or the cache; a write invalidates).
	var wg sync.WaitGroup
	var behind int64
	failures := make(chan string, *workers)
	start := time.Now()
	for g := 0; g < *workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			id := strconv.Itoa(g)
			for i := 0; i < *each; i++ {
				qty := strconv.Itoa(i / 50)
				if i%50 == 0 {
					if _, err := db.Query(2*time.Second,
						"INSERT INTO go_items VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET qty = $2",
						id, qty); err != nil {
						failures <- fmt.Sprintf("goroutine %d write: %v", g, err)
						return
					}
				}
				got, err := db.Query(2*time.Second, "SELECT qty FROM go_items WHERE id = $1", id)
				if err != nil {
					failures <- fmt.Sprintf("goroutine %d read: %v", g, err)
					return
				}
				if got != qty {
					// A replica may not have replayed the write yet: the router
					// promises read-your-writes only to calls with a token.
					atomic.AddInt64(&behind, 1)
				}
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	bad := 0
	for f := range failures {
		fmt.Fprintln(os.Stderr, f)
		bad++
	}
	fmt.Printf("%d goroutines x %d queries in %.2fs, %d failed, %d reads behind a write\n", *workers, *each,
		time.Since(start).Seconds(), bad, behind)

	// A statement slower than its deadline stops on time.
	t0 := time.Now()
	_, err = db.Query(200*time.Millisecond, "SELECT pg_sleep(5)")
	if e, ok := err.(*Error); !ok || e.Code != int(C.ALCHDB_E_TIMEOUT) {
		fmt.Fprintln(os.Stderr, "expected a timeout, got", err)
		os.Exit(1)
	}
	fmt.Printf("deadline: timed out after %dms\n", time.Since(t0).Milliseconds())

	sum, err := db.Query(2*time.Second, "SELECT sum(qty) FROM go_items")
	if err != nil || bad > 0 {
		fmt.Fprintln(os.Stderr, "final:", err)
		os.Exit(1)
	}
	fmt.Printf("sum of qty: %s\n", sum)
}
