"""Queries: exact kNN and ANN vs a numpy oracle (cosine_distance, euclidean_squared, $dist values),
every v1 filter operator vs a Python oracle, And/Or/Not, filters on id, order by attribute,
top_k / limit, include / exclude attributes, eventual consistency, filter-only lookups."""
from __future__ import annotations

import fnmatch

import numpy as np
import pytest

from conftest import unique_ns
from e2e_util import (
    BIG_TOP_K,
    as_list,
    assert_ranked,
    check_write_response,
    cosine_distance,
    euclidean_squared,
    ids_of,
    query,
    random_vectors,
    ranked_pairs,
    rows_of,
    tokenize,
    wait_until,
)

N_VEC, DIM = 200, 16
METRICS = {"cosine_distance": cosine_distance, "euclidean_squared": euclidean_squared}


# ------------------------------------------------------------------------------------- vector data


@pytest.fixture(scope="module", params=list(METRICS))
def vec_ns(request, client):
    """200 random 16-d docs with a `cat` attribute, one namespace per metric."""
    metric = request.param
    vecs = random_vectors(N_VEC, DIM, seed=42)
    ns = client.namespace(unique_ns(f"vec-{metric}"))
    resp = ns.write(
        upsert_columns={"id": list(range(N_VEC)), "vector": [as_list(v) for v in vecs], "cat": [i % 5 for i in range(N_VEC)]},
        distance_metric=metric,
    )
    check_write_response(resp, rows_affected=N_VEC)
    return ns, metric, vecs


def oracle_for(metric, vecs, q, mask=None):
    d = METRICS[metric](q, vecs)
    return {i: float(d[i]) for i in range(len(vecs)) if mask is None or mask[i]}


QUERIES = random_vectors(5, DIM, seed=7)


def test_knn_exact_matches_oracle(vec_ns):
    ns, metric, vecs = vec_ns
    for qi, q in enumerate(QUERIES):
        resp = query(ns, rank_by=("vector", "kNN", as_list(q)), top_k=10)
        assert_ranked(ranked_pairs(resp), oracle_for(metric, vecs, q), 10, higher_is_better=False,
                      what=f"kNN {metric} query {qi}")
        assert all("$dist" in r for r in rows_of(resp)), "vector queries return $dist"


def test_knn_with_filter(vec_ns):
    ns, metric, vecs = vec_ns
    mask = [i % 5 == 2 for i in range(N_VEC)]
    for qi, q in enumerate(QUERIES[:3]):
        resp = query(ns, rank_by=("vector", "kNN", as_list(q)), top_k=15, filters=("cat", "Eq", 2))
        assert_ranked(ranked_pairs(resp), oracle_for(metric, vecs, q, mask), 15, higher_is_better=False,
                      what=f"filtered kNN {metric} query {qi}")


def test_knn_top_k_larger_than_namespace(vec_ns):
    ns, metric, vecs = vec_ns
    q = QUERIES[0]
    resp = query(ns, rank_by=("vector", "kNN", as_list(q)), top_k=BIG_TOP_K)
    assert_ranked(ranked_pairs(resp), oracle_for(metric, vecs, q), BIG_TOP_K, higher_is_better=False,
                  what=f"kNN {metric} all rows")


def test_ann_matches_oracle(vec_ns):
    """ANN on 200 docs: returned $dist must be exact for each returned id, rows ascending, and
    recall@10 against the exhaustive oracle at least 0.9 on average (1.0 while unindexed)."""
    ns, metric, vecs = vec_ns
    recalls = []
    for qi, q in enumerate(QUERIES):
        oracle = oracle_for(metric, vecs, q)
        resp = query(ns, rank_by=("vector", "ANN", as_list(q)), top_k=10)
        pairs = ranked_pairs(resp)
        assert len(pairs) == 10, f"ANN {metric} query {qi}: expected 10 rows, got {len(pairs)}"
        dists = [d for _, d in pairs]
        assert dists == sorted(dists), f"ANN {metric} query {qi}: $dist not ascending: {dists}"
        for i, d in pairs:
            assert d == pytest.approx(oracle[i], rel=1e-4, abs=1e-5), f"ANN {metric}: $dist of id {i}"
        truth = set(sorted(oracle, key=oracle.get)[:10])
        recalls.append(len(truth & {i for i, _ in pairs}) / 10)
    assert np.mean(recalls) >= 0.9, f"ANN {metric} recall@10 too low: {recalls}"


