#!/usr/bin/env python3
"""An explicit-state model of the query cache's freshness protocol.

It explores every interleaving of small scenarios — writers and readers in
several processes sharing one Redis, one PostgreSQL primary and a streaming
replica that replays at its own pace — together with the faults the protocol
must survive: a bump lost after its commit, a writer that dies between commit
and bump, Redis restarted empty or from an older snapshot, a Redis read that
fails. After every read it checks the claim of docs/cache.md:

    no read returns a value older than a write committed before it began.

Each step is named after the function of lib/cache that implements it
(mark_in_flight, mark_ahead, finish_write/bump, h_lookup/fetch, init,
route_miss, resolve_unknown, fill, route_bypass, handshake/gen, ensure_clean,
...), so the model can be kept in step with the code; docs/cache.md says how.

Each fix of the protocol is a switch (PROTOCOL below). With all of them on,
no scenario has a counterexample; with one of them off, the scenario made for
it must have one, which is printed as a trace. `freshness.py` runs all of
that and exits non-zero when an expectation fails; `freshness.py --trace
NAME` prints the shortest counterexample of one scenario with its switch off.

The model is small on purpose: one item (a row, or a table: its version key
K) whose value is the number of committed writes, the namespace epoch E, one
cached query reading the item. Positions are write counts (the LSN of write
n is n); the replica has replayed `rep` of them.
"""

import collections
import sys
import time

# ---- the protocol's switches ---------------------------------------------------

FIXES = {
    # (8a) bump merges positions (max; unknown stays unknown) instead of
    # overwriting with the bumping writer's position.
    "positions_forward": True,
    # (8c) a write marks K in Redis before it can commit; readers of every
    # process treat a pending key as a write in flight (primary, no fill);
    # a mark whose bump never comes expires into an absent key.
    "write_marks": True,
    # a mark that expired (its writer died) while other marks kept the key
    # pending makes the key's position unknown: the dead write may have
    # committed past every position the others bring.
    "expired_marks_unknown": True,
    # (8b) every new connection compares the namespace's generation key with
    # the server's run id and replaces the epoch when they differ.
    "generation_check": True,
    # (3) a read the cache does not answer is routed by the positions of
    # what it reads (or to the primary), not to any replica.
    "route_bypasses": True,
}

# ---- immutable state -------------------------------------------------------------

Tok = collections.namedtuple("Tok", "id pos pending")  # pos: int or "u"
Redis = collections.namedtuple("Redis", "run E K marks entry gen snapshot")
# entry: (value, E id, K id) or None; marks: frozenset of writer names (on K;
# the epoch is never marked in these scenarios); snapshot: (E, K, marks,
# entry, gen) or None.
Proc = collections.namedtuple("Proc", "conn failure_seen connected_once known_run dirty inflight")
Writer = collections.namedtuple("Writer", "name proc pc lsn refused")
Reader = collections.namedtuple("Reader", "name proc pc kind left floor route need expE expK fill value")
State = collections.namedtuple("State", "commits rep returned refused redis procs actors faults next_id")
# refused: positions of commits whose mark Redis refused; such a write is
# covered from the return of its commit call (the bump), not from its commit.

U = "u"


class Counterexample(Exception):
    pass


def fresh(s, pos, pending=False):
    """A new token (ids are never reused: no ABA)."""
    return Tok(s.next_id, pos, pending), s._replace(next_id=s.next_id + 1)


def merge(cur, pos, fx):
    """The position a bump stores over cur (alchdb__cache_ver_merge, BUMP_LUA)."""
    if not fx["positions_forward"]:
        return pos
    if cur is None or cur.pos == U or pos == U:
        return U
    return max(cur.pos, pos)


def set_proc(s, p, **kw):
    procs = list(s.procs)
    procs[p] = procs[p]._replace(**kw)
    return s._replace(procs=tuple(procs))


def set_actor(s, i, a):
    actors = list(s.actors)
    actors[i] = a
    return s._replace(actors=tuple(actors))


def set_redis(s, **kw):
    return s._replace(redis=s.redis._replace(**kw))


# ---- Redis as one process sees it (redis.c) --------------------------------------


def bump_epoch(s):
    """ensure_clean / the generation check: a new epoch of unknown position."""
    tok, s = fresh(s, U)
    return set_redis(s, E=tok)


