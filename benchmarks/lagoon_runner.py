"""Lagoon over HTTP, driven by the official `turbopuffer` Python client (pip turbopuffer==3.1.0).

    python benchmarks/lagoon_runner.py --bin .build/release/lagoon --dataset DIR --out FILE.json

What it does, in order (every step prints progress to stderr):
 1. starts `lagoon serve --root <temp dir> --listen 127.0.0.1:<free port>` and waits for
    `GET /readyz` = 200; the server is pinned to its own core(s), this client to another one;
 2. ingest: upsert_rows in batches of 1,000 (`--batch`), `--concurrency` batches in flight.
    Vectors go as base64 of little-endian float32, exactly what the client itself sends for a
    list of floats (turbopuffer/_utils/_transform.py `_encode_vector` -> lib/vector.py), but
    encoded straight from numpy. The first batch carries the schema and
    distance_metric=cosine_distance. A write returns when it is durable (acknowledged), so
    docs/s = docs / wall time from the first request to the last acknowledgement. Then the
    time until `metadata.index.status` is "up-to-date" is the index build time;
 3. ANN `["vector","ANN",q]` top-10 and exact `["vector","kNN",q]` top-10 for every query,
    one call at a time: recall@10 vs ground truth, latency p50/p99, QPS, and the
    correctness check that each kNN top-10 is numpy's exact top-10;
 4. filtered ANN at ~1/10/50% selectivity (filters on pos / lexname);
 5. BM25 `["text","BM25",query]` top-100: nDCG@10, MRR@10, recall@100 on the qrels;
 6. hybrid: multi_query [ANN top-100, BM25 top-100] fused client-side with RRF (k=60), and
    server-side with `rerank_by: ["RRF", {"rank_constant": 60}]` when the server accepts it;
 7. peak RSS of the server (VmHWM from /proc/<pid>/status);
 8. cold start: stop, drop the OS page cache when permitted, restart on the same root, time to
    ready, first-query latency, then warm latency, and object-store requests per query read
    from GET /metrics (counters whose name mentions the object store and requests).

Schema: `text` full_text_search {language english, stemming true, remove_stopwords true} --
chosen to match bm25s + PyStemmer (English stopwords + Snowball stemmer); tantivy's en_stem
stems but keeps stopwords. `pos` and `lexname`: filterable strings.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pinning  # noqa: E402  (must precede numpy)

NAMESPACE = "wordnet"
DEFAULT_API_KEY = "lagoon-bench"
SCHEMA = {
    "text": {
        "type": "string",
        "full_text_search": {"language": "english", "stemming": True, "remove_stopwords": True},
    },
    "pos": {"type": "string", "filterable": True},
    "lexname": {"type": "string", "filterable": True},
}
RRF_K = 60
HYBRID_DEPTH = 100
STORE_METRIC_RE = re.compile(r"(object|store|s3|blob).*(request|op|call|get|put|list)|(request|op).*(object|store)", re.I)


def log(msg: str) -> None:
    print(f"[lagoon] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exec_prefix(binary: Path) -> list[str]:
    """The command prefix that runs the Lagoon binary."""
    return [str(binary)]


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class LagoonServer:
    """One `lagoon serve` process on a root folder; restartable on the same root."""

    def __init__(self, binary: Path, root: Path, api_key: str = DEFAULT_API_KEY, port: int | None = None,
                 extra_args: list[str] | None = None, cpus: list[int] | None = None, log_path: Path | None = None,
                 env: dict[str, str] | None = None):
        self.binary = Path(binary)
        self.env = dict(env or {})  # extra environment, e.g. LAGOON_INDEXER__FLUSH_INTERVAL_SECS
        self.root = Path(root)
        self.api_key = api_key
        self.port = port or free_port()
        self.extra_args = list(extra_args or [])
        self.cpus = cpus
        self.log_path = log_path or (self.root.parent / "lagoon-server.log")
        self.proc: subprocess.Popen | None = None
        self.peak_rss_kb_history: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [*exec_prefix(self.binary), "serve", "--root", str(self.root), "--listen", f"127.0.0.1:{self.port}", *self.extra_args]

    def start(self, timeout: float = 180.0) -> float:
        """Start and wait for /readyz == 200. Returns seconds from spawn to ready."""
        self.root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **self.env)
        env.setdefault("LAGOON_API_KEY", self.api_key)
        logf = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), stdout=logf, stderr=subprocess.STDOUT, env=env)
        logf.close()
        if self.cpus:
            pinning.set_affinity(self.proc.pid, self.cpus)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lagoon exited with code {self.proc.returncode} before ready; see {self.log_path}:\n{self.tail_log()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
                pass
            if time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"lagoon not ready after {timeout:.0f}s; see {self.log_path}:\n{self.tail_log()}")
            time.sleep(0.05)

    def tail_log(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def vm(self, field: str) -> int | None:
        return proc_status_kb(self.proc.pid, field) if self.proc and self.proc.poll() is None else None

    def stop(self, timeout: float = 30.0) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        hwm = self.vm("VmHWM")
        if hwm:
            self.peak_rss_kb_history.append(hwm)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log("server did not stop on SIGTERM; sending SIGKILL")
            self.proc.kill()
            self.proc.wait(10)

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, str]:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.api_key}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            return 0, str(e)


def version_of(binary: Path) -> str:
    for args in (["--version"], ["version"]):
        try:
            r = subprocess.run([*exec_prefix(binary), *args], capture_output=True, text=True, timeout=20)
            if r.returncode == 0 and r.stdout.strip():
                return r.stdout.strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        r = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0:
            return f"git {r.stdout.strip()}"
    except OSError:
        pass
    return "unknown"


def make_client(url: str, api_key: str, retries: int = 0, timeout: float = 600.0):
    import turbopuffer

    return turbopuffer.Turbopuffer(api_key=api_key, base_url=url, max_retries=retries, timeout=timeout, telemetry=False)


def b64_vectors(mat) -> list[str]:
    """Base64 of little-endian float32 per row: byte-identical to turbopuffer.lib.vector.b64encode_vector."""
    import numpy as np

    m = np.ascontiguousarray(mat, dtype="<f4")
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in m]


# --------------------------------------------------------------------------------------
# Ingest
# --------------------------------------------------------------------------------------
def _retry_after(e: Exception) -> float:
    """Seconds a 429 asks us to wait (its Retry-After header; 1 s when absent)."""
    try:
        return min(30.0, max(0.05, float(e.response.headers.get("retry-after", "1"))))  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return 1.0


def ingest(client, base, docs, namespace: str = NAMESPACE, batch: int = 1000, concurrency: int = 1,
           schema: dict | None = SCHEMA, with_text: bool = True, throttle_timeout: float = 600.0) -> dict:
    """Upsert all docs in batches; returns docs/s to durable acknowledgement and batch latencies.
    A batch refused with 429 (indexer backpressure) is sent again after its Retry-After, for up to
    `throttle_timeout` seconds; `throttled` counts those refusals (with a client built with
    max_retries=0 every one is seen here; otherwise only those the client's own retries gave up on)."""
    n = len(docs)
    ns = client.namespace(namespace)
    batches = [(s, min(n, s + batch)) for s in range(0, n, batch)]

    def rows_for(s: int, e: int) -> list[dict]:
        vecs = b64_vectors(base[s:e])
        out = []
        for i, v in zip(range(s, e), vecs):
            d = docs[i]
            r = {"id": int(d["id"]), "vector": v, "pos": d["pos"], "lexname": d["lexname"]}
            if with_text:
                r["text"] = d["text"]
            out.append(r)
        return out

    lat: list[float] = []
    lat_by_batch: dict[int, float] = {}
    throttled = [0]
    done = [0]
    acked = [0]
    lock = threading.Lock()
    t_start = time.perf_counter()
    last_report = [t_start]

    def send(idx: int) -> None:
        s, e = batches[idx]
        rows = rows_for(s, e)
        kw = {"upsert_rows": rows}
        if idx == 0:
            kw["distance_metric"] = "cosine_distance"
            if schema:
                kw["schema"] = schema
        t = time.perf_counter()
        while True:
            try:
                resp = ns.write(**kw)
                break
            except Exception as err:  # backpressure (429): wait as told, count it, send again
                if getattr(err, "status_code", None) != 429 or time.perf_counter() - t > throttle_timeout:
                    raise
                with lock:
                    throttled[0] += 1
                time.sleep(_retry_after(err))
        dt = time.perf_counter() - t
        got = getattr(resp, "rows_affected", None)
        if got is not None and got != e - s:
            raise RuntimeError(f"batch {idx}: rows_affected={got}, expected {e - s}")
        with lock:
            lat.append(dt)
            lat_by_batch[idx] = dt
            acked[0] += got if got is not None else e - s
            done[0] += e - s
            now = time.perf_counter()
            if now - last_report[0] >= 5 or done[0] == n:
                last_report[0] = now
                log(f"ingest: {done[0]:,}/{n:,} docs acknowledged ({done[0] / (now - t_start):,.0f} docs/s)")

    send(0)  # creates the namespace with its schema
    if concurrency <= 1:
        for i in range(1, len(batches)):
            send(i)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(send, range(1, len(batches))))
    wall = time.perf_counter() - t_start
    from metrics import latency_summary

    bl = latency_summary(lat)
    return {
        "docs": n,
        "acknowledged_rows": acked[0],
        "batch": batch,
        "batches": len(batches),
        "concurrency": concurrency,
        "wall_s": wall,
        "docs_per_s": n / wall,
        "batch_p50_ms": bl.get("p50_ms"),
        "batch_p99_ms": bl.get("p99_ms"),
        "throttled_429": throttled[0],
        # per-batch latency in batch order: shows whether write cost grows with the namespace
        "batch_ms": [round(lat_by_batch[i] * 1e3, 1) for i in sorted(lat_by_batch)],
    }


