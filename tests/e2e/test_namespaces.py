"""Namespace-level calls: metadata, schema get/update, exists, namespace listing (prefix and
pagination), delete_all, explain_query, recall, hint_cache_warm, branch_from / copy_from."""
from __future__ import annotations

import datetime as dt

import pytest
import turbopuffer

from conftest import unique_ns
from e2e_util import (
    as_list,
    check_write_response,
    expect_error,
    fetch_all,
    ids_of,
    query,
    random_vectors,
    rows_of,
    strip_meta,
)


def seed(ns, n=5, dim=4):
    vecs = random_vectors(n, dim, seed=31)
    resp = ns.write(
        upsert_rows=[{"id": i, "vector": as_list(vecs[i]), "s": f"v{i}", "n": i} for i in range(n)],
        distance_metric="cosine_distance",
    )
    check_write_response(resp)
    return vecs


# ------------------------------------------------------------------------------------- metadata


def test_metadata(ns):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    seed(ns)
    md = ns.metadata()
    assert md.approx_row_count == 5, f"approx_row_count: {md.approx_row_count}"
    assert isinstance(md.approx_logical_bytes, int) and md.approx_logical_bytes > 0
    assert isinstance(md.created_at, dt.datetime) and isinstance(md.updated_at, dt.datetime), (
        f"created_at / updated_at must be RFC 3339 timestamps: {md.created_at!r} {md.updated_at!r}"
    )
    assert md.created_at >= before, f"created_at {md.created_at} predates the test"
    assert md.updated_at >= md.created_at
    assert md.index is not None and md.index.status in ("up-to-date", "updating"), f"index: {md.index}"
    if md.index.status == "updating":
        assert isinstance(md.index.unindexed_bytes, int) and isinstance(md.index.unindexed_rows, int), (
            f"an updating index needs unindexed_bytes and unindexed_rows: {md.index}"
        )
    assert md.encryption is not None and md.encryption.mode == "default", f"encryption: {md.encryption}"
    assert md.schema_ is not None and md.schema_["s"].type == "string" and md.schema_["vector"].type == "[4]f32", (
        f"metadata schema: {md.schema_}"
    )


def test_metadata_updated_at_moves(ns):
    seed(ns)
    first = ns.metadata()
    ns.write(upsert_rows=[{"id": 100, "vector": [1.0, 0.0, 0.0, 0.0]}])
    second = ns.metadata()
    assert second.approx_row_count == 6
    assert second.updated_at >= first.updated_at
    assert second.created_at == first.created_at


# ------------------------------------------------------------------------------------- schema


def test_schema_get(ns):
    seed(ns)
    schema = ns.schema()
    assert schema["s"].type == "string" and schema["n"].type == "int" and schema["vector"].type == "[4]f32", schema


def test_update_schema(ns):
    seed(ns)
    out = ns.update_schema(schema={"label": {"type": "string", "filterable": True},
                                   "s": {"type": "string", "full_text_search": True}})
    assert "label" in out and out["label"].type == "string", f"update_schema returns the new schema: {out}"
    assert out["s"].full_text_search, f"full_text_search enabled on s: {out['s']}"
    assert ns.schema()["label"].type == "string"
    ns.write(upsert_rows=[{"id": 50, "vector": [0.0, 1.0, 0.0, 0.0], "label": "x", "s": "hello world"}])
    assert ids_of(query(ns, filters=("label", "Eq", "x"))) == [50]
    assert ids_of(query(ns, rank_by=("s", "BM25", "hello"), top_k=5)) == [50]


def test_update_schema_type_change_rejected(ns, client_noretry):
    seed(ns)
    with expect_error(400, "n", any_of=("type",)):
        client_noretry.namespace(ns.id).update_schema(schema={"n": {"type": "string"}})


# ------------------------------------------------------------------------------------- exists / delete


def test_exists_and_delete_all(ns, client_noretry):
    assert ns.exists() is False, "a namespace that was never written does not exist"
    seed(ns)
    assert ns.exists() is True
    resp = ns.delete_all()
    assert resp.status == "OK", f"delete_all answers {{'status':'OK'}}: {resp}"
    assert ns.exists() is False
    nr = client_noretry.namespace(ns.id)
    with pytest.raises(turbopuffer.NotFoundError):
        nr.query(top_k=1)
    with pytest.raises(turbopuffer.NotFoundError):
        nr.metadata()
    with pytest.raises(turbopuffer.NotFoundError):
        nr.delete_all()
    # the name can be reused afterwards, starting empty
    ns.write(upsert_rows=[{"id": 7, "vector": [1.0, 0.0]}], distance_metric="euclidean_squared")
    assert ids_of(query(ns, top_k=10)) == [7]


# ------------------------------------------------------------------------------------- listing


