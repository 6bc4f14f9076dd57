#!/usr/bin/env python3
"""Foundation benchmark: ingest WordNet-117k into Lagoon over HTTP, then exact-query latency.

    bash benchmarks/setup_venv.sh --core
    benchmarks/.venv/bin/python benchmarks/ingest_query.py                    # starts .build/release/lagoon
    benchmarks/.venv/bin/python benchmarks/ingest_query.py --url http://127.0.0.1:8080 --api-key KEY
    benchmarks/.venv/bin/python benchmarks/ingest_query.py --docs 10000 --concurrency 4 --queries 200

1. Ingest: `upsert_rows` in batches of 1,000 (`--batch`) through the official turbopuffer client
   (vectors as base64 little-endian float32, which is what the client sends), `--concurrency`
   batches in flight. A write is acknowledged once durable, so the figure reported is
   documents / wall time from the first request to the last acknowledgement (docs/s, durable ack).
2. Exact vector queries: `rank_by ["vector", "kNN", q]`, top-10, one at a time from one client
   thread, over all 1,000 queries (or the first `--queries N`): p50 / p99 / mean latency, QPS,
   and recall@10 against exact ground truth (the shipped ground truth for the whole set, numpy
   recomputed for a `--docs` prefix) -- exact search must give 1.0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--url", help="an already running Lagoon (default: start one on a temp folder)")
    src.add_argument("--lagoon-bin", type=Path, default=HERE.parent / ".build" / "release" / "lagoon")
    ap.add_argument("--api-key", default=None, help="API key (default $LAGOON_API_KEY or lagoon-bench)")
    ap.add_argument("--data", type=Path, help="data folder (default <repo>/../shared/bench)")
    ap.add_argument("--docs", type=int, default=0, help="ingest the first N docs only (0 = all 117,659)")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=1, help="write batches in flight")
    ap.add_argument("--queries", type=int, default=0, help="first N queries only (0 = all 1,000)")
    ap.add_argument("--namespace", default=None, help="namespace (default wordnet-<time>)")
    ap.add_argument("--skip-ingest", action="store_true", help="query an already loaded namespace")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    a = ap.parse_args(argv)

    try:
        import numpy as np

        import data
        import lagoon_runner as lr
        from metrics import latency_summary, recall_at_k
    except ImportError as e:
        print(f"missing package ({e}); run: bash benchmarks/setup_venv.sh --core && benchmarks/.venv/bin/python {' '.join(sys.argv)}", file=sys.stderr)
        return 2

    import os

    api_key = a.api_key or os.environ.get("LAGOON_API_KEY", lr.DEFAULT_API_KEY)
    data_dir = (a.data or data.default_data_dir()).resolve()
    n = min(a.docs or data.REAL_N, data.REAL_N)
    ns_name = a.namespace or f"wordnet-{int(time.time())}"
    print(f"[ingest_query] loading {n:,} docs from {data_dir}", file=sys.stderr, flush=True)
    base = data.load_base_f16(data_dir, n)
    docs = data.load_docs(data_dir, n)
    queries, _ = data.load_queries(data_dir)
    nq = min(a.queries or queries.shape[0], queries.shape[0])
    Q = queries[:nq]
    if n == data.REAL_N:
        gt = data.load_shipped_gt(data_dir)[0][:nq]
    else:
        print(f"[ingest_query] exact ground truth for the {n:,}-doc prefix (numpy)", file=sys.stderr, flush=True)
        gt = data.exact_search(base, Q, 10)["all"][0]

    server = None
    tmp = None
    try:
        if a.url:
            url = a.url.rstrip("/")
        else:
            if not a.lagoon_bin.exists():
                print(f"no Lagoon binary at {a.lagoon_bin}: build it (swift build -c release --product lagoon) or pass --url", file=sys.stderr)
                return 2
            tmp = Path(tempfile.mkdtemp(prefix="lagoon-ingest-query-"))
            server = lr.LagoonServer(a.lagoon_bin, tmp / "root", api_key=api_key, log_path=tmp / "server.log")
            t = server.start()
            url = server.url
            print(f"[ingest_query] started {' '.join(server.command())}, ready in {t:.2f}s", file=sys.stderr, flush=True)
        client = lr.make_client(url, api_key, retries=4)
        out: dict = {"url": url, "namespace": ns_name, "docs": n, "batch": a.batch, "concurrency": a.concurrency}
        if not a.skip_ingest:
            ing = lr.ingest(client, base, docs, namespace=ns_name, batch=a.batch, concurrency=a.concurrency)
            out["ingest"] = ing
            print(f"\nINGEST  {n:,} docs in {ing['wall_s']:.2f}s = {ing['docs_per_s']:,.0f} docs/s (durable ack; "
                  f"batches of {a.batch}, {a.concurrency} in flight; batch p50 {ing['batch_p50_ms']:.1f} ms, p99 {ing['batch_p99_ms']:.1f} ms)", flush=True)
            if server is not None:
                out["server_rss_mb"] = round((server.vm("VmRSS") or 0) / 1024, 1)
        qclient = lr.make_client(url, api_key, retries=0)
        ns = qclient.namespace(ns_name)
        for i in range(min(10, nq)):  # warm-up, not timed
            ns.query(rank_by=["vector", "kNN", Q[i].tolist()], top_k=10, include_attributes=False)
        lat, res = [], []
        t0 = last = time.perf_counter()
        for i in range(nq):
            t = time.perf_counter()
            r = ns.query(rank_by=["vector", "kNN", Q[i].tolist()], top_k=10, include_attributes=False)
            lat.append(time.perf_counter() - t)
            res.append([int(x.id) for x in (r.rows or [])])
            if time.perf_counter() - last > 5:
                last = time.perf_counter()
                print(f"[ingest_query] queries {i + 1}/{nq} ({(i + 1) / (last - t0):.1f} q/s)", file=sys.stderr, flush=True)
        s = latency_summary(lat)
        rec = recall_at_k(res, gt, 10)
        out["knn"] = {**s, "recall@10": rec, "queries": nq}
        print(f"EXACT   kNN top-10 over {n:,} docs, {nq} queries, one at a time: p50 {s['p50_ms']:.2f} ms, "
              f"p99 {s['p99_ms']:.2f} ms, mean {s['mean_ms']:.2f} ms, {s['qps']:.1f} q/s, recall@10 {rec:.4f}", flush=True)
        if server is not None:
            out["server_peak_rss_mb"] = round((server.vm("VmHWM") or 0) / 1024, 1)
            print(f"MEMORY  server peak RSS {out['server_peak_rss_mb']:.0f} MB", flush=True)
        if a.json:
            a.json.write_text(json.dumps(out, indent=1))
        return 0 if rec > 0.999 else 1
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