def wait_indexed(client, namespace: str = NAMESPACE, timeout: float = 600.0, stall: float = 20.0) -> dict:
    """Poll metadata until index.status == up-to-date. Gives up after `timeout` seconds, or
    after `stall` seconds in which `unindexed_bytes` did not move (a server with no indexer
    yet reports "updating" forever). Returns seconds waited (None if never up to date)."""
    ns = client.namespace(namespace)
    t0 = time.perf_counter()
    last = None
    last_change = t0
    next_log = t0 + 5
    while True:
        try:
            md = ns.metadata()
            idx = getattr(md, "index", None)
            status = getattr(idx, "status", None) if idx is not None else None
            cur = {"status": status, "unindexed_bytes": getattr(idx, "unindexed_bytes", None),
                   "approx_row_count": getattr(md, "approx_row_count", None)}
            if last is None or cur["unindexed_bytes"] != last["unindexed_bytes"]:
                last_change = time.perf_counter()
            last = cur
            if status == "up-to-date":
                return {"index_wait_s": time.perf_counter() - t0, **last}
            if status is None:
                return {"index_wait_s": None, "index_note": "metadata has no index.status", **last}
        except Exception as e:
            return {"index_wait_s": None, "index_note": f"metadata failed: {_describe(e)}"}
        now = time.perf_counter()
        if now - last_change > stall:
            return {"index_wait_s": None, **last,
                    "index_note": f"index not up to date and unindexed_bytes unchanged for {stall:.0f}s "
                                  f"(status {last['status']}): no index build observed; queries scan unindexed data"}
        if now - t0 > timeout:
            return {"index_wait_s": None, **last, "index_note": f"not up to date after {timeout:.0f}s"}
        if now > next_log:
            next_log = now + 5
            log(f"waiting for the index: {last}")
        time.sleep(0.2)