def test_ann_with_filter(vec_ns):
    ns, metric, vecs = vec_ns
    q = QUERIES[1]
    resp = query(ns, rank_by=("vector", "ANN", as_list(q)), top_k=10, filters=("cat", "In", [0, 1]))
    rows = rows_of(resp)
    assert len(rows) == 10 and all(r["id"] % 5 in (0, 1) for r in rows), f"filter ignored: {ids_of(resp)}"
    oracle = oracle_for(metric, vecs, q, [i % 5 in (0, 1) for i in range(N_VEC)])
    truth = set(sorted(oracle, key=oracle.get)[:10])
    assert len(truth & set(ids_of(resp))) >= 8, f"filtered ANN recall too low: {ids_of(resp)} vs {sorted(truth)}"


def test_cosine_dist_is_one_minus_cos(ns):
    ns.write(upsert_rows=[{"id": 1, "vector": [1.0, 0.0]}, {"id": 2, "vector": [0.0, 1.0]},
                          {"id": 3, "vector": [-1.0, 0.0]}, {"id": 4, "vector": [3.0, 3.0]}],
             distance_metric="cosine_distance")
    rows = rows_of(query(ns, rank_by=("vector", "kNN", [2.0, 0.0]), top_k=4))
    got = {r["id"]: r["$dist"] for r in rows}
    assert [r["id"] for r in rows] == [1, 4, 2, 3]
    assert got[1] == pytest.approx(0.0, abs=1e-6)
    assert got[4] == pytest.approx(1 - np.sqrt(0.5), abs=1e-6)
    assert got[2] == pytest.approx(1.0, abs=1e-6)
    assert got[3] == pytest.approx(2.0, abs=1e-6)


def test_euclidean_squared_dist(ns):
    ns.write(upsert_rows=[{"id": 1, "vector": [1.0, 2.0]}, {"id": 2, "vector": [4.0, 6.0]}],
             distance_metric="euclidean_squared")
    rows = rows_of(query(ns, rank_by=("vector", "kNN", [1.0, 2.0]), top_k=2))
    assert [(r["id"], r["$dist"]) for r in rows] == [(1, pytest.approx(0.0)), (2, pytest.approx(25.0))]


# ------------------------------------------------------------------------------------- filter data

WORDS = ["apple", "Apricot", "banana", "blueberry", "cherry", "Cranberry", "date", "fig", "grape", "kiwi"]
VOCAB = ["quick", "brown", "fox", "lazy", "dog", "jumps", "over", "river", "stone", "sun"]


def make_filter_docs():
    rng = np.random.default_rng(5)
    docs = {}
    for i in range(1, 41):
        words = [VOCAB[j] for j in sorted(rng.choice(len(VOCAB), size=3 + i % 4, replace=False))]
        if i % 3 == 0:
            words.insert(1, "the")
        d = {
            "n": (i * 7) % 13,
            "f": i * 0.25 - 3.0,
            "s": f"{WORDS[i % 10]}-{i}",
            "cat": ["red", "green", "blue"][i % 3],
            "tags": [f"g{i % 4}", f"h{i % 3}"] + (["special"] if i % 5 == 0 else []),
            "nums": [i % 4, 10 + i % 6],
            "b": i % 2 == 0,
            "title": " ".join(w.capitalize() if i % 2 else w for w in words),
        }
        if i % 4 == 0:
            d["opt"] = i
        docs[i] = d
    return docs


FILTER_DOCS = make_filter_docs()


@pytest.fixture(scope="module")
def filter_ns(client):
    ns = client.namespace(unique_ns("filters"))
    resp = ns.write(
        upsert_rows=[{"id": i, **d} for i, d in FILTER_DOCS.items()],
        schema={"title": {"type": "string", "full_text_search": True}},
    )
    check_write_response(resp, rows_affected=len(FILTER_DOCS))
    return ns


def _cmp(op, a, b):
    return {"Lt": a < b, "Lte": a <= b, "Gt": a > b, "Gte": a >= b}[op]


