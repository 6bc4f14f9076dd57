"""`lagoon serve` on the S3 backend: a moto_server bucket on loopback (pip moto[server]) holds all
durable state; the server keeps only its caches. Write, query, wait for the embedded indexer,
restart with an empty cache, and everything answers the same from the bucket. A bucket the start-up
conditional-write probe cannot use stops the server with a message."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import LagoonServer, MotoS3, free_port, lagoon_bin, make_client
from e2e_util import fetch_all, ranked_pairs, wait_until

BUCKET = "lagoon-e2e"
PREFIX = "tenant-a/"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """A moto_server on a free loopback port with the test bucket; stopped (by pid) afterwards."""
    server = MotoS3(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


def s3_env(moto: MotoS3, cache_dir, bucket: str = BUCKET) -> dict:
    return {**moto.env(bucket, PREFIX, cache_dir), "LAGOON_INDEXER__FLUSH_INTERVAL_SECS": "1"}


def test_write_query_index_restart_on_s3(moto, tmp_path):
    cache = tmp_path / "cache"
    srv = LagoonServer(tmp_path / "unused-root", tmp_path / "logs", s3_env(moto, cache)).start()
    try:
        ns = make_client(srv.url).namespace("s3-e2e")
        rows = [{"id": i, "text": f"doc {i} " + ("river" if i % 3 == 0 else "stone"), "n": i, "vector": [float(i), 1.0, 0.5]}
                for i in range(40)]
        ns.write(upsert_rows=rows, distance_metric="euclidean_squared",
                 schema={"text": {"type": "string", "full_text_search": True}})
        ns.write(deletes=[3])

        def answers():
            return {
                "all": sorted(fetch_all(ns, include_attributes=["n"])),
                "bm25": sorted(r[0] for r in ranked_pairs(ns.query(rank_by=("text", "BM25", "river"), top_k=100))),
                "knn": [r[0] for r in ranked_pairs(ns.query(rank_by=("vector", "ANN", [10.2, 1.0, 0.5]), top_k=3))],
                "filter": sorted(fetch_all(ns, filters=("n", "Lt", 5))),
            }

        want = {
            "all": [i for i in range(40) if i != 3],
            "bm25": [i for i in range(40) if i % 3 == 0 and i != 3],
            "knn": [10, 11, 9],
            "filter": [0, 1, 2, 4],
        }
        assert answers() == want
        wait_until(lambda: ns.metadata().index.status == "up-to-date", timeout=20, what="index.status up-to-date on S3")
        assert answers() == want
        assert ns.metadata().approx_row_count == 39

        keys = moto.keys(BUCKET)
        assert keys and all(k.startswith(PREFIX) for k in keys), f"every object under the prefix: {keys[:5]}"
        assert not any(k.startswith(PREFIX + PREFIX) for k in keys), "the prefix is applied once"
        assert any("/segments/" in k for k in keys), "the indexer wrote segments to the bucket"
        assert not any("_probe" in k for k in keys), "the start-up probe cleans up its scratch key"

        # A replaced node: no local state at all, everything comes from the bucket.
        srv.kill()
        shutil.rmtree(cache)
        srv.start()
        ns = make_client(srv.url).namespace("s3-e2e")
        assert answers() == want
        assert ns.metadata().index.status == "up-to-date"
        # And a restart that keeps its disk cache.
        srv.restart()
        ns = make_client(srv.url).namespace("s3-e2e")
        assert answers() == want
    finally:
        srv.kill()


def test_unusable_bucket_stops_the_server(moto, tmp_path):
    env = dict(os.environ)
    env.update(s3_env(moto, tmp_path / "cache", bucket="no-such-bucket"))
    proc = subprocess.run([str(lagoon_bin()), "serve", "--listen", f"127.0.0.1:{free_port()}"],
                          env=env, cwd=tmp_path, capture_output=True, timeout=60)
    assert proc.returncode != 0
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    assert "no-such-bucket" in output and "conditional" in output, output[-2000:]
    assert "e2e-secret" not in output, "credentials are never printed"