# --------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------
def _ids_dists(resp) -> tuple[list[int], list[float]]:
    rows = resp.rows or []
    ids, dists = [], []
    for r in rows:
        ids.append(int(r.id))
        try:
            dists.append(float(r["$dist"]))
        except Exception:
            dists.append(float("nan"))
    return ids, dists


def _describe(e: Exception) -> str:
    """One line for a failed call; points at the API key on 401/403."""
    code = getattr(e, "status_code", None)
    msg = f"{type(e).__name__}: {str(e)[:400]}"
    if code in (401, 403):
        msg += " -- Lagoon rejected the API key: set LAGOON_API_KEY (sent as Bearer) or pass the server's auth option with --lagoon-server-arg"
    return msg


def _perf_ms(resp) -> float | None:
    p = getattr(resp, "performance", None)
    v = getattr(p, "server_total_ms", None) if p is not None else None
    return float(v) if v is not None else None


def run_queries(label: str, fn, items, every: float = 5.0):
    """Call fn(item) for each item sequentially; returns (results, latencies, server_ms)."""
    out, lat, srv = [], [], []
    t0 = last = time.perf_counter()
    for i, it in enumerate(items):
        t = time.perf_counter()
        resp = fn(it)
        lat.append(time.perf_counter() - t)
        out.append(resp)
        s = _perf_ms(resp) if not isinstance(resp, tuple) else None
        if s is not None:
            srv.append(s)
        now = time.perf_counter()
        if now - last >= every:
            last = now
            log(f"{label}: {i + 1}/{len(items)} ({(i + 1) / (now - t0):.1f} q/s)")
    return out, lat, srv


