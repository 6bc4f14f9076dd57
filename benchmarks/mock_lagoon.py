#!/usr/bin/env python3
"""A *test double* of the Lagoon HTTP surface this suite uses -- NOT Lagoon, and never reported as it.

It exists so the harness (run.py, lagoon_runner.py, ingest_query.py, report.py, the floors)
can be exercised end to end before or without the Swift server:

    python benchmarks/run.py --quick --skip-build --lagoon-bin benchmarks/mock_lagoon.py

It speaks the subset of the turbopuffer v2 wire API the suite sends (write with upsert_rows,
query with rank_by ANN/kNN/BM25 + filters, multi_query with optional rerank_by RRF, metadata,
/readyz, /metrics) with exact numpy scans, a plain BM25 (lower-case word tokens, a short
English stopword list, no stemming) and a JSON-lines write-ahead log under --root that is
fsynced before each write is acknowledged and replayed on start. Reports produced with it
say "mock" in the system version.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import math
import os
import re
import sys
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

STOP = set("a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with".split())
TOKEN = re.compile(r"\w+", re.U)


def tokens(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP]


class Namespace:
    def __init__(self, name: str, root: Path, counters: Counter):
        self.name = name
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.wal = self.dir / "wal.jsonl"
        self.counters = counters
        self.lock = threading.Lock()
        self.ids: list = []
        self.index: dict = {}
        self.vecs = np.zeros((0, 0), np.float32)
        self.nvec = 0
        self.attrs: dict[str, list] = defaultdict(list)
        self.schema: dict = {}
        self.metric = "cosine_distance"
        self.tf: list[Counter] = []
        self.dl: list[int] = []
        self.postings: dict[str, dict[int, int]] = defaultdict(dict)
        self.fts_attr = None
        if self.wal.exists():
            for line in open(self.wal, encoding="utf-8"):
                self.counters["get"] += 1
                self.apply(json.loads(line))

    def _ensure_cap(self, dim: int, need: int) -> None:
        if self.vecs.shape[1] == 0:
            self.vecs = np.zeros((max(1024, need), dim), np.float32)
        elif self.vecs.shape[0] < need:
            nv = np.zeros((max(need, self.vecs.shape[0] * 2), dim), np.float32)
            nv[: self.nvec] = self.vecs[: self.nvec]
            self.vecs = nv

    def apply(self, body: dict) -> int:
        if "schema" in body:
            self.schema.update(body["schema"])
            for k, v in body["schema"].items():
                if isinstance(v, dict) and v.get("full_text_search"):
                    self.fts_attr = k
        if "distance_metric" in body:
            self.metric = body["distance_metric"]
        n = 0
        for row in body.get("upsert_rows", []) or []:
            v = row.get("vector")
            if isinstance(v, str):
                vec = np.frombuffer(base64.b64decode(v), dtype="<f4")
            else:
                vec = np.asarray(v, dtype=np.float32)
            if self.metric == "cosine_distance":
                nrm = float(np.linalg.norm(vec))
                vec = vec / nrm if nrm > 0 else vec
            rid = row["id"]
            if rid in self.index:
                i = self.index[rid]
                for t in self.tf[i]:
                    self.postings[t].pop(i, None)
            else:
                i = len(self.ids)
                self.ids.append(rid)
                self.index[rid] = i
                self._ensure_cap(vec.shape[0], i + 1)
                self.nvec = i + 1
                for a in self.attrs.values():
                    a.append(None)
                self.tf.append(Counter())
                self.dl.append(0)
            self.vecs[i] = vec
            for k, val in row.items():
                if k in ("id", "vector"):
                    continue
                col = self.attrs[k]
                while len(col) < len(self.ids):
                    col.append(None)
                col[i] = val
            if self.fts_attr:
                c = Counter(tokens(str(row.get(self.fts_attr) or "")))
                self.tf[i] = c
                self.dl[i] = sum(c.values())
                for t, f in c.items():
                    self.postings[t][i] = f
            n += 1
        return n

    def write(self, body: dict) -> int:
        with self.lock:
            line = json.dumps(body)
            with open(self.wal, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self.counters["put"] += 1
            return self.apply(body)

    # ---- filters ----
    def mask(self, f) -> np.ndarray:
        n = len(self.ids)
        if f is None:
            return np.ones(n, bool)
        op = f[0]
        if op in ("And", "Or"):
            ms = [self.mask(x) for x in f[1]]
            out = ms[0].copy()
            for m in ms[1:]:
                out = (out & m) if op == "And" else (out | m)
            return out
        if op == "Not":
            return ~self.mask(f[1])
        attr, op, val = f
        col = self.ids if attr == "id" else self.attrs.get(attr, [None] * n)
        arr = np.array(col, dtype=object)
        if op == "Eq":
            return arr == val
        if op == "NotEq":
            return arr != val
        if op == "In":
            return np.isin(arr, list(val))
        if op == "NotIn":
            return ~np.isin(arr, list(val))
        raise ValueError(f"filters: operator {op} not supported by the mock")

    # ---- queries ----
    def query(self, q: dict) -> list[dict]:
        top_k = int(q.get("top_k") or q.get("limit") or 10)
        m = self.mask(q.get("filters"))
        rb = q.get("rank_by")
        n = len(self.ids)
        if rb is None:
            idx = np.nonzero(m)[0][:top_k]
            return [{"id": self.ids[i]} for i in idx]
        if rb[0] == "vector" and rb[1] in ("ANN", "kNN"):
            v = np.asarray(rb[2], dtype=np.float32)
            s = self.vecs[:n] @ v
            if self.metric == "cosine_distance":
                s = s / max(float(np.linalg.norm(v)), 1e-30)
                dist = 1.0 - s
            else:
                dist = -2 * s + (self.vecs[:n] ** 2).sum(1) + float(v @ v)
            dist = np.where(m, dist, np.inf)
            k = min(top_k, int(m.sum()))
            if k == 0:
                return []
            part = np.argpartition(dist, k - 1)[:k] if k < n else np.arange(n)
            order = part[np.lexsort((part, dist[part]))][:k]
            return [{"id": self.ids[i], "$dist": float(dist[i])} for i in order if np.isfinite(dist[i])]
        if rb[1] == "BM25":
            qt = tokens(rb[2])
            N = max(1, n)
            avgdl = (sum(self.dl) / N) or 1.0
            score = np.zeros(n, np.float64)
            for t in set(qt):
                post = self.postings.get(t)
                if not post:
                    continue
                df = len(post)
                idf = math.log(1 + (N - df + 0.5) / (df + 0.5))
                for i, f in post.items():
                    score[i] += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * self.dl[i] / avgdl))
            score = np.where(m & (score > 0), score, -np.inf)
            k = min(top_k, int(np.isfinite(score).sum()))
            if k == 0:
                return []
            order = np.lexsort((np.arange(n), -score))[:k]
            return [{"id": self.ids[i], "$dist": float(score[i])} for i in order]
        raise ValueError(f"rank_by {rb[:2]} not supported by the mock")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: "MockServer"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, code: int, obj) -> None:
        data = (obj if isinstance(obj, str) else json.dumps(obj)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(obj, str) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw or b"{}")

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ("/healthz", "/readyz"):
            return self._send(200, {"status": "ok"})
        if path == "/metrics":
            c = self.server.counters
            text = "".join(f'mock_object_store_requests_total{{op="{k}"}} {v}\n' for k, v in sorted(c.items()))
            return self._send(200, text or "mock_object_store_requests_total 0\n")
        m = re.match(r"^/v[12]/namespaces/([^/]+)/(metadata|schema)$", path)
        if m:
            ns = self.server.ns.get(m.group(1))
            if ns is None:
                return self._send(404, {"status": "error", "error": "namespace not found"})
            if m.group(2) == "schema":
                return self._send(200, ns.schema)
            return self._send(200, {"approx_row_count": len(ns.ids), "approx_logical_bytes": 0, "created_at": "2026-01-01T00:00:00Z",
                                    "updated_at": "2026-01-01T00:00:00Z", "schema": ns.schema, "index": {"status": "up-to-date"}})
        return self._send(404, {"status": "error", "error": f"no route {path}"})

    def do_POST(self):
        path = self.path.split("?")[0]
        try:
            body = self._body()
            m = re.match(r"^/v2/namespaces/([^/]+)(/query)?$", path)
            if not m:
                return self._send(404, {"status": "error", "error": f"no route {path}"})
            name = m.group(1)
            if m.group(2) is None:
                ns = self.server.get_ns(name, create=True)
                n = ns.write(body)
                return self._send(200, {"status": "OK", "rows_affected": n, "rows_upserted": n, "billing": {}})
            ns = self.server.get_ns(name)
            if ns is None:
                return self._send(404, {"status": "error", "error": "namespace not found"})
            perf = {"approx_namespace_size": len(ns.ids), "cache_hit_ratio": 1.0, "cache_temperature": "hot",
                    "exhaustive_search_count": len(ns.ids), "query_execution_ms": 0, "server_total_ms": 0}
            billing = {"billable_logical_bytes_queried": 0, "billable_logical_bytes_returned": 0}
            if "queries" in body:
                results = [ns.query(q) for q in body["queries"]]
                rr = body.get("rerank_by")
                if rr:
                    if rr[0] != "RRF":
                        raise ValueError("rerank_by: only RRF")
                    opts = rr[1] if len(rr) > 1 else {}
                    kc = opts.get("rank_constant", 60)
                    w = opts.get("weights") or [1.0] * len(results)
                    sc: dict = {}
                    for wi, rows in zip(w, results):
                        for r, row in enumerate(rows):
                            sc[row["id"]] = sc.get(row["id"], 0.0) + wi / (kc + r + 1)
                    fused = sorted(sc.items(), key=lambda kv: (-kv[1], kv[0]))[: int(body.get("limit") or 10)]
                    results = [[{"id": d, "$dist": s} for d, s in fused]]
                return self._send(200, {"results": [{"rows": r} for r in results], "billing": billing, "performance": perf})
            return self._send(200, {"rows": ns.query(body), "billing": billing, "performance": perf})
        except (ValueError, KeyError, TypeError) as e:
            return self._send(400, {"status": "error", "error": str(e)})


class MockServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, root: Path):
        super().__init__(addr, Handler)
        self.root = root
        self.counters: Counter = Counter()
        self.ns: dict[str, Namespace] = {}
        self.lock = threading.Lock()
        for d in sorted(root.iterdir()) if root.exists() else []:
            if (d / "wal.jsonl").exists():
                self.ns[d.name] = Namespace(d.name, root, self.counters)

    def get_ns(self, name: str, create: bool = False):
        with self.lock:
            if name not in self.ns and create:
                self.ns[name] = Namespace(name, self.root, self.counters)
            return self.ns.get(name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--root", type=Path, required=True)
    s.add_argument("--listen", default="127.0.0.1:8080")
    sub.add_parser("version")
    a, _ = ap.parse_known_args()
    if a.cmd == "version":
        print("mock_lagoon (test double, not Lagoon)")
        return 0
    host, port = a.listen.rsplit(":", 1)
    a.root.mkdir(parents=True, exist_ok=True)
    srv = MockServer((host, int(port)), a.root)
    print(f"mock_lagoon listening on {a.listen}", flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
