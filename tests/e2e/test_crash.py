"""Crash durability: writers stream batches, the server gets `kill -9` mid-stream, a new server
starts on the same root. Every acknowledged batch must be present with its exact attributes and
vectors; a batch in flight at the kill is all-or-nothing; nothing that was never sent appears."""
from __future__ import annotations

import os
import random
import threading
import time

import pytest
import turbopuffer

from conftest import make_client
from e2e_util import decode_vector, fetch_all

THREADS = 4
BATCH = 25
ROUNDS = int(os.environ.get("LAGOON_E2E_CRASH_ROUNDS", "2"))
NS = "crash-e2e"
FIELDS = ["t", "b", "j", "payload", "vector"]


def doc_id(t: int, b: int, j: int) -> int:
    return t * 1_000_000 + b * 1_000 + j


def split_id(i: int) -> tuple[int, int, int]:
    return i // 1_000_000, (i // 1_000) % 1_000, i % 1_000


def expected_doc(t: int, b: int, j: int) -> dict:
    i = doc_id(t, b, j)
    return {
        "t": t,
        "b": b,
        "j": j,
        "payload": f"t{t}-b{b}-j{j}-" + "x" * (j % 7),
        # exactly representable in f32, and the first element is a float → sent as base64
        "vector": [float(i % 97), float(i % 89) + 0.5, 1.0, -float(j)],
    }


def batch_rows(t: int, b: int) -> list[dict]:
    return [{"id": doc_id(t, b, j), **expected_doc(t, b, j)} for j in range(BATCH)]


class Writer(threading.Thread):
    def __init__(self, url: str, t: int, first_batch: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.client = make_client(url, max_retries=0, timeout=15)
        self.t = t
        self.b = first_batch
        self.stop_ev = stop
        self.acked: list[int] = []
        self.unknown: list[int] = []  # sent, outcome unknown (server died)
        self.first_batch = first_batch

    def run(self):
        ns = self.client.namespace(NS)
        while not self.stop_ev.is_set() and self.b < 1000:
            b = self.b
            self.b += 1
            try:
                resp = ns.write(upsert_rows=batch_rows(self.t, b), distance_metric="euclidean_squared")
            except turbopuffer.APIStatusError as e:
                if e.status_code in (409, 429, 503):
                    # transient: the batch was not written; make that visible and move on
                    self.unknown.append(b)
                    continue
                self.unknown.append(b)
                return
            except Exception:  # connection refused / reset: the server is gone
                self.unknown.append(b)
                return
            if resp.status == "OK":
                self.acked.append(b)
            else:
                self.unknown.append(b)


def verify(url: str, acked: dict, unknown: dict, sent_max: dict) -> None:
    ns = make_client(url).namespace(NS)
    docs = fetch_all(ns, include_attributes=FIELDS)
    by_batch: dict[tuple[int, int], dict] = {}
    for i, row in docs.items():
        t, b, j = split_id(i)
        by_batch.setdefault((t, b), {})[j] = row
    problems = []
    for (t, b), rows in sorted(by_batch.items()):
        if b > sent_max.get(t, -1):
            problems.append(f"batch t{t}/b{b} was never sent but {len(rows)} rows exist")
            continue
        if len(rows) != BATCH:
            problems.append(f"batch t{t}/b{b} is partially visible: {len(rows)}/{BATCH} rows (must be all-or-nothing)")
        for j, row in rows.items():
            want = expected_doc(t, b, j)
            got = {k: row.get(k) for k in FIELDS}
            if got.get("vector") is not None:
                got["vector"] = decode_vector(got["vector"])
            if got != want:
                problems.append(f"doc {doc_id(t, b, j)} differs: got {got}, want {want}")
                break
    for t, bs in acked.items():
        for b in bs:
            if (t, b) not in by_batch:
                problems.append(f"acknowledged batch t{t}/b{b} is missing after restart")
    assert not problems, "crash durability violated:\n  " + "\n  ".join(problems[:30])


def test_kill9_mid_stream_keeps_acknowledged_batches(fresh_server):
    srv = fresh_server
    acked: dict[int, list[int]] = {t: [] for t in range(THREADS)}
    unknown: dict[int, list[int]] = {t: [] for t in range(THREADS)}
    sent_max: dict[int, int] = {t: -1 for t in range(THREADS)}
    next_batch = {t: 0 for t in range(THREADS)}
    rng = random.Random(1234)

    for rnd in range(ROUNDS):
        stop = threading.Event()
        writers = [Writer(srv.url, t, next_batch[t], stop) for t in range(THREADS)]
        for w in writers:
            w.start()
        # let some batches land, then kill at a random moment while writes are in flight
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(len(w.acked) for w in writers) < 6 * THREADS:
            if not any(w.is_alive() for w in writers):
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        alive_at_kill = sum(w.is_alive() for w in writers)
        srv.kill()  # SIGKILL by pid
        stop.set()
        for w in writers:
            w.join(timeout=60)
            assert not w.is_alive(), "writer thread hung after the server was killed"
        for w in writers:
            acked[w.t] += w.acked
            unknown[w.t] += w.unknown
            sent_max[w.t] = max(sent_max[w.t], w.b - 1)
            next_batch[w.t] = w.b
        total_acked = sum(len(v) for v in acked.values())
        assert total_acked > 0, f"round {rnd}: no batch was acknowledged before the kill (server log:\n{srv.log_tail()})"
        if alive_at_kill == 0:
            pytest.fail(f"round {rnd}: all writers had stopped before the kill; acked={acked} unknown={unknown}\n"
                        f"server log:\n{srv.log_tail()}")

        srv.start()  # same root, new port
        verify(srv.url, acked, unknown, sent_max)


def test_kill9_after_acknowledged_mixed_writes(fresh_server):
    """Acknowledged upserts, patches and deletes all survive kill -9."""
    srv = fresh_server
    c = make_client(srv.url, max_retries=0)
    ns = c.namespace("crash-mixed")
    ns.write(upsert_rows=[{"id": i, "v": i, "vector": [float(i), 1.0]} for i in range(50)], distance_metric="cosine_distance")
    ns.write(patch_rows=[{"id": i, "v": -i} for i in range(0, 50, 5)])
    ns.write(deletes=list(range(1, 50, 7)))
    ns.write(delete_by_filter=("v", "Gt", 40))
    srv.kill()
    srv.start()
    docs = fetch_all(make_client(srv.url).namespace("crash-mixed"), include_attributes=["v"])
    want = {}
    for i in range(50):
        v = -i if i % 5 == 0 else i
        if i in range(1, 50, 7) or v > 40:
            continue
        want[i] = v
    assert {i: r["v"] for i, r in docs.items()} == want
