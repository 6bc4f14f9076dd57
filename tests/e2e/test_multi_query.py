"""multi_query: POST /v2/namespaces/{ns}/query?stainless_overload=multiQuery with `queries: [...]`.
Without rerank_by: one result per sub-query, each equal to the same query run alone.
With rerank_by ["RRF", {rank_constant, weights}]: one fused result, checked against a Python RRF
oracle (score = sum_i w_i / (k + rank_i), ranks from 1, k default 60)."""
from __future__ import annotations

import pytest
import turbopuffer

from conftest import unique_ns
from e2e_util import (
    as_list,
    assert_ranked,
    check_query_envelope,
    check_write_response,
    expect_error,
    ids_of,
    random_vectors,
    rows_of,
    rrf,
)

N, DIM = 120, 8
VECS = random_vectors(N, DIM, seed=21)
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def text_for(i):
    return " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 2 + i % 5))


@pytest.fixture(scope="module")
def mq_ns(client):
    ns = client.namespace(unique_ns("multi"))
    resp = ns.write(
        upsert_columns={
            "id": list(range(N)),
            "vector": [as_list(v) for v in VECS],
            "text": [text_for(i) for i in range(N)],
            "k": [i % 7 for i in range(N)],
        },
        distance_metric="cosine_distance",
        schema={"text": {"type": "string", "full_text_search": True}},
    )
    check_write_response(resp, rows_affected=N)
    return ns


def sub_queries():
    q1 = as_list(random_vectors(1, DIM, seed=22)[0])
    q2 = as_list(random_vectors(1, DIM, seed=23)[0])
    return [
        {"rank_by": ("vector", "kNN", q1), "top_k": 10},
        {"rank_by": ("text", "BM25", "gamma delta"), "top_k": 10},
        {"rank_by": ("vector", "kNN", q2), "top_k": 8, "filters": ("k", "Lt", 3), "include_attributes": ["k"]},
        {"rank_by": ("k", "desc"), "top_k": 5, "include_attributes": ["k"]},
        {"filters": ("k", "Eq", 4), "top_k": 6},
    ]


def test_multi_query_equals_individual_queries(mq_ns):
    qs = sub_queries()
    resp = mq_ns.multi_query(queries=qs)
    check_query_envelope(resp)
    assert resp.results is not None and len(resp.results) == len(qs), (
        f"one result per sub-query expected, got {None if resp.results is None else len(resp.results)}"
    )
    for i, (q, res) in enumerate(zip(qs, resp.results)):
        single = mq_ns.query(**q)
        got = [r.to_dict() for r in (res.rows or [])]
        want = rows_of(single)
        assert [r["id"] for r in got] == [r["id"] for r in want], f"sub-query {i} ids differ from the single query"
        for g, w in zip(got, want):
            assert set(g) == set(w), f"sub-query {i}: returned keys differ: {g} vs {w}"
            if "$dist" in w:
                assert g["$dist"] == pytest.approx(w["$dist"], rel=1e-6, abs=1e-7), f"sub-query {i} $dist"


def test_multi_query_top_level_consistency(mq_ns):
    resp = mq_ns.multi_query(queries=sub_queries()[:2], consistency={"level": "eventual"})
    check_query_envelope(resp)
    assert len(resp.results) == 2


def _rrf_case(mq_ns, rerank_by, k, weights, limit):
    qs = sub_queries()[:3]
    lists = [ids_of(mq_ns.query(**q)) for q in qs]
    oracle = rrf(lists, k=k, weights=weights)
    resp = mq_ns.multi_query(queries=qs, rerank_by=rerank_by, limit=limit)
    check_query_envelope(resp)
    assert resp.results is not None and len(resp.results) == 1, (
        f"with rerank_by the response holds a single fused result, got {resp.results and len(resp.results)}"
    )
    got = [r.to_dict() for r in (resp.results[0].rows or [])]
    pairs = [(r["id"], float(r["$dist"]) if "$dist" in r else None) for r in got]
    assert_ranked(pairs, oracle, limit, higher_is_better=True, rel=1e-5, abs_=1e-7, what=f"RRF {rerank_by}")


def test_rrf_default_constant(mq_ns):
    _rrf_case(mq_ns, ("RRF",), 60, None, 12)


def test_rrf_explicit_constant(mq_ns):
    _rrf_case(mq_ns, ("RRF", {"rank_constant": 60}), 60, None, 15)


def test_rrf_other_constant_and_weights(mq_ns):
    _rrf_case(mq_ns, ("RRF", {"rank_constant": 10, "weights": [1.0, 2.0, 0.5]}), 10, [1.0, 2.0, 0.5], 10)


def test_rrf_limit_larger_than_union(mq_ns):
    qs = sub_queries()[:2]
    union = set(ids_of(mq_ns.query(**qs[0]))) | set(ids_of(mq_ns.query(**qs[1])))
    resp = mq_ns.multi_query(queries=qs, rerank_by=("RRF",), limit=1000)
    got = [r.id for r in (resp.results[0].rows or [])]
    assert sorted(got) == sorted(union), "fusion returns each document of any sub-query exactly once"


def test_too_many_subqueries(mq_ns, client_noretry):
    ns = client_noretry.namespace(mq_ns.id)
    with expect_error(400, "queries"):
        ns.multi_query(queries=[{"top_k": 1}] * 17)


def test_rrf_weight_count_mismatch(mq_ns, client_noretry):
    ns = client_noretry.namespace(mq_ns.id)
    with expect_error(400, "rerank_by"):
        ns.multi_query(queries=sub_queries()[:2], rerank_by=("RRF", {"weights": [1.0]}), limit=5)


def test_multi_query_unknown_namespace(client_noretry):
    with pytest.raises(turbopuffer.NotFoundError):
        client_noretry.namespace(unique_ns("nope")).multi_query(queries=[{"top_k": 1}])
