"""Shared helpers for the Lagoon end-to-end suite: response-shape checks, error assertions,
raw HTTP, ranking comparison that tolerates ties, numpy / Python oracles."""
from __future__ import annotations

import base64
import contextlib
import math
import os
import re
import struct
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import requests
import turbopuffer

BIG_TOP_K = 1000  # "give me everything" for the small namespaces in these tests


# ----------------------------------------------------------------------------------------------
# rows


def rows_of(resp) -> list[dict]:
    """Rows of a query response as plain dicts ({"id", "$dist", attrs...})."""
    rows = getattr(resp, "rows", None)
    if rows is None:
        return []
    return [r.to_dict() for r in rows]


def ids_of(resp) -> list:
    return [r["id"] for r in rows_of(resp)]


def dists_of(resp) -> list[float]:
    out = []
    for r in rows_of(resp):
        assert "$dist" in r, f"row {r.get('id')!r} has no $dist: {r}"
        out.append(float(r["$dist"]))
    return out


def fetch_all(ns, *, filters=None, include_attributes: Any = True, page: int = BIG_TOP_K, **kw) -> dict:
    """Every document (matching `filters`) as {id: row-dict}, paging through by id."""
    out: dict = {}
    last = None
    while True:
        f = filters
        if last is not None:
            cond = ["id", "Gt", last]
            f = ["And", [filters, cond]] if filters is not None else cond
        args = dict(top_k=page, include_attributes=include_attributes, **kw)
        if f is not None:
            args["filters"] = f
        resp = ns.query(**args)
        rows = rows_of(resp)
        for r in rows:
            assert r["id"] not in out, f"id {r['id']!r} returned twice while paging by id"
            out[r["id"]] = r
        if len(rows) < page:
            return out
        last = rows[-1]["id"]


def strip_meta(row: dict) -> dict:
    """A row without id / $dist / vector (the plain attributes)."""
    return {k: v for k, v in row.items() if k not in ("id", "$dist", "vector")}


# ----------------------------------------------------------------------------------------------
# response shapes (the client does not validate responses, so check what user code relies on)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_write_response(resp, **expect) -> None:
    """Required fields of NamespaceWriteResponse, plus optional expected counters."""
    assert resp.status == "OK", f"write status should be 'OK', got {resp.status!r} ({resp})"
    assert isinstance(resp.message, str), f"write response needs a string 'message': {resp}"
    assert _is_int(resp.rows_affected), f"write response needs an int 'rows_affected': {resp}"
    assert resp.billing is not None, f"write response needs 'billing': {resp}"
    assert _is_int(resp.billing.billable_logical_bytes_written), (
        f"billing.billable_logical_bytes_written must be an int: {resp.billing}"
    )
    for key, want in expect.items():
        got = getattr(resp, key)
        if isinstance(want, (list, tuple, set)) and got is not None:
            assert sorted(map(str, got)) == sorted(map(str, want)), f"write response {key}: got {got}, want {want}"
        else:
            assert got == want, f"write response {key}: got {got!r}, want {want!r} (full: {resp})"


PERF_INT_FIELDS = ("approx_namespace_size", "exhaustive_search_count", "query_execution_ms", "server_total_ms")


def check_query_envelope(resp) -> None:
    """billing + performance of a query / multi-query response."""
    b = resp.billing
    assert b is not None, "query response needs 'billing'"
    for f in ("billable_logical_bytes_queried", "billable_logical_bytes_returned"):
        assert _is_int(getattr(b, f, None)), f"billing.{f} must be an int, got {getattr(b, f, None)!r}"
    p = resp.performance
    assert p is not None, "query response needs 'performance'"
    for f in PERF_INT_FIELDS:
        assert _is_int(getattr(p, f, None)), f"performance.{f} must be an int, got {getattr(p, f, None)!r}"
    assert isinstance(p.cache_hit_ratio, (int, float)), f"performance.cache_hit_ratio: {p.cache_hit_ratio!r}"
    assert p.cache_temperature in ("hot", "warm", "cold"), f"performance.cache_temperature: {p.cache_temperature!r}"


def query(ns, **kw):
    """ns.query + envelope check."""
    resp = ns.query(**kw)
    check_query_envelope(resp)
    return resp


# ----------------------------------------------------------------------------------------------
# errors