def session(s, p, fx, may_fail):
    """sess_begin: reconnect when needed (conn_register, handshake with the
    generation check), then ensure_clean. Yields (state, ok)."""
    pr = s.procs[p]
    r = s.redis
    if pr.conn is not None and pr.conn != r.run:  # the server went away under it
        yield set_proc(s, p, conn=None, failure_seen=True), False
        return
    if pr.conn is None:
        dirty = pr.dirty or (pr.connected_once and pr.failure_seen)  # a reconnect after a failure
        if fx["generation_check"]:
            if r.gen != r.run:  # handshake: 'gen' of VERSIONS_LUA
                s = bump_epoch(s)
                s = set_redis(s, gen=r.run)
        elif pr.connected_once and pr.known_run != r.run:  # only a restart this process saw
            dirty = True
        s = set_proc(s, p, conn=r.run, known_run=r.run, connected_once=True, failure_seen=False, dirty=dirty)
    if s.procs[p].dirty:  # ensure_clean, before any operation
        s = set_proc(bump_epoch(s), p, dirty=False)
    if may_fail and s.faults.get("op", 0) > 0:  # this operation's reply is lost
        yield s._replace(faults=dict_dec(s.faults, "op")), False
    yield s, True


def dict_dec(d, k):
    d = dict(d)
    d[k] -= 1
    return FrozenDict(d)


class FrozenDict(dict):
    def __hash__(self):
        return hash(tuple(sorted(self.items())))

    def __setitem__(self, *a):
        raise TypeError("frozen")


def pending(t):
    return t is not None and t.pending


# ---- writers (hooks.c: lookup_write, mark_ahead, finish_write) -------------------


def writer_steps(s, i, fx):
    w = s.actors[i]
    p = w.proc
    if w.pc == "begin":  # mark_in_flight: this process's in-flight marks
        yield "mark_in_flight", set_actor(set_proc(s, p, inflight=s.procs[p].inflight + 1), i, w._replace(pc="mark"))
    elif w.pc == "mark":  # mark_ahead -> alchdb__cache_mark -> VERSIONS_LUA 'mark'
        if not fx["write_marks"]:
            yield "mark_ahead (off)", set_actor(s, i, w._replace(pc="commit"))
            return
        for s2, ok in session(s, p, fx, may_fail=True):
            if ok:
                k = s2.redis.K
                tok, s2 = fresh(s2, k.pos if k else U, pending=True)
                s2 = set_redis(s2, K=tok, marks=s2.redis.marks | {w.name})
            yield "mark_ahead" + ("" if ok else " refused"), set_actor(s2, i, w._replace(pc="commit", refused=not ok))
    elif w.pc == "commit":  # the statement or COMMIT; h_before_release reads its position
        s2 = s._replace(commits=s.commits + 1)
        if w.refused:
            s2 = s2._replace(refused=s2.refused | {s2.commits})
        yield "commit", set_actor(s2, i, w._replace(pc="bump", lsn=s2.commits))
        if s.faults.get("crash", 0) > 0:  # the process dies after the commit, before the bump
            s3 = set_actor(s2, i, w._replace(pc="dead", lsn=s2.commits))
            for j, b in enumerate(s3.actors):
                if b.proc == p and b.pc != "done":
                    s3 = set_actor(s3, j, b._replace(pc="dead"))
            yield "commit, then the process dies", s3._replace(faults=dict_dec(s3.faults, "crash"))
    elif w.pc == "bump":  # finish_write -> alchdb__cache_bump -> VERSIONS_LUA 'bump'
        for s2, ok in session(s, p, fx, may_fail=True):
            if ok:
                r = s2.redis
                marks = r.marks - {w.name}
                tok, s2 = fresh(s2, merge(r.K, w.lsn, fx), pending=bool(marks))
                s2 = set_redis(s2, K=tok, marks=marks)
            else:  # mark_dirty: an invalidation may have been lost
                s2 = set_proc(s2, p, dirty=True)
            yield "finish_write: bump" + ("" if ok else " lost"), set_actor(s2, i, w._replace(pc="end"))
    elif w.pc == "end":  # unmark_in_flight; the commit call returns
        s2 = set_proc(s, p, inflight=s.procs[p].inflight - 1)
        s2 = s2._replace(returned=max(s2.returned, w.lsn))
        yield "unmark_in_flight, commit returns", set_actor(s2, i, w._replace(pc="done"))