def _server_summary(srv: list[float]) -> dict:
    import numpy as np

    if not srv:
        return {}
    a = np.asarray(srv)
    return {"server_p50_ms": float(np.percentile(a, 50)), "server_p99_ms": float(np.percentile(a, 99))}


def _short(ids: list[list[int]], k: int = 10) -> int:
    """Queries that returned fewer than k rows (every benchmark filter matches far more than k docs)."""
    return sum(1 for x in ids if len(x) < k)


def vector_workloads(client, ds, qidx, namespace: str = NAMESPACE) -> dict:
    from metrics import latency_summary, recall_at_k, same_topk

    ns = client.namespace(namespace)
    Q = ds.queries
    gt = ds.gt_ids[: len(qidx)]
    gts = ds.gt_scores[: len(qidx)]
    out: dict = {}

    def q_ann(i):
        return ns.query(rank_by=["vector", "ANN", Q[i].tolist()], top_k=10, include_attributes=False)

    def q_knn(i):
        return ns.query(rank_by=["vector", "kNN", Q[i].tolist()], top_k=10, include_attributes=False)

    errors = out.setdefault("errors", {})
    try:
        for _ in range(min(20, len(qidx))):  # warm-up (not timed)
            q_ann(int(qidx[_]))
        resps, lat, srv = run_queries("ANN top-10", q_ann, [int(i) for i in qidx])
        ids = [_ids_dists(r)[0] for r in resps]
        ann = {"label": "Lagoon ANN", "param": {}, "recall@10": recall_at_k(ids, gt, 10), "short_results": _short(ids),
               **latency_summary(lat), **_server_summary(srv)}
        ex = [getattr(getattr(r, "performance", None), "exhaustive_search_count", None) for r in resps[:1]]
        ann["exhaustive_search_count_first"] = ex[0]
        out["ann"] = {"label": "Lagoon ANN (rank_by vector ANN)", "sweep": [ann]}
        log(f"ANN: recall@10 {ann['recall@10']:.3f}, {ann['qps']:.1f} q/s, p50 {ann['p50_ms']:.1f} ms, p99 {ann['p99_ms']:.1f} ms")

    except Exception as e:
        errors["ann"] = _describe(e)
        log(f"ANN FAILED: {errors['ann']}")
    try:
        resps, lat, srv = run_queries("kNN top-10", q_knn, [int(i) for i in qidx])
        ok = 0
        bad = []
        kres = []
        for j, r in enumerate(resps):
            i_, d_ = _ids_dists(r)
            kres.append(i_)
            sims = [1.0 - x for x in d_]
            if same_topk(i_, sims, gt[j], gts[j], 10):
                ok += 1
            elif len(bad) < 5:
                bad.append({"query": int(qidx[j]), "got": i_, "want": [int(x) for x in gt[j][:10]]})
        out["exact"] = {
            "label": "Lagoon kNN (exact)",
            "recall@10": recall_at_k(kres, gt, 10),
            "knn_top10_exact_fraction": ok / len(resps) if resps else float("nan"),
            "knn_mismatches": bad,
            **latency_summary(lat),
            **_server_summary(srv),
        }
        log(f"kNN: recall@10 {out['exact']['recall@10']:.3f}, exact top-10 on {ok}/{len(resps)} queries, {out['exact']['qps']:.1f} q/s")

    except Exception as e:
        errors["knn"] = _describe(e)
        log(f"kNN FAILED: {errors['knn']}")
    filt = []
    for f in ds.filters:
        fgt = ds.filter_gt[f["name"]][0][: len(qidx)]

        def q_f(i, flt=f["tpuf"]):
            return ns.query(rank_by=["vector", "ANN", Q[i].tolist()], top_k=10, filters=flt, include_attributes=False)

        try:
            resps, lat, srv = run_queries(f"filtered ANN {f['name']}", q_f, [int(i) for i in qidx])
        except Exception as e:
            key = "filtered " + f["name"]
            errors[key] = _describe(e)
            log(f"{key} FAILED: {errors[key]}")
            continue
        ids = [_ids_dists(r)[0] for r in resps]
        pt = {"filter": f["name"], "selectivity": f["selectivity"], "setting": "ANN + filters",
              "recall@10": recall_at_k(ids, fgt, 10), "short_results": _short(ids), **latency_summary(lat), **_server_summary(srv)}
        filt.append(pt)
        log(f"filtered {f['name']} ({f['selectivity']:.1%}): recall {pt['recall@10']:.3f}, {pt['qps']:.1f} q/s")
    out["filtered"] = filt
    if not errors:
        out.pop("errors")
    return out