def error_message(err: turbopuffer.APIStatusError) -> str:
    body = err.body
    assert isinstance(body, dict), f"error body should be JSON {{'status':'error','error':...}}, got {body!r}"
    assert body.get("status") == "error", f"error body needs status 'error': {body}"
    assert isinstance(body.get("error"), str) and body["error"], f"error body needs a non-empty 'error': {body}"
    return body["error"]


@contextlib.contextmanager
def expect_error(status: int, *needles: str, any_of: Sequence[str] = ()):
    """Expect the block to raise APIStatusError with `status`; the message must contain every needle
    (case-sensitive, e.g. JSON paths) and at least one of `any_of` (case-insensitive)."""
    holder: dict = {}
    try:
        yield holder
    except turbopuffer.APIStatusError as e:
        holder["error"] = e
        assert e.status_code == status, (
            f"expected HTTP {status}, got {e.status_code}: {e.body!r}"
        )
        msg = error_message(e)
        holder["message"] = msg
        for n in needles:
            assert n in msg, f"HTTP {status} message should mention {n!r}; message was: {msg!r}"
        if any_of:
            low = msg.lower()
            assert any(a.lower() in low for a in any_of), (
                f"HTTP {status} message should mention one of {list(any_of)}; message was: {msg!r}"
            )
    else:
        raise AssertionError(f"expected HTTP {status} error, but the request succeeded")


def raw(base_url: str, method: str, path: str, body: bytes | str | dict | None = None,
        headers: dict | None = None, timeout: float = 60) -> requests.Response:
    """Send a request without the client (e.g. JSON the client refuses to produce)."""
    h = {"Authorization": "Bearer " + os.environ.get("LAGOON_E2E_API_KEY", "test"), "Content-Type": "application/json"}
    h.update(headers or {})
    if isinstance(body, dict):
        import json

        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return requests.request(method, base_url + path, data=body, headers=h, timeout=timeout)


def raw_error(resp: requests.Response, status: int, *needles: str) -> str:
    assert resp.status_code == status, f"expected HTTP {status}, got {resp.status_code}: {resp.text[:500]}"
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {resp.text[:500]!r}")
    assert body.get("status") == "error" and isinstance(body.get("error"), str), (
        f"error body should be {{'status':'error','error':...}}: {body}"
    )
    for n in needles:
        assert n in body["error"], f"message should mention {n!r}: {body['error']!r}"
    return body["error"]


# ----------------------------------------------------------------------------------------------
# vectors


def b64_f32(vec: Iterable[float]) -> str:
    v = list(vec)
    return base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def random_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)).astype(np.float32)


def as_list(v: np.ndarray) -> list[float]:
    """Python floats (the client base64-encodes lists whose first element is a float)."""
    return [float(x) for x in v]


def cosine_distance(q: np.ndarray, m: np.ndarray) -> np.ndarray:
    q64 = q.astype(np.float64)
    m64 = m.astype(np.float64)
    return 1.0 - (m64 @ q64) / (np.linalg.norm(m64, axis=1) * np.linalg.norm(q64))


def euclidean_squared(q: np.ndarray, m: np.ndarray) -> np.ndarray:
    d = m.astype(np.float64) - q.astype(np.float64)
    return np.einsum("ij,ij->i", d, d)


def decode_vector(v) -> list[float]:
    if isinstance(v, str):
        raw_bytes = base64.b64decode(v)
        return list(struct.unpack(f"<{len(raw_bytes) // 4}f", raw_bytes))
    return [float(x) for x in v]


# ----------------------------------------------------------------------------------------------
# ranking comparison