# ---- readers (hooks.c: h_lookup, fill; route.c) ----------------------------------


def reader_steps(s, i, fx, strong):
    a = s.actors[i]
    p = a.proc
    if a.pc == "begin":
        floor = s.returned
        if strong:
            floor = max([floor] + [n for n in range(1, s.commits + 1) if n not in s.refused])
        route = None
        if a.kind == "bypass":  # e.g. ALCHDB_CACHE_SKIP: not looked up; tables named
            pc = "peek"
        elif s.procs[p].inflight > 0:  # alchdb__cache_inflight_any: write_in_flight
            pc = "peek"
        else:
            pc = "fetch"
        yield "begin read", set_actor(s, i, a._replace(pc=pc, floor=floor, route=route, fill=False))
    elif a.pc == "peek":  # bypass_read -> alchdb__cache_route_bypass
        if not fx["route_bypasses"]:
            yield "route_bypass (off): any replica", set_actor(s, i, a._replace(pc="query", route="any"))
            return
        for s2, ok in session(s, p, fx, may_fail=True):
            r = s2.redis
            if not ok or r.E is None or r.K is None or r.E.pos == U or r.K.pos == U or pending(r.E) or pending(r.K):
                yield "route_bypass: primary", set_actor(s2, i, a._replace(pc="query", route="primary"))
            else:
                need = max(r.E.pos, r.K.pos)
                yield "route_bypass: positions", set_actor(s2, i, a._replace(pc="query", route="need", need=need))
    elif a.pc == "fetch":  # h_lookup: MGET entry, E, K
        for s2, ok in session(s, p, fx, may_fail=True):
            r = s2.redis
            if not ok:  # backend bypass
                route = "primary" if fx["route_bypasses"] else "any"
                yield "h_lookup: fetch failed (backend)", set_actor(s2, i, a._replace(pc="query", route=route))
            elif fx["write_marks"] and (pending(r.E) or pending(r.K)):
                yield "h_lookup: pending (write_in_flight)", set_actor(s2, i, a._replace(pc="query", route="primary"))
            elif r.entry and r.E and r.K and r.entry[1:] == (r.E.id, r.K.id):
                yield "h_lookup: hit", set_actor(s2, i, a._replace(pc="return", value=r.entry[0]))
            elif r.E is None or r.K is None:
                yield "h_lookup: miss", set_actor(s2, i, a._replace(pc="init"))
            else:
                yield "h_lookup: miss", set_actor(s2, i, a._replace(pc="steer", expE=r.E, expK=r.K, fill=True))
    elif a.pc == "init":  # h_lookup: SET NX absent keys, MGET
        for s2, ok in session(s, p, fx, may_fail=False):
            if not ok:  # no tokens: no fill, and route_miss sends it to the primary
                yield "h_lookup: init failed", set_actor(s2, i, a._replace(pc="query", route="primary"))
                continue
            r = s2.redis
            if r.E is None:
                tok, s2 = fresh(s2, U)
                s2 = set_redis(s2, E=tok)
            if s2.redis.K is None:
                tok, s2 = fresh(s2, U)
                s2 = set_redis(s2, K=tok)
            r = s2.redis
            fill = not (pending(r.E) or pending(r.K))
            yield "h_lookup: init", set_actor(s2, i, a._replace(pc="steer", expE=r.E, expK=r.K, fill=fill))
    elif a.pc == "steer":  # alchdb__cache_route_miss
        e, k = a.expE, a.expK
        if pending(e) or pending(k):
            yield "route_miss: primary", set_actor(s, i, a._replace(pc="query", route="primary"))
        elif e.pos == U or k.pos == U:  # resolve_unknown: the primary's position first
            yield "route_miss: primary_position", set_actor(s, i, a._replace(pc="resolve", need=s.commits))
        else:
            need = max(e.pos, k.pos)
            yield "route_miss: positions", set_actor(s, i, a._replace(pc="query", route="need", need=need))
    elif a.pc == "resolve":  # resolve_unknown: compare-and-set of each unknown token
        for s2, ok in session(s, p, fx, may_fail=False):
            r = s2.redis
            e, k = a.expE, a.expK
            if not ok or r.E != e or r.K != k:  # moved meanwhile (or unreachable): the primary, no fill
                yield "resolve_unknown: cas failed", set_actor(s2, i, a._replace(pc="query", route="primary",
                                                                                   fill=False))
                continue
            if e.pos == U:
                e, s2 = fresh(s2, a.need)
                s2 = set_redis(s2, E=e)
            if k.pos == U:
                k, s2 = fresh(s2, a.need)
                s2 = set_redis(s2, K=k)
            need = max(e.pos, k.pos)
            yield "resolve_unknown: cas", set_actor(s2, i, a._replace(pc="query", route="need", need=need,
                                                                        expE=e, expK=k))
    elif a.pc == "query":  # the router: a replica that replayed need, else the primary
        nxt = "fill" if a.fill else "return"
        if a.route == "primary":
            yield "query (primary)", set_actor(s, i, a._replace(pc=nxt, value=s.commits))
            return
        # The replica has replayed anything from what it had to every commit
        # by now (replay runs at its own pace: every amount is explored here).
        for rep in range(s.rep, s.commits + 1):
            s2 = s._replace(rep=rep)
            if a.route == "any" or rep >= a.need:
                yield "query (replica at %d)" % rep, set_actor(s2, i, a._replace(pc=nxt, value=rep))
            else:
                yield "query (primary: replica at %d)" % rep, set_actor(s2, i, a._replace(pc=nxt, value=s.commits))
    elif a.pc == "fill":  # fill: check-and-set (FILL_LUA)
        for s2, ok in session(s, p, fx, may_fail=False):
            r = s2.redis
            if ok and r.E == a.expE and r.K == a.expK and not pending(r.E) and not pending(r.K):
                s2 = set_redis(s2, entry=(a.value, r.E.id, r.K.id))
                yield "fill: stored", set_actor(s2, i, a._replace(pc="return"))
            else:
                yield "fill: refused", set_actor(s2, i, a._replace(pc="return"))
    elif a.pc == "return":
        if a.value < a.floor:
            raise Counterexample("%s returned %d, but %d write(s) had committed before it began"
                                 % (a.name, a.value, a.floor))
        left = a.left - 1
        yield "return %d" % a.value, set_actor(s, i, a._replace(pc="begin" if left else "done", left=left))


