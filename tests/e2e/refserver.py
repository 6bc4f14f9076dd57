#!/usr/bin/env python3
"""A small in-memory *reference model* of the wire API the e2e suite expects, used to self-check the
suite (test plumbing, oracles, client usage) while the Swift server is being written:

    LAGOON_BIN=tests/e2e/refserver.py python3 -m pytest tests/e2e

Usage mirrors the real binary: `refserver.py serve --root DIR --listen HOST:PORT`. Durability: each
acknowledged write is appended (fsync'd) to DIR/wal.jsonl as its resolved effect and replayed on
start, so the crash tests run too. Not a product; no performance; BM25 reuses the suite's oracle.
"""
from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import gzip
import json
import math
import os
import re
import struct
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import BM25Field, tokenize  # noqa: E402

MAX_BODY = int(os.environ.get("LAGOON_SERVER__MAX_BODY_BYTES", str(256 << 20)))
NAME_RE = re.compile(r"^[A-Za-z0-9\-_.]{1,128}$")
WRITE_KEYS = {"upsert_rows", "upsert_columns", "patch_rows", "patch_columns", "deletes", "delete_by_filter",
              "patch_by_filter", "upsert_condition", "patch_condition", "delete_condition", "distance_metric",
              "schema", "return_affected_ids", "branch_from_namespace", "copy_from_namespace",
              "disable_backpressure", "create_namespace"}
QUERY_KEYS = {"rank_by", "filters", "top_k", "limit", "include_attributes", "exclude_attributes", "consistency",
              "vector_encoding", "distance_metric", "aggregate_by", "group_by", "queries", "rerank_by", "offset"}
OUT_OF_SCOPE_OPS = {"Regex", "Fuzzy", "ContainsTokenSequence", "AnyLt", "AnyLte", "AnyGt", "AnyGte"}
OPS = {"Eq", "NotEq", "In", "NotIn", "Lt", "Lte", "Gt", "Gte", "Contains", "NotContains", "ContainsAny",
       "NotContainsAny", "Glob", "NotGlob", "IGlob", "NotIGlob", "ContainsAllTokens", "ContainsAnyToken"}
SCALARS = {"string", "int", "uint", "float", "uuid", "datetime", "bool"}