def matches(doc_id, doc, f) -> bool:
    """Python oracle for the v1 filter language."""
    if f[0] == "And":
        return all(matches(doc_id, doc, g) for g in f[1])
    if f[0] == "Or":
        return any(matches(doc_id, doc, g) for g in f[1])
    if f[0] == "Not":
        return not matches(doc_id, doc, f[1])
    attr, op, arg = f
    v = doc_id if attr == "id" else doc.get(attr)
    if op == "Eq":
        return v == arg
    if op == "NotEq":
        return v != arg
    if v is None:
        return op in ("NotIn", "NotContains", "NotContainsAny", "NotGlob", "NotIGlob")
    if op == "In":
        return v in arg
    if op == "NotIn":
        return v not in arg
    if op in ("Lt", "Lte", "Gt", "Gte"):
        return _cmp(op, v, arg)
    if op == "Contains":
        return arg in v
    if op == "NotContains":
        return arg not in v
    if op == "ContainsAny":
        return any(a in v for a in arg)
    if op == "NotContainsAny":
        return not any(a in v for a in arg)
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
    raise ValueError(op)


FILTERS = [
    ["n", "Eq", 5],
    ["s", "Eq", "fig-7"],
    ["b", "Eq", True],
    ["n", "NotEq", 5],
    ["cat", "NotEq", "red"],
    ["n", "In", [1, 2, 3]],
    ["cat", "In", ["red", "blue"]],
    ["n", "NotIn", [0, 1, 2, 3, 4, 5, 6]],
    ["s", "NotIn", ["apple-10", "kiwi-9"]],
    ["n", "Lt", 4],
    ["n", "Lte", 4],
    ["n", "Gt", 9],
    ["n", "Gte", 9],
    ["f", "Lt", 0.0],
    ["f", "Gte", 2.75],
    ["s", "Gte", "cherry"],
    ["s", "Lt", "banana-12"],
    ["tags", "Contains", "special"],
    ["nums", "Contains", 3],
    ["tags", "NotContains", "g1"],
    ["tags", "ContainsAny", ["g0", "special"]],
    ["nums", "ContainsAny", [0, 15]],
    ["tags", "NotContainsAny", ["h0", "h1"]],
    ["s", "Glob", "b*"],
    ["s", "Glob", "a*"],
    ["s", "Glob", "C*"],
    ["s", "Glob", "apple-1?"],
    ["s", "Glob", "*rry-1?"],
    ["s", "Glob", "[ab]*-2*"],
    ["s", "NotGlob", "*e-*"],
    ["s", "IGlob", "a*"],
    ["s", "IGlob", "CRAN*"],
    ["s", "NotIGlob", "a*"],
    ["title", "ContainsAllTokens", "quick fox"],
    ["title", "ContainsAllTokens", "QUICK"],
    ["title", "ContainsAllTokens", "the river"],
    ["title", "ContainsAnyToken", "river stone"],
    ["id", "Eq", 17],
    ["id", "In", [3, 5, 99]],
    ["id", "NotIn", list(range(1, 36))],
    ["id", "Gte", 30],
    ["id", "Lt", 4],
    ["And", [["n", "Gt", 3], ["cat", "Eq", "blue"]]],
    ["Or", [["n", "Eq", 0], ["tags", "Contains", "special"], ["id", "Eq", 1]]],
    ["Not", ["cat", "Eq", "red"]],
    ["And", [["Or", [["b", "Eq", True], ["n", "Lt", 3]]], ["Not", ["s", "Glob", "a*"]], ["id", "Lte", 30]]],
    ["opt", "Eq", None],
    ["opt", "NotEq", None],
    ["opt", "Gt", 20],
]


@pytest.mark.parametrize("flt", FILTERS, ids=[repr(f)[:60] for f in FILTERS])
def test_filter_operator(filter_ns, flt):
    want = sorted(i for i, d in FILTER_DOCS.items() if matches(i, d, flt))
    resp = query(filter_ns, filters=flt, top_k=BIG_TOP_K)
    got = ids_of(resp)
    assert got == sorted(got), f"filter-only results must be in ascending id order: {got}"
    assert got == want, f"filter {flt}: got {got}, want {want} (missing {sorted(set(want) - set(got))}, " \
                        f"extra {sorted(set(got) - set(want))})"


def test_filter_only_query_id_order_and_default_top_k(filter_ns):
    resp = query(filter_ns)
    assert ids_of(resp) == list(range(1, 11)), "no rank_by, no top_k: the first 10 ids in ascending order"
    assert all("$dist" not in r for r in rows_of(resp)), "lookups carry no $dist"