def test_namespace_list_prefix_and_pagination(client):
    prefix = unique_ns("list") + "-"
    names = sorted(f"{prefix}{i:02d}" for i in range(5))
    for n in names:
        client.namespace(n).write(upsert_rows=[{"id": 1}])
    client.namespace(unique_ns("other")).write(upsert_rows=[{"id": 1}])

    page = client.namespaces(prefix=prefix, page_size=2)
    first = [n.id for n in page.namespaces]
    assert first == names[:2], f"first page (page_size=2): {first}"
    assert page.next_cursor, "a full page must carry next_cursor"

    all_ids = [n.id for n in client.namespaces(prefix=prefix, page_size=2)]  # auto-paginates
    assert all_ids == names, f"listing with prefix, sorted, every name once: {all_ids}"

    pages = [[n.id for n in p.namespaces] for p in client.namespaces(prefix=prefix, page_size=2).iter_pages()]
    assert [len(p) for p in pages] in ([2, 2, 1], [2, 2, 1, 0]), f"page sizes: {pages}"

    every = {n.id for n in client.namespaces(page_size=1000)}
    assert set(names) <= every


def test_namespace_list_excludes_deleted(client):
    prefix = unique_ns("listdel") + "-"
    for i in range(3):
        client.namespace(f"{prefix}{i}").write(upsert_rows=[{"id": 1}])
    client.namespace(f"{prefix}1").delete_all()
    assert [n.id for n in client.namespaces(prefix=prefix)] == [f"{prefix}0", f"{prefix}2"]


# ------------------------------------------------------------------------------------- explain


def test_explain_query_vector_with_filter(ns):
    seed(ns)
    out = ns.explain_query(rank_by=("vector", "ANN", [0.1, 0.2, 0.3, 0.4]), filters=("n", "Gt", 1), top_k=3)
    text = out.plan_text
    assert isinstance(text, str) and text.strip(), f"explain_query returns plan_text: {out}"
    low = text.lower()
    assert "topk" in low or "top_k" in low or "top k" in low, f"plan should show a TopK node:\n{text}"
    assert "filter" in low, f"plan should show the Filter:\n{text}"
    assert any(k in low for k in ("ann", "knn", "exact")), f"plan should show the vector search node:\n{text}"


def test_explain_query_bm25(ns):
    ns.write(upsert_rows=[{"id": 1, "t": "hello world"}], schema={"t": {"type": "string", "full_text_search": True}})
    out = ns.explain_query(rank_by=("t", "BM25", "hello"), top_k=3)
    assert "bm25" in (out.plan_text or "").lower(), f"plan should show the BM25 node:\n{out.plan_text}"


def test_explain_does_not_execute_writes_or_fail_on_empty_result(ns):
    seed(ns)
    out = ns.explain_query(filters=("s", "Eq", "nothing-matches"), top_k=3)
    assert out.plan_text


# ------------------------------------------------------------------------------------- recall / warm


def test_recall_exact_while_unindexed(ns):
    vecs = random_vectors(200, 8, seed=32)
    ns.write(upsert_columns={"id": list(range(200)), "vector": [as_list(v) for v in vecs]},
             distance_metric="euclidean_squared")
    r = ns.recall(num=5, top_k=10)
    assert r.avg_recall == pytest.approx(1.0), f"recall must be 1.0 while search is exhaustive: {r}"
    assert r.avg_ann_count == pytest.approx(10.0) and r.avg_exhaustive_count == pytest.approx(10.0), f"{r}"


def test_recall_with_filters(ns):
    vecs = random_vectors(100, 8, seed=33)
    ns.write(upsert_columns={"id": list(range(100)), "vector": [as_list(v) for v in vecs],
                             "g": [i % 2 for i in range(100)]}, distance_metric="cosine_distance")
    r = ns.recall(num=3, top_k=5, filters=["g", "Eq", 1])
    assert r.avg_recall == pytest.approx(1.0), f"{r}"


def test_hint_cache_warm(ns):
    seed(ns)
    r = ns.hint_cache_warm()
    assert r.status == "ACCEPTED", f"hint_cache_warm answers {{'status':'ACCEPTED'}}: {r}"
    assert ids_of(query(ns, top_k=10)) == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------------------------- branch / copy


def test_branch_from(client):
    src = client.namespace(unique_ns("src"))
    seed(src)
    dst = client.namespace(unique_ns("branch"))
    resp = dst.branch_from(source_namespace=src.id)
    assert resp.status == "OK", f"branch_from answers a write response: {resp}"
    assert fetch_all(dst).keys() == fetch_all(src).keys()
    # writes diverge
    dst.write(upsert_rows=[{"id": 99, "vector": [1.0, 0.0, 0.0, 0.0], "s": "only-in-branch"}])
    src.write(deletes=[0])
    assert 99 in fetch_all(dst) and 99 not in fetch_all(src)
    assert 0 in fetch_all(dst) and 0 not in fetch_all(src)
    assert strip_meta(fetch_all(dst)[1]) == {"s": "v1", "n": 1}


def test_copy_from(client):
    src = client.namespace(unique_ns("csrc"))
    seed(src)
    dst = client.namespace(unique_ns("copy"))
    resp = dst.copy_from(source_namespace=src.id)
    assert resp.status == "OK", f"copy_from answers a write response: {resp}"
    got = fetch_all(dst)
    assert sorted(got) == [0, 1, 2, 3, 4]
    assert strip_meta(got[3]) == {"s": "v3", "n": 3}
    q = rows_of(query(dst, rank_by=("vector", "kNN", [0.1, 0.2, 0.3, 0.4]), top_k=5))
    assert len(q) == 5 and all("$dist" in r for r in q), "copied vectors are searchable"