class Bad(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status, self.msg = status, msg


def bad(path, why):
    raise Bad(400, f"{path}: {why}")


def now():
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class NS:
    def __init__(self, name):
        self.name = name
        self.docs: dict = {}
        self.schema: dict = {}
        self.metric = None
        self.created = now()
        self.updated = self.created


STATE: dict[str, NS] = {}
LOCK = threading.RLock()
WAL = None


# ------------------------------------------------------------------------------------- values


def vtype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return None


def check_value(path, v, typ):
    if typ.startswith("[]"):
        if not isinstance(v, list):
            bad(path, f"expected {typ}, got {json.dumps(v)}")
        for k, e in enumerate(v):
            check_value(f"{path}[{k}]", e, typ[2:])
        return
    t = vtype(v)
    ok = (t == typ or (typ == "float" and t == "int") or (typ == "uint" and t == "int" and v >= 0)
          or (typ in ("uuid", "datetime") and t == "string"))
    if not ok:
        bad(path, f"expected {typ}, got {json.dumps(v)}")


def infer(path, v):
    if isinstance(v, list):
        if not v:
            return None
        t = vtype(v[0])
        if t is None:
            bad(path, "unsupported value")
        return "[]" + t
    t = vtype(v)
    if t is None:
        bad(path, "unsupported value")
    return t


def decode_vec(path, v):
    if isinstance(v, str):
        try:
            raw = base64.b64decode(v, validate=True)
        except Exception:
            bad(path, "invalid base64")
        if len(raw) % 4:
            bad(path, "base64 vector length is not a multiple of 4 bytes")
        vec = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    elif isinstance(v, list):
        vec = []
        for k, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                bad(f"{path}[{k}]", "vector elements must be numbers")
            vec.append(float(x))
        vec = list(struct.unpack(f"<{len(vec)}f", struct.pack(f"<{len(vec)}f", *vec)))
    else:
        bad(path, "vector must be a float array or base64 string")
    if not vec:
        bad(path, "empty vector")
    if any(not math.isfinite(x) for x in vec):
        bad(path, "vector contains NaN or infinity")
    return vec


def check_id(path, i, ns_schema):
    kind = ns_schema.get("id", {}).get("type")
    if isinstance(i, bool) or i is None or not isinstance(i, (int, str)):
        bad(path, f"id must be an unsigned integer, UUID or string, got {json.dumps(i)}")
    if isinstance(i, int):
        if i < 0 or i >= 2**64:
            bad(path, "integer ids must be u64")
        k = "uint"
    else:
        if len(i.encode()) > 64:
            bad(path, "string ids are at most 64 bytes")
        k = "string"
        if kind == "uuid":
            try:
                return str(uuid.UUID(i))
            except ValueError:
                bad(path, "not a UUID")
    if kind is not None and kind != k:
        bad(path, f"id kind {k} does not match the namespace's {kind}")
    return i


# ------------------------------------------------------------------------------------- filters


def parse_filter(path, f, schema):
    if not isinstance(f, list) or not f:
        bad(path, "filter must be an array")
    if f[0] in ("And", "Or"):
        if len(f) != 2 or not isinstance(f[1], list):
            bad(path, f"{f[0]} takes a list of filters")
        for k, g in enumerate(f[1]):
            parse_filter(f"{path}[1][{k}]", g, schema)
        return
    if f[0] == "Not":
        if len(f) != 2:
            bad(path, "Not takes one filter")
        parse_filter(f"{path}[1]", f[1], schema)
        return
    if len(f) < 3 or not isinstance(f[0], str) or not isinstance(f[1], str):
        bad(path, "expected [attribute, operator, value]")
    op = f[1]
    if op in OUT_OF_SCOPE_OPS:
        bad(f"{path}[1]", f"filter operator {op} is out of scope (not supported in v1)")
    if op not in OPS:
        bad(f"{path}[1]", f"unknown filter operator {op}")
    if len(f) != 3:
        bad(path, "expected [attribute, operator, value]")
    if op in ("In", "NotIn", "ContainsAny", "NotContainsAny") and not isinstance(f[2], list):
        bad(f"{path}[2]", f"{op} takes an array")
    if op in ("Glob", "NotGlob", "IGlob", "NotIGlob") and not isinstance(f[2], str):
        bad(f"{path}[2]", f"{op} takes a string")


def eval_filter(doc_id, doc, f, ref_new=None):
    if f[0] == "And":
        return all(eval_filter(doc_id, doc, g, ref_new) for g in f[1])
    if f[0] == "Or":
        return any(eval_filter(doc_id, doc, g, ref_new) for g in f[1])
    if f[0] == "Not":
        return not eval_filter(doc_id, doc, f[1], ref_new)
    attr, op, arg = f
    if isinstance(arg, dict) and "$ref_new" in arg:
        arg = (ref_new or {}).get(arg["$ref_new"])
    v = doc_id if attr == "id" else doc.get(attr)
    if op == "Eq":
        return v == arg
    if op == "NotEq":
        return v != arg
    if v is None:
        return op.startswith("Not")
    try:
        if op == "In":
            return v in arg
        if op == "NotIn":
            return v not in arg
        if op == "Lt":
            return arg is not None and v < arg
        if op == "Lte":
            return arg is not None and v <= arg
        if op == "Gt":
            return arg is not None and v > arg
        if op == "Gte":
            return arg is not None and v >= arg
        if op == "Contains":
            return isinstance(v, list) and arg in v
        if op == "NotContains":
            return not (isinstance(v, list) and arg in v)
        if op == "ContainsAny":
            return isinstance(v, list) and any(a in v for a in arg)
        if op == "NotContainsAny":
            return not (isinstance(v, list) and any(a in v for a in arg))
        if op == "Glob":
            return fnmatch.fnmatchcase(v, arg)
        if op == "NotGlob":
            return not fnmatch.fnmatchcase(v, arg)
        if op == "IGlob":
            return fnmatch.fnmatchcase(v.lower(), arg.lower())
        if op == "NotIGlob":
            return not fnmatch.fnmatchcase(v.lower(), arg.lower())
        if op == "ContainsAllTokens":
            return set(tokenize(arg)) <= set(tokenize(v))
        if op == "ContainsAnyToken":
            return bool(set(tokenize(arg)) & set(tokenize(v)))
    except TypeError:
        return False
    return False


def id_key(i):
    return (0, i, "") if isinstance(i, int) else (1, 0, i)


# ------------------------------------------------------------------------------------- writes


def do_write(name, body):
    unknown = set(body) - WRITE_KEYS
    if unknown:
        bad(sorted(unknown)[0], "unknown write option")
    with LOCK:
        if "branch_from_namespace" in body or "copy_from_namespace" in body:
            key = "branch_from_namespace" if "branch_from_namespace" in body else "copy_from_namespace"
            src = body[key]
            src = src.get("source_namespace") if isinstance(src, dict) else src
            if src not in STATE:
                raise Bad(404, f"{key}.source_namespace: namespace {src} not found")
            s = STATE[src]
            n = STATE.get(name) or NS(name)
            n.docs.update(clone(s).docs)
            n.schema = {**s.schema, **n.schema}
            n.metric = n.metric or s.metric
            n.updated = now()
            commit(name, n)
            return ok_write(len(s.docs), rows_upserted=len(s.docs))
        cur = STATE.get(name)
        n = NS(name) if cur is None else clone(cur)
        schema = n.schema
        if "distance_metric" in body:
            if body["distance_metric"] not in ("cosine_distance", "euclidean_squared"):
                bad("distance_metric", f"unknown distance metric {body['distance_metric']!r}")
            n.metric = body["distance_metric"]
        if "schema" in body:
            apply_schema("schema", body["schema"], schema)
        counts = {"rows_upserted": 0, "rows_patched": 0, "rows_deleted": 0}
        affected = {"upserted_ids": [], "patched_ids": [], "deleted_ids": []}

        def take_rows(key, patch):
            rows = []
            if key + "_rows" in body:
                rr = body[key + "_rows"]
                if not isinstance(rr, list):
                    bad(key + "_rows", "expected an array")
                for k, r in enumerate(rr):
                    if not isinstance(r, dict) or "id" not in r:
                        bad(f"{key}_rows[{k}]", "row needs an id")
                    rows.append((f"{key}_rows[{k}]", r, lambda a, k=k, key=key: f"{key}_rows[{k}].{a}"))
            if key + "_columns" in body:
                cols = body[key + "_columns"]
                if not isinstance(cols, dict) or "id" not in cols or not isinstance(cols["id"], list):
                    bad(key + "_columns", "needs an id column")
                ln = len(cols["id"])
                for c, vals in cols.items():
                    if not isinstance(vals, list) or len(vals) != ln:
                        bad(f"{key}_columns.{c}", f"column length differs from id column ({ln})")
                for k in range(ln):
                    r = {c: vals[k] for c, vals in cols.items() if vals[k] is not None or patch}
                    rows.append((f"{key}_columns", r, lambda a, k=k, key=key: f"{key}_columns.{a}[{k}]"))
            out = []
            for _, r, p in rows:
                i = check_id(p("id"), r["id"], schema)
                attrs = {}
                for a, v in r.items():
                    if a == "id":
                        continue
                    if v is None:
                        attrs[a] = None
                        continue
                    if a == "vector" or schema.get(a, {}).get("type", "").endswith("f32]") or re.match(r"^\[\d+\]f(32|16)$", schema.get(a, {}).get("type", "")):
                        vec = decode_vec(p(a), v)
                        t = schema.get(a, {}).get("type")
                        if t is None:
                            schema[a] = {"type": f"[{len(vec)}]f32", "ann": True}
                        elif t != f"[{len(vec)}]f32" and t != f"[{len(vec)}]f16":
                            bad(p(a), f"vector has {len(vec)} dimensions, the namespace has {t}")
                        attrs[a] = vec
                        continue
                    t = schema.get(a, {}).get("type")
                    if t is None:
                        t = infer(p(a), v)
                        if t is not None:
                            schema[a] = {"type": t}
                    if t is not None:
                        check_value(p(a), v, t)
                    attrs[a] = v
                if "id" not in schema:
                    schema["id"] = {"type": "uint" if isinstance(i, int) else "string"}
                out.append((i, attrs))
            return out

        ups = take_rows("upsert", False)
        pats = take_rows("patch", True)
        dels = body.get("deletes", [])
        if not isinstance(dels, list):
            bad("deletes", "expected an array")
        dels = [check_id(f"deletes[{k}]", i, schema) for k, i in enumerate(dels)]
        for key in ("upsert_condition", "patch_condition", "delete_condition", "delete_by_filter"):
            if key in body:
                parse_filter(key, body[key], schema)
        if "patch_by_filter" in body:
            pbf = body["patch_by_filter"]
            if not isinstance(pbf, dict) or "filters" not in pbf or "patch" not in pbf:
                bad("patch_by_filter", "needs filters and patch")
            parse_filter("patch_by_filter.filters", pbf["filters"], schema)

        docs = n.docs
        if "delete_by_filter" in body:
            for i in [i for i, d in docs.items() if eval_filter(i, d, body["delete_by_filter"])]:
                del docs[i]
                counts["rows_deleted"] += 1
                affected["deleted_ids"].append(i)
        if "patch_by_filter" in body:
            pbf = body["patch_by_filter"]
            for i, d in docs.items():
                if eval_filter(i, d, pbf["filters"]):
                    for a, v in pbf["patch"].items():
                        if v is None:
                            d.pop(a, None)
                        else:
                            d[a] = v
                    counts["rows_patched"] += 1
                    affected["patched_ids"].append(i)
        for i, attrs in ups:
            cond = body.get("upsert_condition")
            if cond is not None and i in docs and not eval_filter(i, docs[i], cond, attrs):
                continue
            docs[i] = {a: v for a, v in attrs.items() if v is not None}
            counts["rows_upserted"] += 1
            affected["upserted_ids"].append(i)
        for i, attrs in pats:
            if i not in docs:
                continue
            cond = body.get("patch_condition")
            if cond is not None and not eval_filter(i, docs[i], cond, attrs):
                continue
            for a, v in attrs.items():
                if v is None:
                    docs[i].pop(a, None)
                else:
                    docs[i][a] = v
            counts["rows_patched"] += 1
            affected["patched_ids"].append(i)
        for i in dels:
            if i not in docs:
                continue
            cond = body.get("delete_condition")
            if cond is not None and not eval_filter(i, docs[i], cond):
                continue
            del docs[i]
            counts["rows_deleted"] += 1
            affected["deleted_ids"].append(i)
        if cur is None and not docs and not counts["rows_upserted"]:
            return ok_write(0)
        n.updated = now()
        commit(name, n)
        extra = {k: v for k, v in counts.items() if v}
        if body.get("return_affected_ids"):
            extra.update({k: v for k, v in affected.items() if v})
        return ok_write(sum(counts.values()), **extra)


def apply_schema(path, sch, schema):
    if not isinstance(sch, dict):
        bad(path, "schema must be an object")
    for a, cfg in sch.items():
        if isinstance(cfg, str):
            cfg = {"type": cfg}
        if not isinstance(cfg, dict):
            bad(f"{path}.{a}", "expected an object")
        t = cfg.get("type")
        if t is not None:
            base = t[2:] if t.startswith("[]") else t
            if base not in SCALARS and not re.match(r"^\[\d+\]f(32|16)$", t):
                bad(f"{path}.{a}.type", f"unknown type {t}")
            old = schema.get(a, {}).get("type")
            if old is not None and old != t:
                bad(f"{path}.{a}.type", f"cannot change type from {old} to {t}")
        merged = {**schema.get(a, {}), **cfg}
        if "type" not in merged:
            bad(f"{path}.{a}", "type required")
        schema[a] = merged


def clone(n):
    c = NS(n.name)
    c.docs = json.loads(json.dumps(list(n.docs.items())))
    c.docs = {k: v for k, v in c.docs}
    c.schema = json.loads(json.dumps(n.schema))
    c.metric, c.created, c.updated = n.metric, n.created, n.updated
    return c


def commit(name, n):
    rec = {"ns": name, "docs": list(n.docs.items()), "schema": n.schema, "metric": n.metric,
           "created": n.created, "updated": n.updated}
    wal_append(rec)
    STATE[name] = n


def wal_append(rec):
    WAL.write(json.dumps(rec) + "\n")
    WAL.flush()
    os.fsync(WAL.fileno())


def ok_write(n, **extra):
    return {"status": "OK", "message": "ok", "rows_affected": n,
            "billing": {"billable_logical_bytes_written": 0}, **extra}


# ------------------------------------------------------------------------------------- queries


def get_ns(name):
    n = STATE.get(name)
    if n is None:
        raise Bad(404, f"namespace {name} not found")
    return n


def rank_scores(path, rb, n, docs):
    """Returns (scores: id -> score, higher_is_better) or ("order", attr, desc)."""
    if not isinstance(rb, list) or not rb:
        bad(path, "rank_by must be an array")
    if rb[0] in ("Sum", "Max"):
        if len(rb) != 2 or not isinstance(rb[1], list):
            bad(path, f"{rb[0]} takes a list")
        parts = [rank_scores(f"{path}[1][{k}]", e, n, docs)[0] for k, e in enumerate(rb[1])]
        ids = set().union(*[p.keys() for p in parts])
        f = sum if rb[0] == "Sum" else max
        return {i: f(p.get(i, 0.0) for p in parts) for i in ids}, True
    if rb[0] == "Product":
        if len(rb) != 3:
            bad(path, "Product takes a weight and an expression")
        if isinstance(rb[1], (int, float)):
            w, e, ep = rb[1], rb[2], f"{path}[2]"
        else:
            w, e, ep = rb[2], rb[1], f"{path}[1]"
        s, _ = rank_scores(ep, e, n, docs)
        return {i: w * v for i, v in s.items()}, True
    if len(rb) == 2 and rb[1] in ("asc", "desc"):
        return ("order", rb[0], rb[1] == "desc"), None
    if len(rb) >= 3 and rb[1] in ("ANN", "kNN"):
        attr = rb[0]
        t = n.schema.get(attr, {}).get("type", "")
        m = re.match(r"^\[(\d+)\]f(32|16)$", t)
        if not m:
            bad(f"{path}[0]", f"{attr} is not a vector attribute")
        q = rb[2]
        if not isinstance(q, list) or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in q):
            bad(f"{path}[2]", "query vector must be an array of numbers")
        if len(q) != int(m.group(1)):
            bad(f"{path}[2]", f"query vector has {len(q)} dimensions, expected {m.group(1)}")
        out = {}
        for i, d in docs.items():
            v = d.get(attr)
            if v is None:
                continue
            if n.metric == "euclidean_squared":
                out[i] = sum((a - b) ** 2 for a, b in zip(q, v))
            else:
                dot = sum(a * b for a, b in zip(q, v))
                nq = math.sqrt(sum(a * a for a in q))
                nv = math.sqrt(sum(b * b for b in v))
                out[i] = 1.0 - dot / (nq * nv) if nq and nv else 1.0
        return out, False
    if len(rb) >= 3 and rb[1] == "BM25":
        attr = rb[0]
        fts = n.schema.get(attr, {}).get("full_text_search")
        if not fts:
            bad(f"{path}[0]", f"{attr} has no full_text_search index")
        cfg = fts if isinstance(fts, dict) else {}
        q = rb[2] if isinstance(rb[2], str) else " ".join(rb[2])
        f = BM25Field({i: d.get(attr) for i, d in docs.items() if isinstance(d.get(attr), str)},
                      k1=cfg.get("k1", 1.2), b=cfg.get("b", 0.75))
        return f.scores(q), True
    bad(f"{path}[1]" if len(rb) > 1 else path, f"unknown rank_by {json.dumps(rb)[:60]}")