def bm25_workload(client, ds, namespace: str = NAMESPACE, limit: int = 0) -> tuple[dict, dict]:
    """BM25 top-100 for every judged query: ({"text": metrics} or {"errors": ...}, {qi: ranked ids})."""
    from metrics import latency_summary, text_metrics

    ns = client.namespace(namespace)
    judged = ds.text_qidx(limit)
    qrels = ds.qrels_for(judged)

    def q_bm25(qi):
        return ns.query(rank_by=["text", "BM25", ds.query_meta[qi]["text"]], top_k=HYBRID_DEPTH, include_attributes=False)

    out: dict = {}
    runs: dict = {}
    try:
        resps, lat, srv = run_queries("BM25 top-100", q_bm25, judged)
        runs = {qi: _ids_dists(r)[0] for qi, r in zip(judged, resps)}
        m = text_metrics(runs, qrels)
        out["text"] = {"label": "Lagoon BM25 (english, stemming, stopwords removed)", **m, **latency_summary(lat), **_server_summary(srv),
                       "timing": "one query call, top-100"}
        log(f"BM25: nDCG@10 {m['ndcg@10']:.3f} MRR@10 {m['mrr@10']:.3f} R@100 {m['recall@100']:.3f}; {out['text']['qps']:.1f} q/s")
    except Exception as e:
        out["errors"] = {"bm25": _describe(e)}
        log(f"BM25 FAILED: {out['errors']['bm25']}")
    return out, runs


