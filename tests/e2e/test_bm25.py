"""BM25 full-text ranking vs a small Python oracle (e2e_util.BM25Field) with the server's rules:
lowercase, split on non-alphanumeric, English stopwords removed, no stemming, k1=1.2, b=0.75,
idf = ln(1 + (N - df + 0.5) / (df + 0.5)), namespace-wide N and avgdl per attribute;
Sum / Max / Product composition. $dist is the score, rows in descending score order.

NOTE: e2e_util.STOPWORDS must match the server's English stopword list (the Lucene/tantivy list:
a an and are as at be but by for if in into is it no not of on or such that the their then there
these they this to was will with)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import unique_ns
from e2e_util import (
    STOPWORDS,
    BM25Field,
    assert_ranked,
    check_write_response,
    combine,
    ids_of,
    query,
    ranked_pairs,
    rows_of,
    tokenize,
)

REL = 2e-3  # server math may be f32
ABS = 1e-4

WORDS = ["search", "engine", "vector", "index", "query", "swift", "lagoon", "object", "storage", "segment",
         "manifest", "ranking", "score", "token", "filter", "shard", "cache", "disk", "memory", "latency"]
SEPS = [" ", " ", " ", ", ", ". ", " - ", "! ", "/", "_"]
STOP = sorted(STOPWORDS)


def make_text(rng, lo, hi):
    n = int(rng.integers(lo, hi))
    # Zipf-ish: early words are more frequent, so df varies a lot
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    weights /= weights.sum()
    parts = []
    for _ in range(n):
        if rng.random() < 0.25:
            w = STOP[int(rng.integers(len(STOP)))]
        else:
            w = WORDS[int(rng.choice(len(WORDS), p=weights))]
        if rng.random() < 0.2:
            w = w.upper() if rng.random() < 0.5 else w.capitalize()
        parts.append(w)
        parts.append(SEPS[int(rng.integers(len(SEPS)))])
    text = "".join(parts).strip(" ,.-!/_")
    if not tokenize(text):  # make sure every doc has at least one real token
        text += " lagoon"
    return text


def make_docs(seed=11, n=40):
    rng = np.random.default_rng(seed)
    return {i: {"title": make_text(rng, 2, 6), "body": make_text(rng, 5, 30), "grp": i % 3} for i in range(1, n + 1)}


DOCS = make_docs()
SCHEMA = {"title": {"type": "string", "full_text_search": True}, "body": {"type": "string", "full_text_search": True}}


@pytest.fixture(scope="module")
def text_ns(client):
    ns = client.namespace(unique_ns("bm25"))
    resp = ns.write(upsert_rows=[{"id": i, **d} for i, d in DOCS.items()], schema=SCHEMA)
    check_write_response(resp, rows_affected=len(DOCS))
    return ns


def field(docs, name):
    return BM25Field({i: d[name] for i, d in docs.items()})


BODY_QUERIES = ["search", "vector index", "Lagoon, SWIFT!", "the latency of the cache", "shard-token/score",
                "manifest segment object storage ranking", "memory"]


def test_tokenizer_oracle_sanity():
    assert tokenize("The Quick-brown fox, is IN the river_bank!") == ["quick", "brown", "fox", "river", "bank"]


@pytest.mark.parametrize("q", BODY_QUERIES)
def test_bm25_single_field(text_ns, q):
    oracle = field(DOCS, "body").scores(q)
    assert oracle, f"oracle found no match for {q!r}; fix the test data"
    resp = query(text_ns, rank_by=("body", "BM25", q), top_k=10)
    assert_ranked(ranked_pairs(resp), oracle, 10, higher_is_better=True, rel=REL, abs_=ABS, what=f"BM25 body {q!r}")
    d = [r["$dist"] for r in rows_of(resp)]
    assert d == sorted(d, reverse=True), f"BM25 rows must be in descending score order: {d}"


def test_bm25_returns_only_matching_docs(text_ns):
    q = "swift"
    oracle = field(DOCS, "body").scores(q)
    resp = query(text_ns, rank_by=("body", "BM25", q), top_k=1000)
    assert sorted(ids_of(resp)) == sorted(oracle), "BM25 returns exactly the documents containing a query term"


def test_bm25_with_filter(text_ns):
    q = "vector query cache"
    oracle = {i: s for i, s in field(DOCS, "body").scores(q).items() if DOCS[i]["grp"] == 1}
    resp = query(text_ns, rank_by=("body", "BM25", q), top_k=5, filters=("grp", "Eq", 1))
    assert_ranked(ranked_pairs(resp), oracle, 5, higher_is_better=True, rel=REL, abs_=ABS, what="BM25 + filter")


def test_bm25_sum(text_ns):
    q = "lagoon search engine"
    oracle = combine("Sum", [field(DOCS, "title").scores(q), field(DOCS, "body").scores(q)])
    resp = query(text_ns, rank_by=("Sum", [("title", "BM25", q), ("body", "BM25", q)]), top_k=10)
    assert_ranked(ranked_pairs(resp), oracle, 10, higher_is_better=True, rel=REL, abs_=ABS, what="Sum(title, body)")


def test_bm25_max(text_ns):
    q = "index token disk"
    oracle = combine("Max", [field(DOCS, "title").scores(q), field(DOCS, "body").scores(q)])
    resp = query(text_ns, rank_by=("Max", [("title", "BM25", q), ("body", "BM25", q)]), top_k=10)
    assert_ranked(ranked_pairs(resp), oracle, 10, higher_is_better=True, rel=REL, abs_=ABS, what="Max(title, body)")


def test_bm25_product_weighted_sum(text_ns):
    q = "search vector"
    t = combine("Product", [field(DOCS, "title").scores(q)], weight=2.5)
    oracle = combine("Sum", [t, field(DOCS, "body").scores(q)])
    resp = query(text_ns, rank_by=("Sum", [("Product", 2.5, ("title", "BM25", q)), ("body", "BM25", q)]), top_k=10)
    assert_ranked(ranked_pairs(resp), oracle, 10, higher_is_better=True, rel=REL, abs_=ABS,
                  what="Sum(Product(2.5, title), body)")


def test_bm25_product_weight_after_expr(text_ns):
    q = "segment"
    oracle = combine("Product", [field(DOCS, "body").scores(q)], weight=0.5)
    resp = query(text_ns, rank_by=("Product", ("body", "BM25", q), 0.5), top_k=10)
    assert_ranked(ranked_pairs(resp), oracle, 10, higher_is_better=True, rel=REL, abs_=ABS, what="Product(body, 0.5)")


def test_bm25_stats_follow_updates_and_deletes(client):
    """N, df and avgdl are namespace-wide over live documents: overwrites and deletes change them."""
    ns = client.namespace(unique_ns("bm25upd"))
    docs = make_docs(seed=12, n=30)
    ns.write(upsert_rows=[{"id": i, **d} for i, d in docs.items()], schema=SCHEMA)
    # overwrite some, delete some, patch one
    docs[3] = {"title": "lagoon lagoon", "body": "search search search engine", "grp": 0}
    docs[4] = {"title": "vector", "body": "vector " * 12, "grp": 1}
    ns.write(upsert_rows=[{"id": 3, **docs[3]}, {"id": 4, **docs[4]}])
    for i in (5, 6, 7, 8):
        del docs[i]
    ns.write(deletes=[5, 6, 7, 8])
    docs[9]["body"] = "cache cache latency"
    ns.write(patch_rows=[{"id": 9, "body": docs[9]["body"]}])
    for q in ["search", "vector cache", "lagoon latency engine"]:
        oracle = field(docs, "body").scores(q)
        resp = query(ns, rank_by=("body", "BM25", q), top_k=10)
        assert_ranked(ranked_pairs(resp), oracle, 10, higher_is_better=True, rel=REL, abs_=ABS,
                      what=f"BM25 after updates {q!r}")


def test_bm25_custom_k1_b(client):
    ns = client.namespace(unique_ns("bm25k1b"))
    docs = make_docs(seed=13, n=25)
    schema = {"body": {"type": "string", "full_text_search": {"k1": 2.0, "b": 0.3}}}
    ns.write(upsert_rows=[{"id": i, "body": d["body"]} for i, d in docs.items()], schema=schema)
    f = BM25Field({i: d["body"] for i, d in docs.items()}, k1=2.0, b=0.3)
    for q in ["search engine", "swift"]:
        resp = query(ns, rank_by=("body", "BM25", q), top_k=10)
        assert_ranked(ranked_pairs(resp), f.scores(q), 10, higher_is_better=True, rel=REL, abs_=ABS,
                      what=f"BM25 k1=2 b=0.3 {q!r}")
