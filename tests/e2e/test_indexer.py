"""The embedded indexer of `lagoon serve`: documents written while it is off stay in the WAL tail
(metadata says "updating"); a server started with it on folds them into segments until metadata
says "up-to-date", and BM25, vector and filter queries answer exactly as before indexing and as
the Python oracles say, also after another restart (then read from segments, not the WAL)."""
from __future__ import annotations

import signal

import numpy as np
import pytest

from conftest import LagoonServer, LagoonWorker, backend_env, make_client, stored_keys
from e2e_util import (
    BM25Field,
    as_list,
    assert_ranked,
    cosine_distance,
    fetch_all,
    random_vectors,
    ranked_pairs,
    strip_meta,
    wait_until,
)

NS = "indexer-e2e"
WORDS = ["river", "stone", "quiet", "music", "glass", "paper", "song", "blue", "forest", "lamp"]
N = 120


def documents() -> dict:
    rng = np.random.default_rng(7)
    vecs = random_vectors(N, 8, seed=11)
    docs = {}
    for i in range(N):
        words = rng.choice(WORDS, size=int(rng.integers(2, 9)))
        docs[i] = {"text": " ".join(words), "kind": ["a", "b", "c"][i % 3], "n": int(i % 17), "vector": as_list(vecs[i])}
    return docs


def write_all(ns, docs: dict) -> dict:
    """Three batches, then an overwrite and deletes, so the tail holds several entries."""
    ids = sorted(docs)
    for part in (ids[:50], ids[50:90], ids[90:]):
        ns.write(
            upsert_rows=[{"id": i, **docs[i]} for i in part],
            distance_metric="cosine_distance",
            schema={"text": {"type": "string", "full_text_search": True}},
        )
    docs[3] = dict(docs[3], text="river river lamp", n=99)
    ns.write(upsert_rows=[{"id": 3, **docs[3]}])
    ns.write(deletes=[5, 8])
    del docs[5], docs[8]
    return docs


def answers(ns, query_vec) -> dict:
    """The queries whose answers must survive indexing and restarts."""
    return {
        "bm25": ranked_pairs(ns.query(rank_by=("text", "BM25", "river lamp"), top_k=10)),
        "knn": ranked_pairs(ns.query(rank_by=("vector", "ANN", query_vec), top_k=10)),
        "filter": sorted(fetch_all(ns, filters=("And", [("kind", "Eq", "b"), ("n", "Gte", 8)]), include_attributes=["n"])),
    }


def check_against_oracles(ns, docs: dict, query_vec) -> None:
    bm25 = BM25Field({i: d["text"] for i, d in docs.items()}).scores("river lamp")
    got = ns.query(rank_by=("text", "BM25", "river lamp"), top_k=10)
    assert_ranked(ranked_pairs(got), bm25, 10, higher_is_better=True, what="BM25")
    ids = sorted(docs)
    dist = cosine_distance(np.asarray(query_vec, dtype=np.float32), np.asarray([docs[i]["vector"] for i in ids], dtype=np.float32))
    got = ns.query(rank_by=("vector", "ANN", query_vec), top_k=10)
    assert_ranked(ranked_pairs(got), dict(zip(ids, map(float, dist))), 10, higher_is_better=False, what="vector")
    want = {i for i, d in docs.items() if d["kind"] == "b" and d["n"] >= 8}
    got = fetch_all(ns, filters=("And", [("kind", "Eq", "b"), ("n", "Gte", 8)]), include_attributes=True)
    assert set(got) == want
    for i, row in got.items():
        assert strip_meta(row) == {k: v for k, v in docs[i].items() if k != "vector"}, f"document {i}"


def index_status(ns):
    return ns.metadata().index


def test_embedded_indexer_brings_metadata_up_to_date(tmp_path):
    root, logs = tmp_path / "root", tmp_path / "logs"
    srv = LagoonServer(root, logs, {"LAGOON_SERVER__EMBEDDED_INDEXER": "false"}).start()
    try:
        ns = make_client(srv.url).namespace(NS)
        docs = write_all(ns, documents())
        query_vec = as_list(random_vectors(1, 8, seed=99)[0])
        before = answers(ns, query_vec)
        check_against_oracles(ns, docs, query_vec)
        status = index_status(ns)
        assert status.status == "updating" and status.unindexed_bytes > 0, status
    finally:
        srv.kill()

    # The indexer finds the namespace in the catalog although nothing touched it since the start.
    indexed = LagoonServer(root, logs, {"LAGOON_INDEXER__FLUSH_INTERVAL_SECS": "1"})
    indexed.starts = srv.starts
    indexed.start()
    try:
        ns = make_client(indexed.url).namespace(NS)
        wait_until(lambda: index_status(ns).status == "up-to-date", timeout=20, what="metadata index.status up-to-date")
        assert answers(ns, query_vec) == before
        check_against_oracles(ns, docs, query_vec)
        # A write after indexing is visible at once, and gets indexed too.
        ns.write(upsert_rows=[{"id": 1000, "text": "lamp lamp lamp", "kind": "b", "n": 9, "vector": query_vec}])
        assert ns.query(rank_by=("vector", "ANN", query_vec), top_k=1).rows[0].id == 1000
        wait_until(lambda: index_status(ns).status == "up-to-date", timeout=20, what="the new write to be indexed")
        docs[1000] = {"text": "lamp lamp lamp", "kind": "b", "n": 9, "vector": query_vec}
        after = answers(ns, query_vec)
        check_against_oracles(ns, docs, query_vec)

        indexed.restart()
        ns = make_client(indexed.url).namespace(NS)
        assert index_status(ns).status == "up-to-date"
        assert answers(ns, query_vec) == after
        check_against_oracles(ns, docs, query_vec)
    finally:
        indexed.kill()
    assert stored_keys(root, f"ns/{NS}/segments/"), "the indexer must have written segments"


def test_worker_process_indexes_for_a_server_without_indexer(tmp_path):
    """`lagoon worker` on the same storage indexes what a server with embedded_indexer = false wrote."""
    root = tmp_path / "root"
    srv = LagoonServer(root, tmp_path / "logs", {"LAGOON_SERVER__EMBEDDED_INDEXER": "false"}).start()
    worker = LagoonWorker(tmp_path / "worker", {**backend_env(root, tmp_path / "worker" / "cache"),
                                                "LAGOON_INDEXER__FLUSH_INTERVAL_SECS": "1"})
    try:
        ns = make_client(srv.url).namespace(NS)
        docs = write_all(ns, documents())
        query_vec = as_list(random_vectors(1, 8, seed=5)[0])
        before = answers(ns, query_vec)
        assert index_status(ns).status == "updating"
        worker.start()
        wait_until(lambda: index_status(ns).status == "up-to-date", timeout=20, what="the worker to index the namespace")
        assert worker.alive(), "the worker keeps running"
        assert answers(ns, query_vec) == before
        check_against_oracles(ns, docs, query_vec)
    finally:
        worker.kill(signal.SIGTERM)
        srv.kill()