def text_workloads(client, ds, namespace: str = NAMESPACE, limit: int = 0) -> dict:
    from metrics import latency_summary, rrf, text_metrics

    ns = client.namespace(namespace)
    judged = ds.text_qidx(limit)
    qrels = ds.qrels_for(judged)
    qtext = {qi: ds.query_meta[qi]["text"] for qi in judged}
    out, bm25_runs = bm25_workload(client, ds, namespace, limit)
    m = out.get("text") or {}

    # Hybrid, client-side RRF over one multi_query carrying both sub-queries.
    def sub_queries(qi):
        return [
            {"rank_by": ["vector", "ANN", ds.queries[qi].tolist()], "top_k": HYBRID_DEPTH, "include_attributes": False},
            {"rank_by": ["text", "BM25", qtext[qi]], "top_k": HYBRID_DEPTH, "include_attributes": False},
        ]

    def q_hybrid(qi):
        r = ns.multi_query(queries=sub_queries(qi))
        dense = _ids_dists(r.results[0])[0]
        lex = _ids_dists(r.results[1])[0]
        return (dense, lex, rrf([dense, lex], k=RRF_K, depth=HYBRID_DEPTH))

    dense_runs, lex_runs, fused_runs = {}, {}, {}
    try:
        resps, lat, _ = run_queries("hybrid multi_query + client RRF", q_hybrid, judged)
        for qi, (dense, lex, fused) in zip(judged, resps):
            dense_runs[qi] = dense
            lex_runs[qi] = lex
            fused_runs[qi] = fused
        out["hybrid_client"] = {"label": "Lagoon multi_query [ANN, BM25] + client-side RRF k=60", **text_metrics(fused_runs, qrels), **latency_summary(lat)}
        out["dense_text"] = {"label": "Lagoon ANN alone (top-100 from the same multi_query)", **text_metrics(dense_runs, qrels)}
        log(f"hybrid (client RRF): nDCG@10 {out['hybrid_client']['ndcg@10']:.3f} vs dense {out['dense_text']['ndcg@10']:.3f} vs BM25 {m.get('ndcg@10', float('nan')):.3f}")
    except Exception as e:
        out["hybrid_client"] = {"error": _describe(e)}
        out.setdefault("errors", {})["hybrid"] = out["hybrid_client"]["error"]
        log(f"hybrid multi_query failed: {e}")

    # Server-side RRF, if the server supports rerank_by.
    def q_server(qi):
        return ns.multi_query(queries=sub_queries(qi), rerank_by=["RRF", {"rank_constant": RRF_K}], limit=HYBRID_DEPTH)

    try:
        q_server(judged[0])
        resps, lat, srv = run_queries("hybrid multi_query + server RRF", q_server, judged)
        runs = {qi: _ids_dists(r.results[0])[0] for qi, r in zip(judged, resps)}
        out["hybrid_server"] = {"label": "Lagoon multi_query rerank_by RRF k=60 (server-side)", **text_metrics(runs, qrels), **latency_summary(lat), **_server_summary(srv)}
        # Cross-check against client fusion of the same sub-results. RRF has many exact ties
        # (one doc at rank r in one list, another at rank r in the other), so compare the
        # top-10 RRF *scores* (tie-aware) as well as the ids.
        def rrf_scores(qi):
            sc: dict = {}
            for ranked in (dense_runs.get(qi, []), lex_runs.get(qi, [])):
                for r, d in enumerate(ranked):
                    sc[d] = sc.get(d, 0.0) + 1.0 / (RRF_K + r + 1)
            return sc

        same_ids = same_scores = 0
        for qi in judged:
            srv_top, cli_top = runs.get(qi, [])[:10], fused_runs.get(qi, [])[:10]
            same_ids += srv_top == cli_top
            sc = rrf_scores(qi)
            a = sorted((round(sc.get(d, -1.0), 12) for d in srv_top), reverse=True)
            b = sorted((round(sc.get(d, -1.0), 12) for d in cli_top), reverse=True)
            same_scores += a == b
        if judged and fused_runs:
            out["hybrid_server"]["top10_ids_equal_to_client_rrf"] = same_ids / len(judged)
            out["hybrid_server"]["top10_consistent_with_client_rrf"] = same_scores / len(judged)
        log(f"hybrid (server RRF): nDCG@10 {out['hybrid_server']['ndcg@10']:.3f}")
    except Exception as e:
        out["hybrid_server"] = {"skipped": f"server-side rerank_by RRF not available: {type(e).__name__}: {str(e)[:300]}"}
        log(out["hybrid_server"]["skipped"])
    out["runs"] = {"bm25": {str(k): v for k, v in bm25_runs.items()}, "dense": {str(k): v for k, v in dense_runs.items()}}
    return out


# --------------------------------------------------------------------------------------
# Cold start and object-store requests
# --------------------------------------------------------------------------------------
def parse_prometheus(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*(?:\{[^}]*\})?)\s+([-+0-9.eEinfNa]+)", line)
        if m:
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def store_request_counters(server: LagoonServer) -> dict[str, float] | None:
    code, text = server.get("/metrics")
    if code != 200:
        return None
    return {k: v for k, v in parse_prometheus(text).items() if STORE_METRIC_RE.search(k.split("{")[0]) and not k.split("{")[0].endswith(("_bucket", "_sum"))}


def diff_counters(before: dict | None, after: dict | None) -> dict[str, float] | None:
    if before is None or after is None:
        return None
    return {k: after[k] - before.get(k, 0.0) for k in after if after[k] - before.get(k, 0.0) != 0}


def drop_page_cache() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


