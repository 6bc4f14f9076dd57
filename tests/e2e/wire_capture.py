"""Capture what the turbopuffer 3.1.0 client sends, using a tiny fake HTTP server.

Run: python3 tests/e2e/wire_capture.py            (full responses)
     python3 tests/e2e/wire_capture.py --minimal  (check which response fields the client needs)

Not a test module (pytest does not collect it); it produced the facts in WIRE.md.
"""
from __future__ import annotations

import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import turbopuffer

CAPTURED: list[dict] = []
MINIMAL = "--minimal" in sys.argv
RESP_OVERRIDE: dict = {}  # (method, path-prefix) -> (status, body, headers)

BILLING_Q = {"billable_logical_bytes_queried": 0, "billable_logical_bytes_returned": 0}
PERF_Q = {
    "approx_namespace_size": 1, "cache_hit_ratio": 1.0, "cache_temperature": "hot",
    "exhaustive_search_count": 0, "query_execution_ms": 1, "server_total_ms": 1,
}
WRITE_OK = {"status": "OK", "message": "ok", "rows_affected": 1, "rows_upserted": 1,
            "billing": {"billable_logical_bytes_written": 10}}
META = {"approx_logical_bytes": 10, "approx_row_count": 1, "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z", "encryption": {"mode": "default"},
        "index": {"status": "up-to-date"}, "schema": {"a": {"type": "string", "filterable": True}}}


def full_response(method: str, path: str, body):
    p = path.split("?")[0]
    if method == "GET" and p == "/v1/namespaces":
        return 200, {"namespaces": [{"id": "ns1"}, {"id": "ns2"}], "next_cursor": None}
    if method == "DELETE":
        return 200, {"status": "OK"}
    if p.endswith("/metadata"):
        return 200, META
    if p.endswith("/schema"):
        return 200, {"id": {"type": "uint"}, "a": {"type": "string", "filterable": True}}
    if p.endswith("/hint_cache_warm"):
        return 200, {"status": "ACCEPTED"}
    if p.endswith("/_debug/recall"):
        return 200, {"avg_recall": 1.0, "avg_ann_count": 10.0, "avg_exhaustive_count": 10.0}
    if p.endswith("/explain_query"):
        return 200, {"plan_text": "Limit\n  VectorScan"}
    if p.endswith("/query"):
        if isinstance(body, dict) and "queries" in body:
            return 200, {"results": [{"rows": [{"id": 1, "$dist": 0.5}]}], "billing": BILLING_Q, "performance": PERF_Q}
        return 200, {"rows": [{"id": 1, "$dist": 0.5, "a": "x"}], "billing": BILLING_Q, "performance": PERF_Q}
    return 200, WRITE_OK