# ---- the world: replication and faults -------------------------------------------


def world_steps(s, fx):
    r = s.redis
    if s.faults.get("restart", 0) > 0:  # redisctl restart: empty, a new run id
        s2 = set_redis(s, run=r.run + 1, E=None, K=None, marks=frozenset(), entry=None, gen=None)
        yield "redis restarts empty", s2._replace(faults=dict_dec(s2.faults, "restart"))
    if s.faults.get("snapshot", 0) > 0 and r.snapshot is None:  # redisctl save
        yield "redis snapshot", set_redis(s, snapshot=(r.E, r.K, r.marks, r.entry, r.gen))
    if r.snapshot is not None and s.faults.get("from_snapshot", 0) > 0:  # kill + start: the older state
        E, K, marks, entry, gen = r.snapshot
        s2 = set_redis(s, run=r.run + 1, E=E, K=K, marks=marks, entry=entry, gen=gen)
        yield "redis restarts from the snapshot", s2._replace(faults=dict_dec(s2.faults, "from_snapshot"))
    for a in s.actors:  # a dead writer's mark expires (write_mark_ttl)
        if isinstance(a, Writer) and a.pc == "dead" and a.name in r.marks:
            marks = r.marks - {a.name}
            if not marks:  # the key expires with its last mark
                K = r.K if not pending(r.K) else None
            elif fx["expired_marks_unknown"]:  # found by the next mark or bump of the key
                K = r.K._replace(pos=U)
            else:
                K = r.K
            yield "mark of %s expires" % a.name, set_redis(s, marks=marks, K=K)


def successors(s, fx, strong):
    for i, a in enumerate(s.actors):
        steps = writer_steps(s, i, fx) if isinstance(a, Writer) else reader_steps(s, i, fx, strong)
        for label, s2 in steps:
            yield "%s: %s" % (a.name, label), s2
    for label, s2 in world_steps(s, fx):
        yield label, s2