def cold_start(server: LagoonServer, client_factory, ds, qidx, namespace: str = NAMESPACE) -> dict:
    server.stop()
    dropped = drop_page_cache()
    t_ready = server.start()
    client = client_factory(server)
    ns = client.namespace(namespace)
    q0 = int(qidx[0])
    c0 = store_request_counters(server)
    t = time.perf_counter()
    r = ns.query(rank_by=["vector", "ANN", ds.queries[q0].tolist()], top_k=10, include_attributes=False)
    first = time.perf_counter() - t
    c1 = store_request_counters(server)
    perf = getattr(r, "performance", None)
    t = time.perf_counter()
    ns.query(rank_by=["vector", "ANN", ds.queries[q0].tolist()], top_k=10, include_attributes=False)
    second = time.perf_counter() - t
    c2 = store_request_counters(server)
    warm = []
    for i in qidx[1:21]:
        t = time.perf_counter()
        ns.query(rank_by=["vector", "ANN", ds.queries[int(i)].tolist()], top_k=10, include_attributes=False)
        warm.append(time.perf_counter() - t)
    c3 = store_request_counters(server)
    t = time.perf_counter()
    rb = ns.query(rank_by=["text", "BM25", ds.query_meta[q0]["text"]], top_k=10, include_attributes=False)
    bm25_first = time.perf_counter() - t
    import numpy as np

    out = {
        "page_cache_dropped": dropped,
        "restart_to_ready_s": t_ready,
        "first_query_ms": first * 1e3,
        "first_query_cache_temperature": getattr(perf, "cache_temperature", None),
        "second_query_same_vector_ms": second * 1e3,
        "warm_query_p50_ms": float(np.median(warm)) * 1e3 if warm else None,
        "first_bm25_query_after_restart_ms": bm25_first * 1e3,
        "store_requests_first_query": diff_counters(c0, c1),
        "store_requests_second_query": diff_counters(c1, c2),
        "store_requests_per_warm_query": ({k: v / max(1, len(warm)) for k, v in (diff_counters(c2, c3) or {}).items()} if c2 is not None else None),
    }
    if c0 is None:
        out["store_requests_note"] = "GET /metrics did not answer 200"
    elif not c0 and not c1:
        out["store_requests_note"] = f"no counter in /metrics matched {STORE_METRIC_RE.pattern!r}"
    log(f"cold start: ready in {t_ready:.2f}s, first query {first * 1e3:.1f} ms, second {second * 1e3:.1f} ms, "
        f"store requests (first query) {out['store_requests_first_query']}")
    return out


