"""Concurrency: many writers on one namespace lose nothing; conditional writes racing on one
document behave like compare-and-set (no lost update, no double apply)."""
from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import turbopuffer

from conftest import make_client, unique_ns
from e2e_util import check_write_response, fetch_all, rows_of

THREADS = 16
BATCHES = 8
BATCH = 10


def test_concurrent_upserts_all_present(base_url):
    name = unique_ns("conc")
    errors: list[str] = []

    def worker(t: int):
        ns = make_client(base_url, max_retries=4).namespace(name)
        for b in range(BATCHES):
            rows = [{"id": t * 10_000 + b * 100 + j, "t": t, "b": b, "j": j} for j in range(BATCH)]
            try:
                check_write_response(ns.write(upsert_rows=rows), rows_affected=BATCH)
            except Exception as e:  # noqa: BLE001
                errors.append(f"thread {t} batch {b}: {type(e).__name__}: {e}")
                return

    with ThreadPoolExecutor(THREADS) as ex:
        list(ex.map(worker, range(THREADS)))
    assert not errors, "concurrent writes failed:\n" + "\n".join(errors[:10])
    docs = fetch_all(make_client(base_url).namespace(name), include_attributes=["t", "b", "j"])
    want = {t * 10_000 + b * 100 + j: (t, b, j) for t in range(THREADS) for b in range(BATCHES) for j in range(BATCH)}
    missing = sorted(set(want) - set(docs))
    assert not missing, f"{len(missing)} acknowledged rows missing, e.g. {missing[:10]}"
    assert set(docs) == set(want)
    bad = [i for i, r in docs.items() if (r["t"], r["b"], r["j"]) != want[i]]
    assert not bad, f"rows with wrong attributes: {bad[:10]}"
    md = make_client(base_url).namespace(name).metadata()
    assert md.approx_row_count == len(want)


def test_concurrent_upserts_same_ids_last_writer_consistent(base_url):
    """Writers overwrite the same ids; every document ends up as one writer's complete version."""
    name = unique_ns("overwrite")
    ids = list(range(30))

    def worker(t: int):
        ns = make_client(base_url, max_retries=4).namespace(name)
        for r in range(5):
            ns.write(upsert_rows=[{"id": i, "writer": t, "round": r, "check": t * 1000 + r} for i in ids])

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(worker, range(8)))
    docs = fetch_all(make_client(base_url).namespace(name), include_attributes=True)
    assert sorted(docs) == ids
    for i, row in docs.items():
        assert row["check"] == row["writer"] * 1000 + row["round"], f"torn document {i}: {row}"


def test_conditional_compare_and_set_counter(base_url):
    """Each thread reads the counter and upserts counter+1 only if it is still the value read.
    Successful CAS operations must equal the final counter (no lost updates, no double applies)."""
    name = unique_ns("cas")
    setup = make_client(base_url).namespace(name)
    setup.write(upsert_rows=[{"id": 1, "counter": 0}])
    successes = []
    lock = threading.Lock()

    def worker(t: int):
        ns = make_client(base_url, max_retries=0).namespace(name)
        mine = 0
        for _ in range(10):
            cur = rows_of(ns.query(filters=("id", "Eq", 1), include_attributes=["counter"]))[0]["counter"]
            try:
                resp = ns.write(upsert_rows=[{"id": 1, "counter": cur + 1}], upsert_condition=("counter", "Eq", cur))
            except turbopuffer.ConflictError:
                continue  # lost the race at commit time: not applied
            except turbopuffer.RateLimitError:
                continue
            if (resp.rows_upserted if resp.rows_upserted is not None else resp.rows_affected) == 1:
                mine += 1
        with lock:
            successes.append(mine)

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(worker, range(8)))
    final = rows_of(setup.query(filters=("id", "Eq", 1), include_attributes=["counter"]))[0]["counter"]
    assert final == sum(successes), f"final counter {final} != successful conditional writes {sum(successes)} ({successes})"
    assert final >= 1


def test_conditional_version_race_keeps_max(base_url):
    """Racing `upsert_condition: v < $ref_new.v` writes must leave the largest version."""
    name = unique_ns("vrace")
    make_client(base_url).namespace(name).write(upsert_rows=[{"id": 7, "v": 0, "by": -1}])
    versions = list(range(1, 161))
    random.Random(9).shuffle(versions)
    chunks = [versions[i::16] for i in range(16)]
    errors: list[str] = []
    conflicted: set[int] = set()

    def worker(t: int):
        ns = make_client(base_url, max_retries=5).namespace(name)
        for v in chunks[t]:
            try:
                ns.write(upsert_rows=[{"id": 7, "v": v, "by": t}], upsert_condition=("v", "Lt", {"$ref_new": "v"}))
            except turbopuffer.ConflictError:
                conflicted.add(v)  # answered 409 = not applied
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    with ThreadPoolExecutor(16) as ex:
        list(ex.map(worker, range(16)))
    assert not errors, errors[:5]
    row = rows_of(make_client(base_url).namespace(name).query(filters=("id", "Eq", 7), include_attributes=["v", "by"]))[0]
    # The largest version not answered 409 saw a smaller stored v when it committed, so it was
    # applied, and no later write can pass `v < $ref_new.v` against it.
    want = max(v for v in versions if v not in conflicted)
    assert row["v"] == want, f"version race ended at v={row['v']}, expected {want} ({len(conflicted)} writes got 409)"
    assert row["by"] == next(t for t in range(16) if row["v"] in chunks[t]), f"v and by come from one write: {row}"


def test_concurrent_readers_and_writers(base_url):
    """Queries running during writes always see a prefix of acknowledged batches (never a torn batch)."""
    name = unique_ns("rw")
    writer_ns = make_client(base_url).namespace(name)
    writer_ns.write(upsert_rows=[{"id": 0, "batch": -1}])
    stop = threading.Event()
    problems = []

    def reader():
        ns = make_client(base_url).namespace(name)
        while not stop.is_set():
            rows = rows_of(ns.query(top_k=1000, include_attributes=["batch"]))
            counts: dict[int, int] = {}
            for r in rows:
                counts[r["batch"]] = counts.get(r["batch"], 0) + 1
            torn = {b: c for b, c in counts.items() if b >= 0 and c != 10}
            if torn:
                problems.append(f"torn batches visible: {torn}")
                return

    readers = [threading.Thread(target=reader, daemon=True) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for b in range(40):
            writer_ns.write(upsert_rows=[{"id": 1 + b * 10 + j, "batch": b} for j in range(10)])
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=60)
    assert not problems, problems[:3]