def close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-4) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def assert_ranked(got: Sequence[tuple[Any, float | None]], expected: dict, k: int, *,
                  higher_is_better: bool, rel: float = 1e-4, abs_: float = 1e-4, what: str = "ranking") -> None:
    """`got` is [(id, score-or-None)] as returned; `expected` maps every candidate id to its oracle
    score. Checks: the count is min(k, candidates); each returned score equals the oracle's; order is
    monotone; and no left-out candidate beats the worst returned one (so ties may break either way)."""
    want_n = min(k, len(expected))
    ids = [g[0] for g in got]
    assert len(got) == want_n, f"{what}: expected {want_n} rows, got {len(got)}: {ids}"
    assert len(set(ids)) == len(ids), f"{what}: duplicate ids in result: {ids}"
    sign = -1.0 if higher_is_better else 1.0  # normalize to "lower is better"
    for gid, gscore in got:
        assert gid in expected, f"{what}: returned id {gid!r} is not a candidate (filters ignored?)"
        if gscore is not None:
            assert close(gscore, expected[gid], rel, abs_), (
                f"{what}: id {gid!r} score {gscore!r} != oracle {expected[gid]!r}"
            )
    oracle = [sign * expected[i] for i in ids]
    tol = lambda a: max(abs_, rel * abs(a))  # noqa: E731
    for pos in range(1, len(oracle)):
        assert oracle[pos] >= oracle[pos - 1] - tol(oracle[pos]), (
            f"{what}: rows out of order at position {pos}: {ids[pos - 1]!r} ({expected[ids[pos - 1]]}) "
            f"before {ids[pos]!r} ({expected[ids[pos]]})"
        )
    if got:
        worst = max(oracle)
        chosen = set(ids)
        better_left_out = [
            (i, s) for i, s in expected.items() if i not in chosen and sign * s < worst - tol(worst)
        ]
        assert not better_left_out, (
            f"{what}: ids left out although they rank better than the last returned row: "
            f"{sorted(better_left_out, key=lambda x: sign * x[1])[:5]}"
        )


def ranked_pairs(resp) -> list[tuple[Any, float | None]]:
    return [(r["id"], (float(r["$dist"]) if "$dist" in r else None)) for r in rows_of(resp)]


# ----------------------------------------------------------------------------------------------
# text / BM25 oracle


# Must match the server's English stopword list (the Lucene / tantivy English list).
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)

_SPLIT = re.compile(r"[^0-9a-z]+")


def tokenize(text: str, remove_stopwords: bool = True) -> list[str]:
    """lowercase, split on non-alphanumeric, drop stopwords (no stemming)."""
    toks = [t for t in _SPLIT.split(text.lower()) if t]
    if remove_stopwords:
        toks = [t for t in toks if t not in STOPWORDS]
    return toks


class BM25Field:
    """Namespace-wide BM25 statistics of one text attribute."""

    def __init__(self, docs: dict, k1: float = 1.2, b: float = 0.75):
        # docs: id -> text (documents without the attribute are simply absent)
        self.k1, self.b = k1, b
        self.toks = {i: tokenize(t) for i, t in docs.items() if t is not None}
        self.N = len(self.toks)
        self.avgdl = (sum(len(t) for t in self.toks.values()) / self.N) if self.N else 0.0
        self.df: dict[str, int] = {}
        for t in self.toks.values():
            for term in set(t):
                self.df[term] = self.df.get(term, 0) + 1

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.N - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> dict:
        """id -> score for every document matching at least one query term."""
        terms = list(dict.fromkeys(tokenize(query)))  # unique, in order
        out: dict = {}
        for i, toks in self.toks.items():
            dl = len(toks)
            s = 0.0
            matched = False
            for term in terms:
                tf = toks.count(term)
                if tf == 0:
                    continue
                matched = True
                s += self.idf(term) * tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * dl / self.avgdl))
            if matched:
                out[i] = s
        return out


def combine(kind: str, parts: Sequence[dict], weight: float = 1.0) -> dict:
    ids = set().union(*[p.keys() for p in parts]) if parts else set()
    if kind == "Sum":
        return {i: sum(p.get(i, 0.0) for p in parts) for i in ids}
    if kind == "Max":
        return {i: max(p.get(i, 0.0) for p in parts) for i in ids}
    if kind == "Product":
        (p,) = parts
        return {i: weight * s for i, s in p.items()}
    raise ValueError(kind)


def rrf(result_lists: Sequence[Sequence[Any]], k: int = 60, weights: Sequence[float] | None = None) -> dict:
    """Reciprocal-rank fusion: id -> sum_i w_i / (k + rank_i), rank starting at 1."""
    weights = list(weights) if weights is not None else [1.0] * len(result_lists)
    out: dict = {}
    for w, ids in zip(weights, result_lists):
        for rank, i in enumerate(ids, start=1):
            out[i] = out.get(i, 0.0) + w / (k + rank)
    return out


# ----------------------------------------------------------------------------------------------
# misc


def wait_until(pred: Callable[[], bool], timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
