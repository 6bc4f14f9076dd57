"""Writes through the official client: upserts (rows / columns, base64 and JSON vectors), patches,
deletes, filtered writes, conditional writes with $ref_new, return_affected_ids, distance metric,
schema, gzip bodies."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

from conftest import make_client
from e2e_util import (
    as_list,
    check_write_response,
    cosine_distance,
    decode_vector,
    euclidean_squared,
    fetch_all,
    query,
    random_vectors,
    raw,
    rows_of,
    strip_meta,
)


def seed(ns, n=5, with_vectors=True, **extra):
    rows = []
    for i in range(1, n + 1):
        r = {"id": i, "name": f"doc{i}", "n": i * 10, "x": i + 0.5, "flag": i % 2 == 0, "tags": [f"t{i}", "all"]}
        if with_vectors:
            r["vector"] = [float(i), 1.0, 0.5, -1.0]
        rows.append(r)
    resp = ns.write(upsert_rows=rows, distance_metric="cosine_distance", **extra)
    check_write_response(resp)
    return rows


# ------------------------------------------------------------------------------------- upserts


def test_upsert_rows_roundtrip_attributes(ns):
    rows = seed(ns)
    docs = fetch_all(ns)
    assert sorted(docs) == [1, 2, 3, 4, 5], f"all upserted ids should be present, got {sorted(docs)}"
    for r in rows:
        got = strip_meta(docs[r["id"]])
        want = {k: v for k, v in r.items() if k not in ("id", "vector")}
        assert got == want, f"id {r['id']}: attributes differ after round trip: got {got}, want {want}"
        assert type(got["n"]) is int and type(got["x"]) is float and type(got["flag"]) is bool, (
            f"JSON types must survive the round trip (int/float/bool): {got}"
        )


def test_upsert_response_counters(ns):
    resp = ns.write(upsert_rows=[{"id": i, "a": "x"} for i in range(7)])
    check_write_response(resp, rows_affected=7, rows_upserted=7)


def test_base64_vectors_roundtrip(ns):
    """The client sends upsert vectors as base64 little-endian f32 strings (first element a float)."""
    vecs = random_vectors(6, 8, seed=1)
    ns.write(
        upsert_rows=[{"id": i, "vector": as_list(vecs[i])} for i in range(6)],
        distance_metric="euclidean_squared",
    )
    resp = query(ns, rank_by=("id", "asc"), top_k=10, include_attributes=["vector"])
    rows = rows_of(resp)
    assert [r["id"] for r in rows] == list(range(6))
    for r in rows:
        assert "vector" in r, f"include_attributes=['vector'] should return the vector: {r}"
        np.testing.assert_allclose(decode_vector(r["vector"]), vecs[r["id"]], rtol=0, atol=0,
                                   err_msg=f"vector of id {r['id']} must round-trip bit-exactly as f32")


def test_json_array_vectors_accepted(ns, base_url, ns_name):
    """Vectors as plain JSON arrays: the client sends int lists unencoded; raw floats via HTTP."""
    ns.write(upsert_rows=[{"id": 1, "vector": [1, 2, 3]}], distance_metric="euclidean_squared")
    r = raw(base_url, "POST", f"/v2/namespaces/{ns_name}",
            {"upsert_rows": [{"id": 2, "vector": [0.5, 0.25, -1.0]}]})
    assert r.status_code == 200, f"JSON float-array vector should be accepted: {r.status_code} {r.text}"
    resp = query(ns, rank_by=("vector", "kNN", [1.0, 2.0, 3.0]), top_k=2, include_attributes=["vector"])
    rows = rows_of(resp)
    assert [x["id"] for x in rows] == [1, 2]
    assert rows[0]["$dist"] == pytest.approx(0.0, abs=1e-6)
    assert decode_vector(rows[1]["vector"]) == [0.5, 0.25, -1.0]
    assert rows[1]["$dist"] == pytest.approx(0.5**2 + 1.75**2 + 4.0**2, rel=1e-5)


def test_upsert_columns_with_nulls(ns):
    vecs = random_vectors(3, 4, seed=2)
    resp = ns.write(
        upsert_columns={
            "id": [10, 11, 12],
            "vector": [as_list(v) for v in vecs],
            "a": ["x", None, "z"],
            "n": [1, 2, None],
        },
        distance_metric="cosine_distance",
    )
    check_write_response(resp, rows_affected=3)
    docs = fetch_all(ns)
    assert sorted(docs) == [10, 11, 12]
    assert strip_meta(docs[10]) == {"a": "x", "n": 1}
    assert strip_meta(docs[11]) == {"n": 2}, f"null in columnar upsert means absent: {docs[11]}"
    assert strip_meta(docs[12]) == {"a": "z"}, f"null in columnar upsert means absent: {docs[12]}"


def test_upsert_replaces_whole_document(ns):
    ns.write(upsert_rows=[{"id": 1, "a": "x", "b": 1}])
    ns.write(upsert_rows=[{"id": 1, "a": "y"}])
    docs = fetch_all(ns)
    assert strip_meta(docs[1]) == {"a": "y"}, f"an upsert replaces the whole document: {docs[1]}"


def test_string_and_uuid_ids(client):
    from conftest import unique_ns

    ns = client.namespace(unique_ns("strids"))
    ids = ["b", "a", "c-1", "a0"]
    ns.write(upsert_rows=[{"id": i, "v": i.upper()} for i in ids])
    resp = query(ns, top_k=10, include_attributes=["v"])
    assert [r["id"] for r in rows_of(resp)] == sorted(ids), "string ids come back in ascending order"
    assert all(r["v"] == r["id"].upper() for r in rows_of(resp))

    ns2 = client.namespace(unique_ns("uuids"))
    uids = sorted(str(uuid.uuid4()) for _ in range(3))
    ns2.write(upsert_rows=[{"id": u, "k": n} for n, u in enumerate(uids)], schema={"id": {"type": "uuid"}})
    got = [r["id"] for r in rows_of(query(ns2, top_k=10))]
    assert sorted(str(g).lower() for g in got) == uids


def test_large_batch(ns):
    n = 2000
    resp = ns.write(upsert_columns={"id": list(range(n)), "k": [i * 3 for i in range(n)]})
    check_write_response(resp, rows_affected=n)
    docs = fetch_all(ns)
    assert len(docs) == n
    assert all(docs[i]["k"] == i * 3 for i in range(n))


def test_gzip_request_body(base_url, ns_name):
    """compression=True gzips bodies > 1 KiB (Content-Encoding: gzip); the server must accept it."""
    c = make_client(base_url, compression=True)
    ns = c.namespace(ns_name)
    rows = [{"id": i, "text": "lorem ipsum " * 20} for i in range(50)]
    check_write_response(ns.write(upsert_rows=rows), rows_affected=50)
    docs = fetch_all(ns)
    assert len(docs) == 50 and docs[7]["text"] == "lorem ipsum " * 20


def test_multiple_operations_in_one_request(ns):
    seed(ns, with_vectors=False)
    resp = ns.write(upsert_rows=[{"id": 100, "name": "new"}], patch_rows=[{"id": 2, "name": "patched"}], deletes=[3])
    check_write_response(resp)
    docs = fetch_all(ns)
    assert 100 in docs and 3 not in docs, f"upsert and delete in one request: {sorted(docs)}"
    assert docs[2]["name"] == "patched"


# ------------------------------------------------------------------------------------- patches


def test_patch_rows_only_named_attributes(ns):
    seed(ns)
    resp = ns.write(patch_rows=[{"id": 2, "name": "two", "extra": True}, {"id": 999, "name": "ghost"}])
    check_write_response(resp)
    assert resp.rows_patched in (None, 1), f"only existing ids are patched: rows_patched={resp.rows_patched}"
    docs = fetch_all(ns)
    assert 999 not in docs, "a patch must not create a missing document"
    assert strip_meta(docs[2]) == {"name": "two", "n": 20, "x": 2.5, "flag": True, "tags": ["t2", "all"], "extra": True}
    assert docs[1]["name"] == "doc1", "other documents untouched"


def test_patch_rows_null_removes_attribute(ns):
    seed(ns, with_vectors=False)
    ns.write(patch_rows=[{"id": 1, "n": None}])
    docs = fetch_all(ns)
    assert "n" not in docs[1], f"patching an attribute to null removes it: {docs[1]}"


def test_patch_columns(ns):
    seed(ns)
    resp = ns.write(patch_columns={"id": [1, 3], "n": [-1, -3]})
    check_write_response(resp)
    docs = fetch_all(ns)
    assert [docs[i]["n"] for i in (1, 2, 3)] == [-1, 20, -3]
    assert docs[3]["name"] == "doc3"


def test_patch_keeps_vector(ns):
    seed(ns)
    ns.write(patch_rows=[{"id": 1, "name": "p"}])
    resp = query(ns, rank_by=("vector", "kNN", [1.0, 1.0, 0.5, -1.0]), top_k=1, include_attributes=["name", "vector"])
    row = rows_of(resp)[0]
    assert row["id"] == 1 and row["name"] == "p"
    assert decode_vector(row["vector"]) == [1.0, 1.0, 0.5, -1.0]


# ------------------------------------------------------------------------------------- deletes


def test_deletes(ns):
    seed(ns)
    resp = ns.write(deletes=[2, 4, 12345])
    check_write_response(resp)
    assert resp.rows_deleted in (None, 2), f"rows_deleted should count existing ids: {resp.rows_deleted}"
    assert sorted(fetch_all(ns)) == [1, 3, 5]


def test_delete_by_filter(ns):
    seed(ns)
    resp = ns.write(delete_by_filter=("n", "Gte", 30), return_affected_ids=True)
    check_write_response(resp, rows_deleted=3)
    assert sorted(resp.deleted_ids or []) == [3, 4, 5], f"deleted_ids: {resp.deleted_ids}"
    assert sorted(fetch_all(ns)) == [1, 2]


def test_patch_by_filter(ns):
    seed(ns)
    resp = ns.write(patch_by_filter={"filters": ("flag", "Eq", True), "patch": {"name": "even", "new": 1}},
                    return_affected_ids=True)
    check_write_response(resp, rows_patched=2)
    assert sorted(resp.patched_ids or []) == [2, 4]
    docs = fetch_all(ns)
    assert [docs[i]["name"] for i in range(1, 6)] == ["doc1", "even", "doc3", "even", "doc5"]
    assert docs[2]["new"] == 1 and "new" not in docs[1]
    assert docs[4]["n"] == 40, "patch_by_filter leaves other attributes"


# ------------------------------------------------------------------------------------- conditions


def test_upsert_condition_with_ref_new(ns):
    ns.write(upsert_rows=[{"id": 1, "v": 5, "s": "old"}, {"id": 2, "v": 5, "s": "old"}])
    resp = ns.write(
        upsert_rows=[{"id": 1, "v": 3, "s": "new"}, {"id": 2, "v": 7, "s": "new"}],
        upsert_condition=("v", "Lt", {"$ref_new": "v"}),
        return_affected_ids=True,
    )
    check_write_response(resp, rows_upserted=1, rows_affected=1)
    assert list(resp.upserted_ids or []) == [2], f"only id 2 passes v < $ref_new.v: {resp.upserted_ids}"
    docs = fetch_all(ns)
    assert strip_meta(docs[1]) == {"v": 5, "s": "old"}, "failed condition leaves the document unchanged"
    assert strip_meta(docs[2]) == {"v": 7, "s": "new"}


def test_upsert_condition_new_id_is_inserted(ns):
    """turbopuffer semantics (see WIRE.md): the condition applies to existing documents; a new id is
    upserted without evaluating it."""
    ns.write(upsert_rows=[{"id": 1, "v": 5}])
    resp = ns.write(upsert_rows=[{"id": 2, "v": 1}], upsert_condition=("v", "Lt", {"$ref_new": "v"}))
    check_write_response(resp)
    assert sorted(fetch_all(ns)) == [1, 2]


def test_patch_condition(ns):
    ns.write(upsert_rows=[{"id": i, "state": "draft" if i % 2 else "live", "n": 0} for i in range(1, 5)])
    resp = ns.write(patch_rows=[{"id": i, "n": 1} for i in range(1, 5)], patch_condition=("state", "Eq", "draft"),
                    return_affected_ids=True)
    check_write_response(resp, rows_patched=2)
    assert sorted(resp.patched_ids or []) == [1, 3]
    docs = fetch_all(ns)
    assert [docs[i]["n"] for i in range(1, 5)] == [1, 0, 1, 0]


def test_patch_condition_ref_new(ns):
    ns.write(upsert_rows=[{"id": 1, "ver": 2, "x": "a"}, {"id": 2, "ver": 9, "x": "a"}])
    ns.write(patch_rows=[{"id": 1, "ver": 3, "x": "b"}, {"id": 2, "ver": 3, "x": "b"}],
             patch_condition=("ver", "Lt", {"$ref_new": "ver"}))
    docs = fetch_all(ns)
    assert (docs[1]["x"], docs[2]["x"]) == ("b", "a")


def test_delete_condition(ns):
    seed(ns, with_vectors=False)
    resp = ns.write(deletes=[1, 2, 3, 4], delete_condition=("flag", "Eq", False), return_affected_ids=True)
    check_write_response(resp, rows_deleted=2)
    assert sorted(resp.deleted_ids or []) == [1, 3]
    assert sorted(fetch_all(ns)) == [2, 4, 5]


def test_return_affected_ids_upsert(ns):
    resp = ns.write(upsert_rows=[{"id": i} for i in (5, 6, 7)], return_affected_ids=True)
    check_write_response(resp, rows_upserted=3)
    assert sorted(resp.upserted_ids or []) == [5, 6, 7]
    resp2 = ns.write(upsert_rows=[{"id": 8}])
    assert resp2.upserted_ids is None, "ids are only returned when return_affected_ids is true"


# ------------------------------------------------------------------------------------- metric, schema


@pytest.mark.parametrize("metric", ["cosine_distance", "euclidean_squared"])
def test_distance_metric_is_remembered(ns, metric):
    vecs = random_vectors(20, 6, seed=3)
    ns.write(upsert_rows=[{"id": i, "vector": as_list(vecs[i])} for i in range(10)], distance_metric=metric)
    # later writes need not repeat the metric
    ns.write(upsert_rows=[{"id": i, "vector": as_list(vecs[i])} for i in range(10, 20)])
    q = random_vectors(1, 6, seed=4)[0]
    oracle = (cosine_distance if metric == "cosine_distance" else euclidean_squared)(q, vecs)
    resp = query(ns, rank_by=("vector", "kNN", as_list(q)), top_k=20)
    rows = rows_of(resp)
    assert [r["id"] for r in rows] == [int(i) for i in np.argsort(oracle, kind="stable")], f"{metric} order"
    for r in rows:
        assert r["$dist"] == pytest.approx(oracle[r["id"]], rel=1e-4, abs=1e-5), f"{metric} $dist of {r['id']}"


def test_schema_on_write(ns):
    resp = ns.write(
        upsert_rows=[{"id": 1, "title": "Hello world", "tags": ["a"], "n": 1}],
        schema={
            "title": {"type": "string", "full_text_search": True},
            "tags": {"type": "[]string", "filterable": True},
            "n": {"type": "int"},
        },
    )
    check_write_response(resp)
    schema = ns.schema()
    assert schema["title"].type == "string" and schema["title"].full_text_search, f"schema: {schema}"
    assert schema["tags"].type == "[]string"
    assert schema["n"].type == "int"
    r = query(ns, rank_by=("title", "BM25", "hello"), top_k=5)
    assert [x["id"] for x in rows_of(r)] == [1]


def test_schema_inferred_types(ns):
    seed(ns)
    schema = ns.schema()
    want = {"name": "string", "n": "int", "x": "float", "flag": "bool", "tags": "[]string", "vector": "[4]f32"}
    got = {k: schema[k].type for k in want if k in schema}
    assert got == want, f"inferred schema types: got {got}, want {want} (full schema: {schema})"