def minimal_response(method, path, body):
    return 200, {}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw) if raw else None
        CAPTURED.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        for (m, pref), (status, resp, hdrs) in RESP_OVERRIDE.items():
            if m == self.command and self.path.startswith(pref):
                break
        else:
            status, resp = (minimal_response if MINIMAL else full_response)(self.command, self.path, body)
            hdrs = {}
        data = json.dumps(resp).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = _handle


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    c = turbopuffer.Turbopuffer(api_key="test", base_url=url)
    ns = c.namespace("ns1")

    calls = [
        ("write upsert_rows float vec", lambda: ns.write(upsert_rows=[{"id": 1, "vector": [0.1, 0.2], "a": "x"}], distance_metric="cosine_distance")),
        ("write upsert_rows int vec", lambda: ns.write(upsert_rows=[{"id": 1, "vector": [1, 2], "a": "x"}])),
        ("write upsert_columns", lambda: ns.write(upsert_columns={"id": [1, 2], "vector": [[0.1, 0.2], [0.3, 0.4]], "a": ["x", None]}, distance_metric="euclidean_squared")),
        ("write patch_rows", lambda: ns.write(patch_rows=[{"id": 1, "a": "y", "vector": [0.5, 0.5]}])),
        ("write patch_columns", lambda: ns.write(patch_columns={"id": [1, 2], "a": ["y", "z"]})),
        ("write deletes", lambda: ns.write(deletes=[1, "2"])),
        ("write delete_by_filter", lambda: ns.write(delete_by_filter=("a", "Eq", "x"))),
        ("write patch_by_filter", lambda: ns.write(patch_by_filter={"filters": ("a", "Eq", "x"), "patch": {"b": 1}})),
        ("write upsert_condition", lambda: ns.write(upsert_rows=[{"id": 1, "v": 2}], upsert_condition=("v", "Lt", {"$ref_new": "v"}), return_affected_ids=True)),
        ("write schema", lambda: ns.write(upsert_rows=[{"id": 1, "text": "hi", "emb": [0.1, 0.2]}], schema={"text": {"type": "string", "full_text_search": True}, "emb": {"type": "[2]f32", "ann": True}})),
        ("branch_from", lambda: ns.branch_from(source_namespace="src")),
        ("copy_from", lambda: ns.copy_from(source_namespace="src")),
        ("query", lambda: ns.query(rank_by=("vector", "ANN", [0.1, 0.2]), filters=("And", [("a", "Eq", "x"), ("b", "Gt", 1)]), top_k=5, include_attributes=["a"], consistency={"level": "eventual"})),
        ("query bm25 sum", lambda: ns.query(rank_by=("Sum", [("t", "BM25", "hello"), ("Product", 2.0, ("u", "BM25", "x"))]), top_k=3, include_attributes=True)),
        ("query order-by", lambda: ns.query(rank_by=("ts", "desc"), limit=7, exclude_attributes=["vector"])),
        ("multi_query", lambda: ns.multi_query(queries=[{"rank_by": ("vector", "ANN", [0.1]), "top_k": 3}, {"rank_by": ("t", "BM25", "q"), "top_k": 3}], rerank_by=("RRF", {"rank_constant": 60, "weights": [1.0, 2.0]}), limit=5)),
        ("explain_query", lambda: ns.explain_query(rank_by=("vector", "ANN", [0.1]), top_k=3)),
        ("metadata", lambda: ns.metadata()),
        ("schema", lambda: ns.schema()),
        ("update_schema", lambda: ns.update_schema(schema={"a": {"type": "string", "filterable": False}})),
        ("exists", lambda: ns.exists()),
        ("delete_all", lambda: ns.delete_all()),
        ("recall", lambda: ns.recall(num=5, top_k=10)),
        ("hint_cache_warm", lambda: ns.hint_cache_warm()),
        ("namespaces", lambda: list(c.namespaces(prefix="n", page_size=2))),
    ]
    for name, fn in calls:
        CAPTURED.clear()
        try:
            r = fn()
            res = repr(r)[:300]
        except Exception as e:  # noqa: BLE001
            res = f"EXC {type(e).__name__}: {e}"[:300]
        print(f"### {name}")
        for cap in CAPTURED:
            h = {k: v for k, v in cap["headers"].items() if k.lower() in ("content-encoding", "content-type", "authorization", "accept-encoding", "prefer", "x-stainless-retry-count", "idempotency-key", "user-agent")}
            print(f"  {cap['method']} {cap['path']}")
            print(f"  headers: {h}")
            print(f"  body: {json.dumps(cap['body'])[:600]}")
        print(f"  -> {res}")

    # compression
    print("### compression=True, large body")
    CAPTURED.clear()
    c2 = turbopuffer.Turbopuffer(api_key="test", base_url=url, compression=True)
    c2.namespace("ns1").write(upsert_rows=[{"id": i, "a": "x" * 50} for i in range(50)])
    print("  headers:", {k: v for k, v in CAPTURED[0]["headers"].items() if k.lower() in ("content-encoding", "accept-encoding")})
    print("### compression default, large body")
    CAPTURED.clear()
    ns.write(upsert_rows=[{"id": i, "a": "x" * 50} for i in range(50)])
    print("  headers:", {k: v for k, v in CAPTURED[0]["headers"].items() if k.lower() in ("content-encoding", "accept-encoding")})

    # errors & retries
    for status in (400, 404, 409, 413, 429, 500, 503):
        RESP_OVERRIDE.clear()
        RESP_OVERRIDE[("POST", "/v2/namespaces/ns1")] = (status, {"status": "error", "error": "boom at upsert_rows[0].vector"}, {"Retry-After": "0"})
        CAPTURED.clear()
        try:
            ns.write(upsert_rows=[{"id": 1}])
            out = "no exception"
        except Exception as e:  # noqa: BLE001
            out = f"{type(e).__name__} status={getattr(e, 'status_code', None)} body={getattr(e, 'body', None)} msg={e}"
        print(f"### HTTP {status}: attempts={len(CAPTURED)} -> {out}")
    RESP_OVERRIDE.clear()
    RESP_OVERRIDE[("POST", "/v2/namespaces/ns1")] = (409, {"status": "error", "error": "conflict"}, {"x-should-retry": "false"})
    CAPTURED.clear()
    try:
        ns.write(upsert_rows=[{"id": 1}])
    except Exception as e:  # noqa: BLE001
        print(f"### 409 with x-should-retry:false attempts={len(CAPTURED)} {type(e).__name__}")
    RESP_OVERRIDE.clear()
    RESP_OVERRIDE[("POST", "/v2/namespaces/ns1")] = (409, {"status": "error", "error": "conflict"}, {})
    CAPTURED.clear()
    try:
        c.with_options(max_retries=0).namespace("ns1").write(upsert_rows=[{"id": 1}])
    except Exception as e:  # noqa: BLE001
        print(f"### 409 with max_retries=0 attempts={len(CAPTURED)} {type(e).__name__}")
    RESP_OVERRIDE.clear()
    RESP_OVERRIDE[("GET", "/v1/namespaces/ns1/hint_cache_warm")] = (202, {"status": "ACCEPTED"}, {})
    print("### hint_cache_warm 202 ->", ns.hint_cache_warm())
    RESP_OVERRIDE.clear()
    RESP_OVERRIDE[("GET", "/v1/namespaces/ns1/schema")] = (404, {"status": "error", "error": "namespace not found"}, {})
    print("### exists() with 404 ->", ns.exists())
    RESP_OVERRIDE.clear()
    # pagination
    pages = {"": {"namespaces": [{"id": "a"}, {"id": "b"}], "next_cursor": "b"},
             "b": {"namespaces": [{"id": "c"}], "next_cursor": None}}

    class P(H):
        def _handle(self):
            CAPTURED.append({"path": self.path})
            from urllib.parse import parse_qs, urlsplit
            q = parse_qs(urlsplit(self.path).query)
            data = json.dumps(pages[q.get("cursor", [""])[0]]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        do_GET = _handle
    srv2 = ThreadingHTTPServer(("127.0.0.1", 0), P)
    threading.Thread(target=srv2.serve_forever, daemon=True).start()
    c3 = turbopuffer.Turbopuffer(api_key="test", base_url=f"http://127.0.0.1:{srv2.server_address[1]}")
    CAPTURED.clear()
    ids = [n.id for n in c3.namespaces(prefix="x", page_size=2)]
    print("### pagination ->", ids, [c["path"] for c in CAPTURED])


if __name__ == "__main__":
    main()