def run_query(n, body, path=""):
    p = (lambda k: f"{path}{k}") if path else (lambda k: k)
    unknown = set(body) - QUERY_KEYS
    if unknown:
        bad(p(sorted(unknown)[0]), "unknown query option")
    if "aggregate_by" in body or "group_by" in body:
        bad(p("aggregate_by" if "aggregate_by" in body else "group_by"), "aggregations are out of scope (not supported in v1)")
    top_k = body.get("top_k", body.get("limit", 10))
    if isinstance(top_k, dict):
        top_k = top_k.get("total", 10)
    if not isinstance(top_k, int) or top_k < 0:
        bad(p("top_k"), "must be a non-negative integer")
    inc = body.get("include_attributes", None)
    if inc is not None and not isinstance(inc, (bool, list)):
        bad(p("include_attributes"), "must be a boolean or a list of names")
    if "filters" in body:
        parse_filter(p("filters"), body["filters"], n.schema)
    docs = n.docs
    if "filters" in body:
        docs = {i: d for i, d in docs.items() if eval_filter(i, d, body["filters"])}
    dist = None
    if "rank_by" in body:
        scores, hib = rank_scores(p("rank_by"), body["rank_by"], n, n.docs)  # BM25 stats: whole namespace
        if not isinstance(scores, tuple):
            scores = {i: s for i, s in scores.items() if i in docs}
        if isinstance(scores, tuple):
            _, attr, desc = scores
            keyed = [(i, (i if attr == "id" else d.get(attr))) for i, d in docs.items()]
            have = [x for x in keyed if x[1] is not None]
            have.sort(key=lambda x: (x[1], id_key(x[0])), reverse=desc)
            order = [i for i, _ in have]
        else:
            order = sorted(scores, key=lambda i: ((-scores[i] if hib else scores[i]), id_key(i)))
            dist = scores
    else:
        order = sorted(docs, key=id_key)
    order = order[:top_k]
    rows = []
    exc = set(body.get("exclude_attributes") or [])
    for i in order:
        d = n.docs[i]
        row = {"id": i}
        if dist is not None:
            row["$dist"] = dist[i]
        if inc is True or (inc is None and exc):
            row.update({a: v for a, v in d.items() if a not in exc})
        elif isinstance(inc, list):
            row.update({a: d[a] for a in inc if a in d and a != "id"})
        rows.append(row)
    return rows