def canon(s):
    """Tokens are compared only for equality: number their ids in order of
    appearance, so states that differ only in id values are one state."""
    ids = {}

    def n(i):
        if i not in ids:
            ids[i] = len(ids) + 1
        return ids[i]

    def t(tok):
        return tok._replace(id=n(tok.id)) if tok is not None else None

    def entry(e):
        return (e[0], n(e[1]), n(e[2])) if e is not None else None

    r = s.redis
    E, K, ent = t(r.E), t(r.K), entry(r.entry)
    snap = r.snapshot
    if snap is not None:
        snap = (t(snap[0]), t(snap[1]), snap[2], entry(snap[3]), snap[4])
    actors = tuple(a._replace(expE=t(a.expE), expK=t(a.expK)) if isinstance(a, Reader) else a for a in s.actors)
    return s._replace(redis=r._replace(E=E, K=K, entry=ent, snapshot=snap), actors=actors, next_id=len(ids) + 1)


def explore(initial, fx, strong, limit=4_000_000):
    """Breadth first over every interleaving; returns (states, None) or
    (states, trace) for the shortest counterexample."""
    initial = canon(initial)
    seen = {initial: None}
    queue = collections.deque([initial])
    while queue:
        s = queue.popleft()
        try:
            succ = list(successors(s, fx, strong))
        except Counterexample as e:
            trace = [str(e)]
            while seen[s] is not None:
                s, label = seen[s]
                trace.append(label)
            return len(seen), list(reversed(trace))
        for label, s2 in succ:
            s2 = canon(s2)
            if s2 not in seen:
                seen[s2] = (s, label)
                queue.append(s2)
                if len(seen) > limit:
                    raise RuntimeError("state space over %d states: make the scenario smaller" % limit)
    return len(seen), None


# ---- scenarios --------------------------------------------------------------------


def world(procs, actors, faults, warm=True, new_procs=()):
    """Processes 0..procs-1 connected, but new_procs (started later); the
    item cached at value 0 when warm."""
    s = State(commits=0, rep=0, returned=0, refused=frozenset(),
              redis=Redis(run=1, E=None, K=None, marks=frozenset(), entry=None, gen=None, snapshot=None),
              procs=tuple(Proc(None, False, False, None, False, 0) for _ in range(procs)),
              actors=tuple(actors), faults=FrozenDict(faults), next_id=1)
    if warm:  # a reader filled the entry before the scenario starts; everyone connected
        s = set_redis(s, E=Tok(1, 0, False), K=Tok(2, 0, False), entry=(0, 1, 2), gen=1)
        s = s._replace(next_id=3, procs=tuple(Proc(None, False, False, None, False, 0) if p in new_procs
                                              else Proc(1, False, True, 1, False, 0) for p in range(procs)))
    return s


def W(name, proc):
    return Writer(name, proc, "begin", 0, False)


def R(name, proc, kind="cached", reads=1):
    return Reader(name, proc, "begin", kind, reads, 0, None, 0, None, None, False, 0)


# Each scenario: the fix it is for (None: the whole protocol), a builder,
# and whether the invariant counts writes from their commit (strong) or from
# the return of their commit call (the contract of docs/cache.md).
SCENARIOS = {
    # (8a) two writers bump out of commit order; a later miss may use a
    # replica that replayed only the earlier commit.
    "positions": ("positions_forward", lambda: world(3, [W("w1", 0), W("w2", 1), R("r", 2, reads=2)], {}), False),
    # (8c) a bump is lost after its commit; another process kept its
    # connection and has the entry.
    "lost-bump": ("write_marks", lambda: world(2, [W("w", 0), R("r", 1, reads=2)], {"op": 1}), False),
    # a writer dies between commit and bump.
    "writer-dies": ("write_marks", lambda: world(2, [W("w", 0), R("r", 1, reads=2)], {"crash": 1}), True),
    # (8b) Redis comes back from a snapshot older than a write, to a process
    # that never talked to it before.
    "older-snapshot": ("generation_check", lambda: world(
        2, [W("w", 0), R("r", 1)], {"snapshot": 1, "from_snapshot": 1}, new_procs=(1,)), False),
    # (3) a read that bypasses the cache right after a write.
    "bypass": ("route_bypasses", lambda: world(2, [W("w", 0), R("r", 1, kind="bypass")], {}), False),
    # a writer dies while another writer of the same key is in flight; the
    # survivor's bump must not hide the dead one's commit.
    "dies-beside-another": ("expired_marks_unknown", lambda: world(
        3, [W("w1", 0), W("w2", 1), R("r", 2)], {"crash": 1}), True),
    # Everything at once, strong invariant: three processes, a lost
    # operation and a dying process available; then Redis restarts.
    "all": (None, lambda: world(3, [W("w1", 0), W("w2", 1), R("r", 2, reads=2)], {"op": 1, "crash": 1}), True),
    "all-restarts": (None, lambda: world(2, [W("w", 0), R("r", 1, reads=2)],
                                         {"restart": 1, "snapshot": 1, "from_snapshot": 1, "op": 1}), True),
}

