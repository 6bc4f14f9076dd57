"""Seeded fuzz harness: structured mutations of valid write and query bodies.

Each case starts from a valid body (write, query, explain_query, schema change or
_debug/recall) for a small namespace (4-d vectors, a
full-text title, ints, floats, string arrays, bools, datetimes) and applies 1-4 mutations:
drop / duplicate / retype fields, huge, negative and non-finite numbers (as raw JSON literals
such as 1e400 and NaN), gzip (also truncated) and unknown encodings, deep nesting within the parser's limit, bad UTF-8 and bad \\u escapes,
wrong vector dimensions, random filter and rank_by trees, nulls. Every answer must be 2xx or
4xx, the server must stay alive, and a rejected write (4xx) must change nothing: the
namespace's schema and rows (a checksum of an id-ordered full read) are the same before and after.

Replay: the run is deterministic for a seed (case i draws from Random(f"{seed}:{i}")).
  LAGOON_FUZZ_SEED    seed (default 6; a failure prints it with the case index)
  LAGOON_FUZZ_CASES   number of cases (default 8000)
  LAGOON_FUZZ_SECONDS stop early after this long (default 150; the cases run so far count)
  LAGOON_FUZZ_SHOW    a case index: print that case's request and stop there
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass

import requests

from conftest import API_KEY

SEED = int(os.environ.get("LAGOON_FUZZ_SEED", "6"))
CASES = int(os.environ.get("LAGOON_FUZZ_CASES", "8000"))
SECONDS = float(os.environ.get("LAGOON_FUZZ_SECONDS", "150"))
SHOW = os.environ.get("LAGOON_FUZZ_SHOW")
DIM = 4
NS = "fuzz"
ID_SPACE = 48  # ids stay in a small range, so accepted writes keep the namespace small
ATTRS = ["title", "n", "f", "tags", "flag", "ts", "vector", "id"]
FILTER_OPS = ["Eq", "NotEq", "In", "NotIn", "Lt", "Lte", "Gt", "Gte", "Contains", "NotContains",
              "ContainsAny", "NotContainsAny", "Glob", "NotGlob", "IGlob", "NotIGlob",
              "ContainsAllTokens", "ContainsAnyToken", "Regex", "Fuzzy", "Bogus"]


# ----------------------------------------------------------------------------------------------
# JSON with things json.dumps cannot write: raw literals (1e400, NaN, bad escapes), duplicate keys


@dataclass
class Raw:
    """Written verbatim into the body."""
    text: str


@dataclass
class Dup:
    """An object that may repeat keys: [(key, value), ...]."""
    pairs: list


def encode(v) -> str:
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, Dup):
        return "{" + ",".join(json.dumps(k) + ":" + encode(x) for k, x in v.pairs) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + encode(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(encode(x) for x in v) + "]"
    if isinstance(v, float) and not math.isfinite(v):
        return "1e999" if v > 0 else ("-1e999" if v < 0 else "0")
    return json.dumps(v)


def body_bytes(v) -> bytes:
    text = encode(v)
    # Raw bytes that are not UTF-8 at all ride in as a marker the encoder leaves alone.
    return text.encode("utf-8", "surrogatepass").replace(b"@@BADUTF8@@", b"\xff\xfe\xc3")


# ----------------------------------------------------------------------------------------------
# valid bodies


def rand_vector(rng: random.Random, dim: int = DIM) -> list:
    return [round(rng.uniform(-1, 1), 4) for _ in range(dim)]


def rand_id(rng: random.Random) -> int:
    return rng.randrange(ID_SPACE)


def rand_row(rng: random.Random) -> dict:
    row = {"id": rand_id(rng), "vector": rand_vector(rng)}
    if rng.random() < 0.8:
        row["title"] = " ".join(rng.choice(["red", "fox", "lazy", "dog", "jumps", "über", "naïve", "q"]) for _ in range(rng.randrange(1, 6)))
    if rng.random() < 0.8:
        row["n"] = rng.randrange(-1000, 1000)
    if rng.random() < 0.5:
        row["f"] = rng.uniform(-10, 10)
    if rng.random() < 0.5:
        row["tags"] = rng.sample(["a", "b", "c", "d"], rng.randrange(0, 4))
    if rng.random() < 0.4:
        row["flag"] = rng.random() < 0.5
    if rng.random() < 0.3:
        row["ts"] = f"2026-0{rng.randrange(1, 10)}-1{rng.randrange(0, 10)}T10:00:00Z"
    return row


def valid_write(rng: random.Random) -> dict:
    kind = rng.choice(["upsert_rows", "upsert_rows", "patch_rows", "upsert_columns", "deletes",
                       "delete_by_filter", "patch_by_filter", "condition", "schema"])
    if kind == "upsert_rows":
        return {"upsert_rows": [rand_row(rng) for _ in range(rng.randrange(1, 5))]}
    if kind == "patch_rows":
        return {"patch_rows": [{"id": rand_id(rng), "n": rng.randrange(100)} for _ in range(rng.randrange(1, 4))]}
    if kind == "upsert_columns":
        k = rng.randrange(1, 4)
        return {"upsert_columns": {"id": [rand_id(rng) for _ in range(k)], "vector": [rand_vector(rng) for _ in range(k)],
                                   "n": [rng.randrange(100) for _ in range(k)]}}
    if kind == "deletes":
        return {"deletes": [rand_id(rng) for _ in range(rng.randrange(1, 3))]}
    if kind == "delete_by_filter":
        return {"delete_by_filter": ["n", "Gt", 990]}
    if kind == "patch_by_filter":
        return {"patch_by_filter": {"filters": ["n", "Lt", -990], "patch": {"flag": True}}}
    if kind == "condition":
        return {"upsert_rows": [rand_row(rng)], "upsert_condition": ["n", "Lt", {"$ref_new": "n"}]}
    return {"schema": {"title": {"type": "string", "full_text_search": True}, "n": "int"}}


def rand_filter(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth < 4 and r < 0.25:
        return [rng.choice(["And", "Or"]), [rand_filter(rng, depth + 1) for _ in range(rng.randrange(0, 4))]]
    if depth < 4 and r < 0.32:
        return ["Not", rand_filter(rng, depth + 1)]
    attr = rng.choice(ATTRS + ["missing", ""])
    op = rng.choice(FILTER_OPS)
    return [attr, op, rand_scalar_or_list(rng)]


def rand_scalar(rng: random.Random):
    return rng.choice([
        lambda: rng.randrange(-5, 1000), lambda: rng.uniform(-1e6, 1e6), lambda: "red",
        lambda: "*o?[a-z]*", lambda: "[", lambda: "\\", lambda: True, lambda: None,
        lambda: "2026-01-10T10:00:00Z", lambda: "2026-13-99", lambda: 2 ** 64 - 1, lambda: -(2 ** 63),
        lambda: "a" * rng.randrange(0, 300), lambda: rand_id(rng),
    ])()


def rand_scalar_or_list(rng: random.Random):
    if rng.random() < 0.3:
        return [rand_scalar(rng) for _ in range(rng.randrange(0, 6))]
    return rand_scalar(rng)


def rand_rank_by(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth < 10 and r < 0.15:
        return [rng.choice(["Sum", "Max"]), [rand_rank_by(rng, depth + 1) for _ in range(rng.randrange(0, 4))]]
    if depth < 10 and r < 0.25:
        w = rng.choice([0.5, -2, 0, 1e6, 1e7, Raw("1e400"), "x", None])
        return ["Product", w, rand_rank_by(rng, depth + 1)] if rng.random() < 0.7 else ["Product", rand_rank_by(rng, depth + 1), w]
    if r < 0.55:
        return ["title", "BM25", rng.choice(["red fox", "", "über naïve", ["red", "dog"], 3, "the the"])]
    if r < 0.8:
        return ["vector", rng.choice(["ANN", "kNN"]), rand_vector(rng, rng.choice([DIM, DIM, DIM, 0, 1, 5]))]
    return [rng.choice(ATTRS + ["missing"]), rng.choice(["asc", "desc", "up"])]


def valid_query(rng: random.Random) -> dict:
    q: dict = {"top_k": rng.randrange(1, 60)}
    r = rng.random()
    if r < 0.3:
        q["rank_by"] = ["vector", "ANN", rand_vector(rng)]
    elif r < 0.5:
        q["rank_by"] = ["title", "BM25", "red fox"]
    elif r < 0.65:
        q["rank_by"] = ["n", rng.choice(["asc", "desc"])]
    if rng.random() < 0.5:
        q["filters"] = ["n", "Gte", rng.randrange(-500, 500)]
    if rng.random() < 0.5:
        q["include_attributes"] = rng.choice([True, ["title", "n"], ["vector"]])
    if rng.random() < 0.15:
        return {"queries": [q, {"rank_by": ["title", "BM25", "dog"], "top_k": 5}],
                "rerank_by": ["RRF", {"rank_constant": 60}]}
    return q


# ----------------------------------------------------------------------------------------------
# mutations


def nested(rng: random.Random, depth: int):
    v = rand_scalar(rng)
    for _ in range(depth):
        v = [v] if rng.random() < 0.5 else {"k": v}
    return v


BAD_STRINGS = [Raw('"\\ud800"'), Raw('"\\udc00x"'), Raw('"\\uZZZZ"'), Raw('"\\x41"'), Raw('"a\\'),
               Raw('"@@BADUTF8@@"'), Raw('"e\\u0301"'), Raw('"\\u0000"'), "\u00e9", "x" * 70]
BAD_NUMBERS = [Raw("1e400"), Raw("-1e400"), Raw("NaN"), Raw("Infinity"), Raw("-0"), Raw("1e-400"),
               Raw("18446744073709551616"), Raw("-9223372036854775809"), Raw("00"), Raw("1."), Raw(".5"),
               Raw("3e38"), Raw("1e39"), -1, 0, 2 ** 63, 2 ** 64 - 1, 10 ** 30, 1e308, -1e308, 5e-324]


def rand_junk(rng: random.Random):
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(BAD_NUMBERS)
    if pick < 0.5:
        return rng.choice(BAD_STRINGS)
    if pick < 0.6:
        return nested(rng, rng.randrange(1, 70))
    if pick < 0.7:
        return rand_filter(rng)
    if pick < 0.8:
        return rand_rank_by(rng)
    return rng.choice([None, True, False, [], {}, "", 0, [None], [[1, 2], [3]], {"level": "strong"}])


def paths(v, prefix=()):
    """Every (container path) in the body, so a mutation can target any nested value."""
    out = [prefix]
    if isinstance(v, dict):
        for k, x in v.items():
            out += paths(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += paths(x, prefix + (i,))
    return out


def get(v, path):
    for p in path:
        v = v[p]
    return v


def mutate(rng: random.Random, body):
    """One structured mutation somewhere in the body (returns the new body)."""
    all_paths = [p for p in paths(body) if p]
    if not all_paths:
        return rand_junk(rng)
    path = rng.choice(all_paths)
    parent = get(body, path[:-1])
    key = path[-1]
    op = rng.choice(["drop", "dup", "retype", "number", "string", "null", "nest", "vector", "filter",
                     "rank_by", "wrap", "extra"])
    if isinstance(parent, (Raw, Dup)):
        return body
    if op == "drop":
        del parent[key]
    elif op == "dup" and isinstance(parent, dict):
        pairs = list(parent.items()) + [(key, rand_junk(rng) if rng.random() < 0.5 else parent[key])]
        rng.shuffle(pairs)
        if path[:-1]:
            get(body, path[:-2])[path[-2]] = Dup(pairs)
        else:
            return Dup(pairs)
    elif op == "dup" and isinstance(parent, list):
        parent.insert(key, parent[key])
    elif op == "retype":
        parent[key] = rng.choice([str(parent[key])[:20], [parent[key]], {"v": parent[key]}, 1, 1.5, True, "x"])
    elif op == "number":
        parent[key] = rng.choice(BAD_NUMBERS)
    elif op == "string":
        parent[key] = rng.choice(BAD_STRINGS)
    elif op == "null":
        parent[key] = None
    elif op == "nest":
        parent[key] = nested(rng, rng.randrange(1, 70))
    elif op == "vector":
        parent[key] = rng.choice([rand_vector(rng, rng.choice([0, 1, 3, 5, 17, 20000])), "AAAA", "not base64!",
                                  "AAAAAAAAAAAAAAAAAAAAAA==", [1, "a", 2, 3], [Raw("1e39"), 0, 0, 0], [None] * DIM])
    elif op == "filter":
        parent[key] = rand_filter(rng)
    elif op == "rank_by":
        parent[key] = rand_rank_by(rng)
    elif op == "wrap":
        parent[key] = [parent[key], parent[key]]
    elif op == "extra" and isinstance(parent, dict):
        parent[rng.choice(["bogus", "top_k", "filters", "rank_by", "as_of", "vector_encoding", "consistency",
                           "include_attributes", "exclude_attributes", "distance_metric", "schema",
                           "__debug_settings", "queries", "limit", "title"])] = rand_junk(rng)
    return body


def valid_schema(rng: random.Random) -> dict:
    """A body for POST /v1/namespaces/{ns}/schema."""
    options = {"type": "string", "full_text_search": rng.choice([True, {"k1": 1.5, "b": 0.5, "stemming": True}])}
    return rng.choice([{"title": options}, {"n": "int", "extra": "[]uint"}, {"f": {"type": "float", "filterable": True}}])


def valid_recall(rng: random.Random) -> dict:
    body: dict = {"num": rng.randrange(1, 5), "top_k": rng.randrange(1, 20)}
    if rng.random() < 0.5:
        body["filters"] = ["n", "Gt", 0]
    return body


# kind -> (share of cases, path under /v2/namespaces/{ns} or /v1/namespaces/{ns}, valid body)
KINDS = {
    "write": (0.36, "/v2/namespaces/{ns}", valid_write),
    "query": (0.40, "/v2/namespaces/{ns}/query", valid_query),
    "explain": (0.10, "/v2/namespaces/{ns}/explain_query", valid_query),
    "schema": (0.08, "/v1/namespaces/{ns}/schema", valid_schema),
    "recall": (0.06, "/v1/namespaces/{ns}/_debug/recall", valid_recall),
}
CHANGES_NAMESPACE = {"write", "schema"}


def make_case(seed: int, index: int):
    """(kind, path, body) for case `index`: the same for the same seed, always."""
    rng = random.Random(f"{seed}:{index}")
    kind = rng.choices(list(KINDS), weights=[k[0] for k in KINDS.values()])[0]
    _, path, valid = KINDS[kind]
    body = valid(rng)
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
        body = mutate(rng, body)
    ns = NS if rng.random() < 0.95 else rng.choice(["fuzz-never-created", "bad%2Fname", "x" * 129, "..", "%C3%A9"])
    encoding = rng.choices(["identity", "gzip", "gzip-truncated", "deflate"], weights=[92, 5, 2, 1])[0]
    return kind, path.format(ns=ns), body, encoding


def encoded(data: bytes, encoding: str) -> tuple[bytes, dict]:
    """The body as sent and its Content-Encoding header (truncated gzip keeps the header)."""
    if encoding == "identity":
        return data, {}
    if encoding == "gzip-truncated":
        return gzip.compress(data)[: max(1, len(data) // 3)], {"Content-Encoding": "gzip"}
    if encoding == "deflate":
        return data, {"Content-Encoding": "deflate"}
    return gzip.compress(data), {"Content-Encoding": "gzip"}


# ----------------------------------------------------------------------------------------------
# the run


class Target:
    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})

    def post(self, path: str, data: bytes, headers: dict | None = None) -> requests.Response:
        return self.session.post(self.url + path, data=data, headers=headers, timeout=60)

    def alive(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def checksum(self) -> tuple[int, str]:
        """(row count, sha256 of the schema and every row in id order with all attributes)."""
        r = self.post(f"/v2/namespaces/{NS}/query", json.dumps(
            {"top_k": 1000, "include_attributes": True, "rank_by": ["id", "asc"]}).encode())
        if r.status_code == 404:
            return 0, "absent"
        assert r.status_code == 200, f"checksum query failed: {r.status_code} {r.text[:300]}"
        rows = r.json()["rows"]
        schema = self.session.get(f"{self.url}/v1/namespaces/{NS}/schema", timeout=60)
        assert schema.status_code == 200, f"schema read failed: {schema.status_code} {schema.text[:300]}"
        digest = hashlib.sha256(json.dumps([schema.json(), rows], sort_keys=True).encode()).hexdigest()
        return len(rows), digest


def test_fuzz_bodies(server_factory):
    srv = server_factory("fuzz")
    t = Target(srv.url)
    seed_rows = {"upsert_rows": [dict(rand_row(random.Random(i)), id=i) for i in range(ID_SPACE)],
                 "distance_metric": "cosine_distance",
                 "schema": {"title": {"type": "string", "full_text_search": True}, "ts": "datetime", "tags": "[]string"}}
    r = t.post(f"/v2/namespaces/{NS}", json.dumps(seed_rows).encode())
    assert r.status_code == 200, r.text
    state = t.checksum()
    failures: list[str] = []
    counts = {"2xx": 0, "4xx": 0}
    started = time.monotonic()
    ran = 0
    for index in range(CASES):
        if time.monotonic() - started > SECONDS:
            break
        kind, path, body, encoding = make_case(SEED, index)
        data, headers = encoded(body_bytes(body), encoding)
        if SHOW is not None and int(SHOW) == index:
            print(f"case {index}: POST {path} ({encoding})\n{body_bytes(body).decode('utf-8', 'replace')}")
        where = f"LAGOON_FUZZ_SEED={SEED} case {index}: POST {path} ({encoding}) {body_bytes(body)[:600]!r}"
        ran += 1
        try:
            resp = t.post(path, data, headers)
        except requests.RequestException as e:
            alive = t.alive()
            failures.append(f"{where}\n  -> no answer ({e!r}); server alive: {alive}")
            if not alive:
                break
            continue
        status = resp.status_code
        if status >= 500 or status < 200 or 300 <= status < 400:
            failures.append(f"{where}\n  -> HTTP {status}: {resp.text[:300]}")
        else:
            counts["2xx" if status < 300 else "4xx"] += 1
        if kind in CHANGES_NAMESPACE and path.split("/")[3] == NS:
            after = t.checksum()
            if 400 <= status < 500 and after != state:
                failures.append(f"{where}\n  -> rejected with {status} ({resp.text[:200]}) but the namespace changed: "
                                f"{state[0]} rows -> {after[0]} rows")
            state = after
        if index % 100 == 99 and not t.alive():
            failures.append(f"{where}\n  -> /healthz stopped answering after this case")
            break
        if SHOW is not None and int(SHOW) == index:
            print(f"  -> HTTP {status}: {resp.text[:500]}")
            break
        if len(failures) >= 20:
            break
    elapsed = time.monotonic() - started
    print(f"fuzz seed {SEED}: {ran} cases in {elapsed:.1f}s, {counts}")
    assert t.alive(), "the server is not alive after the fuzz run:\n" + srv.log_tail(40)
    assert ran >= min(CASES, 500), f"only {ran} cases ran within {SECONDS}s: the server is too slow for the fuzz run"
    assert not failures, f"{len(failures)} fuzz failures (seed {SEED}; replay one with LAGOON_FUZZ_SHOW=<case>):\n" + \
        "\n".join(failures[:20]) + "\n--- server log ---\n" + srv.log_tail(30)