# --------------------------------------------------------------------------------------
# `lagoon bench` hook
# --------------------------------------------------------------------------------------
def lagoon_bench(binary: Path, args: list[str], timeout: float = 1800.0) -> dict:
    """Run the in-process engine benchmark `lagoon bench ...` if the subcommand exists."""
    try:
        h = subprocess.run([*exec_prefix(binary), "bench", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"skipped": f"could not run {binary}: {e}"}
    if h.returncode != 0:
        return {"skipped": f"`lagoon bench` is not available yet (`lagoon bench --help` exit {h.returncode}: {(h.stderr or h.stdout).strip()[:200]})"}
    cmd = [*exec_prefix(binary), "bench", *args]
    log(f"running {' '.join(cmd)}")
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = {"command": " ".join(cmd), "exit_code": r.returncode, "seconds": time.perf_counter() - t0,
           "stdout": r.stdout[-20000:], "stderr": r.stderr[-4000:]}
    last = (r.stdout.strip().splitlines() or [""])[-1]
    if last.startswith("{"):  # `lagoon bench engine` ends with its figures as one JSON line
        try:
            out["figures"] = json.loads(last)
        except ValueError:
            pass
    return out


# --------------------------------------------------------------------------------------
def worker_arguments(doc: str, concurrency: int) -> argparse.ArgumentParser:
    """The arguments every Lagoon worker script (this one, segments_workload.py) takes from run.py."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, type=Path)
    ap.add_argument("--dataset", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--threads", type=int, default=1, help="cores given to the server (the client gets another one)")
    ap.add_argument("--queries", type=int, default=0, help="first N queries only (0 = all)")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=concurrency, help="write batches in flight")
    ap.add_argument("--api-key", default=os.environ.get("LAGOON_API_KEY", DEFAULT_API_KEY))
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for `lagoon serve` (repeatable)")
    return ap


def main(argv=None) -> int:
    ap = worker_arguments(__doc__, concurrency=1)
    ap.add_argument("--root", type=Path, help="data root (default: a fresh temp folder, removed afterwards)")
    ap.add_argument("--keep-root", action="store_true")
    ap.add_argument("--index-wait", type=float, default=600.0, help="max seconds to wait for metadata index up-to-date")
    ap.add_argument("--index-stall", type=float, default=20.0, help="stop waiting when unindexed_bytes has not moved for this long")
    ap.add_argument("--skip", default="", help="comma list of: text,hybrid,filtered,cold")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the finally below stops the server
    pinning.pin(args.threads)
    client_cpus, server_cpus = pinning.client_and_server_cores(args.threads)
    pinning.set_affinity(0, client_cpus)
    import data

    skip = set(filter(None, args.skip.split(",")))
    ds = data.load(args.dataset)
    qidx = ds.gt_qidx[: args.queries] if args.queries else ds.gt_qidx
    tmp = None
    if args.root:
        root = args.root
    else:
        tmp = Path(tempfile.mkdtemp(prefix="lagoon-bench-"))
        root = tmp / "root"
    server = LagoonServer(args.bin, root, api_key=args.api_key, extra_args=args.server_arg, cpus=server_cpus,
                          log_path=(tmp or root.parent) / "lagoon-server.log")
    res: dict = {"system": "lagoon", "version": version_of(args.bin), "threads": args.threads,
                 "server_cpus": server_cpus, "client_cpus": client_cpus, "command": " ".join(server.command()),
                 "client": "turbopuffer " + _dist_version("turbopuffer"), "notes": []}
    t_all = time.perf_counter()
    try:
        t_ready = server.start()
        log(f"server ready in {t_ready:.2f}s at {server.url} (pid {server.proc.pid}, cpus {server_cpus})")
        res["first_start_to_ready_s"] = t_ready
        factory = lambda s: make_client(s.url, args.api_key)  # noqa: E731
        client = factory(server)
        ingest_client = make_client(server.url, args.api_key, retries=4)
        log(f"ingesting {ds.n:,} docs in batches of {args.batch} (concurrency {args.concurrency})")
        ing = ingest(ingest_client, ds.base, ds.docs, batch=args.batch, concurrency=args.concurrency)
        ing.update(wait_indexed(client, timeout=args.index_wait, stall=args.index_stall))
        res["build"] = {"ingest_docs_per_s": ing["docs_per_s"],
                        "index_build_s": ing.get("index_wait_s"), "durable": True, **ing,
                        "rss_after_ingest_mb": round((server.vm("VmRSS") or 0) / 1024, 1)}
        log(f"ingest: {ing['docs_per_s']:,.0f} docs/s durable; index: " +
            (f"up to date {ing['index_wait_s']:.2f}s after the last ack" if ing.get("index_wait_s") is not None else ing.get("index_note", "?")))
        errors: dict = {}
        part = vector_workloads(client, ds, qidx)
        errors.update(part.pop("errors", {}))
        res.update(part)
        if "text" not in skip:
            part = text_workloads(client, ds, limit=args.queries)
            errors.update(part.pop("errors", {}))
            res.update(part)
        if errors:
            res["errors"] = errors
        res["rss"] = {"peak_mb": round((server.vm("VmHWM") or 0) / 1024, 1), "rss_now_mb": round((server.vm("VmRSS") or 0) / 1024, 1),
                      "note": "VmHWM of the lagoon server process"}
        try:
            res["disk_mb"] = round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20, 1)
        except OSError:
            pass
        if "cold" not in skip:
            res["cold"] = cold_start(server, factory, ds, qidx)
    except Exception as e:
        res["error"] = f"{type(e).__name__}: {e}"
        res["server_log_tail"] = server.tail_log(40)
        log(f"FAILED: {res['error']}")
    finally:
        server.stop()
        if tmp and not args.keep_root:
            shutil.rmtree(tmp, ignore_errors=True)
    res["wall_s"] = time.perf_counter() - t_all
    res["dataset"] = ds.meta["name"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=float))
    log(f"done in {res['wall_s']:.1f}s -> {args.out}")
    return 1 if "error" in res else 0


def _dist_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