# The limit docs/cache.md states: a writer that cannot reach Redis before its
# write (the mark is refused) nor after it (the bump is lost) cannot tell the
# other processes; they may serve the old entry until the writer reaches
# Redis again or the entry expires. Expected to have a counterexample.
LIMITS = {
    "mark-and-bump-lost": lambda: world(2, [W("w", 0), R("r", 1, reads=2)], {"op": 2}),
}

# Bigger ones for a long run (`freshness.py --big`, minutes): four actors.
BIG = {
    "all-4": (None, lambda: world(3, [W("w1", 0), W("w2", 1), R("r1", 1), R("r2", 2, reads=2)],
                                  {"op": 1, "crash": 1}), True),
    "all-restarts-4": (None, lambda: world(2, [W("w", 0), R("r1", 0), R("r2", 1, reads=2)],
                                           {"restart": 1, "snapshot": 1, "from_snapshot": 1}), True),
}


def run(name, fix_off=None):
    fix, build, strong = SCENARIOS[name]
    fx = dict(FIXES)
    if fix_off:
        fx[fix_off] = False
    t0 = time.time()
    n, trace = explore(build(), fx, strong)
    return n, trace, time.time() - t0


def main(argv):
    if argv and argv[0] == "--big":
        SCENARIOS.update(BIG)
        argv = argv[1:]
    if len(argv) >= 2 and argv[0] == "--trace" and argv[1] in LIMITS:
        n, trace = explore(LIMITS[argv[1]](), dict(FIXES), False)
        print("%s, the protocol as built: %d states" % (argv[1], n))
        print("\n".join("  " + t for t in trace) if trace else "  no counterexample")
        return 0
    if len(argv) >= 2 and argv[0] == "--trace":
        name = argv[1]
        if name not in SCENARIOS or not SCENARIOS[name][0]:
            print("--trace: one of %s" % ", ".join(sorted(k for k, v in SCENARIOS.items() if v[0]) + list(LIMITS)))
            return 2
        n, trace, secs = run(name, SCENARIOS[name][0])
        print("%s with %s off: %d states, %.2f s" % (name, SCENARIOS[name][0], n, secs))
        print("\n".join("  " + t for t in trace) if trace else "  no counterexample")
        return 0 if trace else 1
    failures = 0
    for name, (fix, _, strong) in SCENARIOS.items():
        n, trace, secs = run(name)
        ok = trace is None
        failures += not ok
        print("%-18s protocol as built: %7d states, %5.2f s, %s" % (
            name, n, secs, "no counterexample" if ok else "COUNTEREXAMPLE"))
        if not ok:
            print("\n".join("    " + t for t in trace))
        if fix:
            n, trace, secs = run(name, fix)
            found = trace is not None
            failures += not found
            print("%-18s without %-19s %7d states, %5.2f s, %s" % (
                "", fix + ":", n, secs, "counterexample found (%d steps)" % (len(trace) - 1) if found
                else "NO COUNTEREXAMPLE: the scenario does not test its fix"))
    for name, build in LIMITS.items():
        t0 = time.time()
        n, trace = explore(build(), dict(FIXES), False)
        found = trace is not None
        failures += not found
        print("%-18s protocol as built: %7d states, %5.2f s, %s" % (
            name, n, time.time() - t0, "counterexample, the documented limit (%d steps)" % (len(trace) - 1)
            if found else "NO COUNTEREXAMPLE: the documented limit is not what the model says"))
    print("%d expectation(s) failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