def envelope(n, **kw):
    return {**kw, "billing": {"billable_logical_bytes_queried": 0, "billable_logical_bytes_returned": 0},
            "performance": {"approx_namespace_size": len(n.docs), "cache_hit_ratio": 1.0, "cache_temperature": "hot",
                            "exhaustive_search_count": len(n.docs), "query_execution_ms": 0, "server_total_ms": 0}}


def do_query(name, body):
    with LOCK:
        n = get_ns(name)
        if "queries" in body:
            qs = body["queries"]
            if not isinstance(qs, list) or not 1 <= len(qs) <= 16:
                bad("queries", "between 1 and 16 queries")
            results = [run_query(n, q, f"queries[{k}].") for k, q in enumerate(qs)]
            rr = body.get("rerank_by")
            if rr is None:
                return envelope(n, results=[{"rows": r} for r in results])
            if not isinstance(rr, list) or not rr or rr[0] != "RRF":
                bad("rerank_by", "only RRF is supported")
            cfg = rr[1] if len(rr) > 1 else {}
            k = cfg.get("rank_constant", 60)
            w = cfg.get("weights", [1.0] * len(results))
            if len(w) != len(results):
                bad("rerank_by[1].weights", "one weight per sub-query")
            fused: dict = {}
            for wt, r in zip(w, results):
                for rank, row in enumerate(r, start=1):
                    fused[row["id"]] = fused.get(row["id"], 0.0) + wt / (k + rank)
            lim = body.get("limit", 10)
            lim = lim.get("total", 10) if isinstance(lim, dict) else lim
            order = sorted(fused, key=lambda i: (-fused[i], id_key(i)))[:lim]
            return envelope(n, results=[{"rows": [{"id": i, "$dist": fused[i]} for i in order]}])
        return envelope(n, rows=run_query(n, body))