def test_top_k_and_limit(filter_ns):
    assert ids_of(query(filter_ns, top_k=3)) == [1, 2, 3]
    assert ids_of(query(filter_ns, limit=4)) == [1, 2, 3, 4]
    assert ids_of(query(filter_ns, top_k=5, filters=("b", "Eq", True))) == [2, 4, 6, 8, 10]


# ------------------------------------------------------------------------------------- order by


@pytest.mark.parametrize("attr,direction", [("f", "desc"), ("f", "asc"), ("s", "asc"), ("s", "desc"), ("id", "desc")])
def test_order_by_attribute(filter_ns, attr, direction):
    key = (lambda i: i) if attr == "id" else (lambda i: FILTER_DOCS[i][attr])
    want = sorted(FILTER_DOCS, key=key, reverse=direction == "desc")[:7]
    resp = query(filter_ns, rank_by=(attr, direction), top_k=7, include_attributes=[attr] if attr != "id" else False)
    assert ids_of(resp) == want, f"order by {attr} {direction}"


def test_order_by_with_filter_and_ties(filter_ns):
    resp = query(filter_ns, rank_by=("n", "asc"), top_k=BIG_TOP_K, filters=("cat", "Eq", "green"),
                 include_attributes=["n", "cat"])
    rows = rows_of(resp)
    want_ids = {i for i, d in FILTER_DOCS.items() if d["cat"] == "green"}
    assert {r["id"] for r in rows} == want_ids
    ns_ = [r["n"] for r in rows]
    assert ns_ == sorted(ns_), f"not ascending by n: {ns_}"
    assert all(r["cat"] == "green" for r in rows)


# ------------------------------------------------------------------------------------- attributes


def test_include_attributes_default_is_id_only(filter_ns):
    rows = rows_of(query(filter_ns, top_k=3))
    for r in rows:
        assert set(r) == {"id"}, f"by default only id is returned: {r}"


def test_include_attributes_list(filter_ns):
    rows = rows_of(query(filter_ns, top_k=3, include_attributes=["s", "n"]))
    for r in rows:
        assert set(r) == {"id", "s", "n"}, f"include_attributes=['s','n']: {r}"
        assert r["s"] == FILTER_DOCS[r["id"]]["s"] and r["n"] == FILTER_DOCS[r["id"]]["n"]


def test_include_attributes_true(filter_ns):
    rows = rows_of(query(filter_ns, top_k=5, include_attributes=True))
    for r in rows:
        want = FILTER_DOCS[r["id"]]
        got = {k: v for k, v in r.items() if k not in ("id", "$dist", "vector")}
        assert got == want, f"include_attributes=True returns every attribute: got {got}, want {want}"


def test_exclude_attributes(filter_ns):
    rows = rows_of(query(filter_ns, top_k=5, exclude_attributes=["s", "title"]))
    for r in rows:
        want = {k: v for k, v in FILTER_DOCS[r["id"]].items() if k not in ("s", "title")}
        got = {k: v for k, v in r.items() if k not in ("id", "$dist", "vector")}
        assert got == want, f"exclude_attributes=['s','title']: got {got}, want {want}"


def test_vector_query_default_attributes(vec_ns):
    ns, _, _ = vec_ns
    rows = rows_of(query(ns, rank_by=("vector", "kNN", as_list(QUERIES[0])), top_k=3))
    for r in rows:
        assert set(r) == {"id", "$dist"}, f"vector query default returns id and $dist only: {r}"


# ------------------------------------------------------------------------------------- consistency


def test_consistency_eventual(filter_ns):
    want = sorted(FILTER_DOCS)
    resp = query(filter_ns, top_k=BIG_TOP_K, consistency={"level": "eventual"})
    assert set(ids_of(resp)) <= set(want)
    wait_until(lambda: ids_of(filter_ns.query(top_k=BIG_TOP_K, consistency={"level": "eventual"})) == want,
               timeout=10, what="eventual query to see all documents")
    resp = query(filter_ns, top_k=BIG_TOP_K, consistency={"level": "strong"})
    assert ids_of(resp) == want


def test_read_your_writes(ns):
    for k in range(5):
        ns.write(upsert_rows=[{"id": k, "v": k}])
        assert ids_of(query(ns, top_k=100)) == list(range(k + 1)), "strong query sees the acknowledged write"