def do_explain(name, body):
    with LOCK:
        n = get_ns(name)
        run_query(n, body)
        lines = [f"TopK(k={body.get('top_k', 10)})"]
        rb = body.get("rank_by")
        if rb and len(rb) >= 2 and rb[1] in ("ANN", "kNN"):
            lines.append("  ExactKNN(WalTailScan)" if rb[1] == "kNN" else "  ANN -> ExactKNN fallback")
        elif rb and "BM25" in json.dumps(rb):
            lines.append("  BM25")
        if "filters" in body:
            lines.append("    Filter")
        lines.append("      Scan")
        return {"plan_text": "\n".join(lines)}


def schema_out(n):
    return {a: {k: v for k, v in cfg.items()} for a, cfg in n.schema.items()}


# ------------------------------------------------------------------------------------- http


def reject_constant(c):
    raise Bad(400, f"invalid JSON: {c} is not a JSON number")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj, close=False):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 409:
            self.send_header("x-should-retry", "false")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                self.send_json(413, {"status": "error", "error": f"request body of {n} bytes exceeds {MAX_BODY}"}, close=True)
                return
            raw = self.rfile.read(n) if n else b""
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            body = None
            if raw:
                try:
                    body = json.loads(raw, parse_constant=reject_constant)
                except json.JSONDecodeError as e:
                    raise Bad(400, f"invalid JSON: {e}")
            self.send_json(200, self.route(self.command, urlsplit(self.path), body))
        except Bad as e:
            self.send_json(e.status, {"status": "error", "error": e.msg})

    do_GET = do_POST = do_DELETE = do_PATCH = handle_any

    def route(self, method, u, body):
        parts = [unquote(x) for x in u.path.strip("/").split("/")]
        if u.path in ("/readyz", "/healthz"):
            return {"status": "ok"}
        if parts[:2] == ["v1", "namespaces"] and len(parts) == 2 and method == "GET":
            q = parse_qs(u.query)
            prefix = q.get("prefix", [""])[0]
            cursor = q.get("cursor", [""])[0]
            size = int(q.get("page_size", ["100"])[0])
            with LOCK:
                names = sorted(x for x in STATE if x.startswith(prefix) and x > cursor)
            page = names[:size]
            out = {"namespaces": [{"id": x} for x in page]}
            if len(names) > size:
                out["next_cursor"] = page[-1]
            return out
        if len(parts) < 3 or parts[1] != "namespaces":
            raise Bad(404, "no such route")
        name = parts[2]
        if not NAME_RE.match(name):
            raise Bad(400, f"namespace: invalid name {name!r}")
        rest = parts[3:]
        if parts[0] == "v2" and not rest and method == "POST":
            return do_write(name, body or {})
        if parts[0] == "v2" and not rest and method == "DELETE":
            with LOCK:
                get_ns(name)
                del STATE[name]
                wal_append({"ns": name, "deleted": True})
            return {"status": "OK"}
        if parts[0] == "v2" and rest == ["query"]:
            return do_query(name, body or {})
        if parts[0] == "v2" and rest == ["explain_query"]:
            return do_explain(name, body or {})
        if parts[0] == "v2" and rest == ["metadata"]:
            with LOCK:
                n = get_ns(name)
                return {"approx_row_count": len(n.docs), "approx_logical_bytes": len(json.dumps(list(n.docs.items()))),
                        "created_at": n.created, "updated_at": n.updated, "encryption": {"mode": "default"},
                        "index": {"status": "up-to-date"}, "schema": schema_out(n)}
        if parts[0] == "v1" and rest == ["schema"]:
            with LOCK:
                n = get_ns(name)
                if method == "POST":
                    c = clone(n)
                    apply_schema("", body or {}, c.schema)
                    commit(name, c)
                    n = c
                return schema_out(n)
        if parts[0] == "v1" and rest == ["_debug", "recall"]:
            with LOCK:
                n = get_ns(name)
                k = min((body or {}).get("top_k", 10), len(n.docs))
                return {"avg_recall": 1.0, "avg_ann_count": float(k), "avg_exhaustive_count": float(k)}
        if parts[0] == "v1" and rest == ["hint_cache_warm"]:
            with LOCK:
                get_ns(name)
            return {"status": "ACCEPTED"}
        raise Bad(404, "no such route")


def load(root):
    global WAL
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "wal.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    break  # torn tail
                if rec.get("deleted"):
                    STATE.pop(rec["ns"], None)
                    continue
                n = NS(rec["ns"])
                n.docs = {k: v for k, v in rec["docs"]}
                n.schema, n.metric, n.created, n.updated = rec["schema"], rec["metric"], rec["created"], rec["updated"]
                STATE[rec["ns"]] = n
    WAL = open(path, "a")


def main(argv):
    if not argv or argv[0] != "serve":
        print("usage: refserver.py serve --root DIR --listen HOST:PORT", file=sys.stderr)
        return 2
    args = dict(zip(argv[1::2], argv[2::2]))
    root = args.get("--root") or os.environ["LAGOON_STORAGE__ROOT"]
    listen = args.get("--listen") or os.environ.get("LAGOON_SERVER__LISTEN", "127.0.0.1:8080")
    host, port = listen.rsplit(":", 1)
    load(root)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
