"""Bad input → 400 naming the JSON path (`upsert_rows[2].vector`, `upsert_columns.n[1]`,
`filters[1][2]`, `rank_by[2]`), out-of-scope features → 400 saying so, rejected writes write
nothing, oversized bodies → 413, unknown namespaces → 404. Error body: {"status":"error","error":"..."}.
All client calls here use max_retries=0."""
from __future__ import annotations

import base64
import math
import os
import select
import socket
from urllib.parse import urlsplit

import pytest
import turbopuffer

from conftest import unique_ns
from e2e_util import (
    expect_error,
    fetch_all,
    ids_of,
    raw,
    raw_error,
    strip_meta,
)

OUT_OF_SCOPE = ("out of scope", "not supported", "unsupported")


@pytest.fixture
def nr(client_noretry, ns_name):
    """No-retry handle on this test's namespace."""
    return client_noretry.namespace(ns_name)


@pytest.fixture
def existing(nr):
    """A namespace with u64 ids, 4-d vectors, n:int, s:string, tags:[]string."""
    nr.write(
        upsert_rows=[{"id": i, "vector": [float(i), 1.0, 0.0, 0.5], "n": i, "s": f"s{i}", "tags": ["a"]} for i in range(3)],
        distance_metric="cosine_distance",
    )
    return nr


def assert_unchanged(ns):
    docs = fetch_all(ns)
    assert sorted(docs) == [0, 1, 2], f"a rejected write must write nothing: ids now {sorted(docs)}"
    for i in range(3):
        assert strip_meta(docs[i]) == {"n": i, "s": f"s{i}", "tags": ["a"]}, f"doc {i} changed: {docs[i]}"


# ------------------------------------------------------------------------------------- vectors


def test_wrong_vector_dimension(existing):
    with expect_error(400, "upsert_rows[2].vector"):
        existing.write(upsert_rows=[
            {"id": 10, "vector": [1.0, 2.0, 3.0, 4.0]},
            {"id": 11, "vector": [1.0, 2.0, 3.0, 4.0]},
            {"id": 12, "vector": [1.0, 2.0, 3.0]},
        ])
    assert_unchanged(existing)


def test_inconsistent_dimension_in_first_write(nr):
    with expect_error(400, "upsert_rows[2].vector"):
        nr.write(upsert_rows=[{"id": 1, "vector": [1.0, 2.0]}, {"id": 2, "vector": [1.0, 2.0]},
                              {"id": 3, "vector": [1.0, 2.0, 3.0]}], distance_metric="cosine_distance")
    assert nr.exists() is False, "a rejected first write must not create the namespace"


def test_wrong_vector_dimension_columns(existing):
    with expect_error(400, "upsert_columns.vector[1]"):
        existing.write(upsert_columns={"id": [20, 21], "vector": [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]]})
    assert_unchanged(existing)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_vector_base64(existing, bad):
    """The client base64-encodes float lists, so NaN/inf arrive as valid JSON strings."""
    with expect_error(400, "upsert_rows[1].vector"):
        existing.write(upsert_rows=[{"id": 30, "vector": [1.0, 1.0, 1.0, 1.0]},
                                    {"id": 31, "vector": [1.0, bad, 0.0, 0.0]}])
    assert_unchanged(existing)


def test_nan_in_raw_json(existing, base_url):
    body = '{"upsert_rows": [{"id": 40, "vector": [1.0, NaN, 0.0, 0.0]}]}'
    r = raw(base_url, "POST", f"/v2/namespaces/{existing.id}", body)
    raw_error(r, 400)
    assert_unchanged(existing)


def test_base64_vector_bad_length(existing, base_url):
    bad = base64.b64encode(b"\x00" * 17).decode()  # 17 bytes: not a whole number of f32
    body = {"upsert_rows": [{"id": 41, "vector": bad}]}
    r = raw(base_url, "POST", f"/v2/namespaces/{existing.id}", body)
    raw_error(r, 400, "upsert_rows[0].vector")


def test_query_vector_wrong_dimension(existing):
    with expect_error(400, "rank_by[2]"):
        existing.query(rank_by=("vector", "ANN", [1.0, 2.0]), top_k=3)


def test_query_vector_nan(existing):
    # orjson serializes NaN as null → the server sees a null element
    with expect_error(400, "rank_by[2]"):
        existing.query(rank_by=("vector", "kNN", [1.0, math.nan, 0.0, 0.0]), top_k=3)


# ------------------------------------------------------------------------------------- ids, types


@pytest.mark.parametrize("bad_id", ["abc", -1, 1.5, None, [1]], ids=["string", "negative", "float", "null", "list"])
def test_id_of_wrong_kind(existing, bad_id):
    with expect_error(400, "upsert_rows[1].id"):
        existing.write(upsert_rows=[{"id": 50, "vector": [1.0, 0.0, 0.0, 0.0]},
                                    {"id": bad_id, "vector": [1.0, 0.0, 0.0, 0.0]}])
    assert_unchanged(existing)


def test_string_id_too_long(nr):
    with expect_error(400, "upsert_rows[0].id"):
        nr.write(upsert_rows=[{"id": "x" * 65}])


def test_bad_attribute_type_rows(existing):
    with expect_error(400, "upsert_rows[1].n"):
        existing.write(upsert_rows=[{"id": 60, "vector": [1.0, 0.0, 0.0, 0.0], "n": 1},
                                    {"id": 61, "vector": [1.0, 0.0, 0.0, 0.0], "n": "not-an-int"}])
    assert_unchanged(existing)


def test_bad_attribute_type_columns(existing):
    with expect_error(400, "upsert_columns.n[1]"):
        existing.write(upsert_columns={"id": [62, 63], "vector": [[1.0, 0, 0, 0], [1.0, 0, 0, 0]], "n": [1, "x"]})
    assert_unchanged(existing)


def test_bad_attribute_type_patch(existing):
    with expect_error(400, "patch_rows[0].tags"):
        existing.write(patch_rows=[{"id": 1, "tags": "not-a-list"}])
    assert_unchanged(existing)


def test_column_length_mismatch(existing):
    with expect_error(400, "upsert_columns"):
        existing.write(upsert_columns={"id": [70, 71], "vector": [[1.0, 0, 0, 0]], "n": [1, 2]})
    assert_unchanged(existing)


def test_rejected_write_with_deletes_writes_nothing(existing):
    with expect_error(400, "upsert_rows[0].n"):
        existing.write(upsert_rows=[{"id": 80, "vector": [1.0, 0.0, 0.0, 0.0], "n": "bad"}], deletes=[0, 1])
    assert_unchanged(existing)


# ------------------------------------------------------------------------------------- options


def test_unknown_write_option(existing):
    with expect_error(400, "upsert_rowz"):
        existing.write(extra_body={"upsert_rowz": [{"id": 90}]})
    assert_unchanged(existing)


def test_unknown_distance_metric(nr):
    with expect_error(400, "distance_metric"):
        nr.write(upsert_rows=[{"id": 1, "vector": [1.0, 0.0]}], extra_body={"distance_metric": "manhattan"})


def test_unknown_query_option(existing):
    with expect_error(400, "top_kk"):
        existing.query(extra_body={"top_kk": 3})


def test_bad_include_attributes(existing):
    with expect_error(400, "include_attributes"):
        existing.query(top_k=3, extra_body={"include_attributes": 5})


def test_unknown_filter_operator_nested(existing):
    with expect_error(400, "filters[1][2]", "Bogus"):
        existing.query(top_k=3, filters=["And", [["n", "Eq", 1], ["s", "Eq", "s1"], ["n", "Bogus", 3]]])


def test_unknown_filter_operator_top_level(existing):
    with expect_error(400, "filters", "Equals"):
        existing.query(top_k=3, filters=["n", "Equals", 1])


def test_filter_value_wrong_type(existing):
    with expect_error(400, "filters"):
        existing.query(top_k=3, filters=["n", "In", 5])


@pytest.mark.parametrize("flt", [["s", "Regex", "^s[0-9]$"], ["s", "Fuzzy", "s1", {}]], ids=["Regex", "Fuzzy"])
def test_out_of_scope_filters(existing, flt):
    with expect_error(400, flt[1], any_of=OUT_OF_SCOPE):
        existing.query(top_k=3, filters=flt)


def test_out_of_scope_aggregations(existing):
    with expect_error(400, "aggregate_by", any_of=OUT_OF_SCOPE):
        existing.query(aggregate_by={"c": ("Count",)})


def test_bm25_on_non_fts_attribute(existing):
    with expect_error(400, "rank_by"):
        existing.query(rank_by=("s", "BM25", "s1"), top_k=3)


def test_unknown_rank_function(existing):
    with expect_error(400, "rank_by"):
        existing.query(rank_by=("vector", "Nearest", [1.0, 0.0, 0.0, 0.0]), top_k=3)


def test_invalid_json(existing, base_url):
    r = raw(base_url, "POST", f"/v2/namespaces/{existing.id}/query", b'{"top_k": 3,')
    raw_error(r, 400)


@pytest.mark.parametrize("name", ["bad%20name", "x" * 129, "semi%3Bcolon"], ids=["space", "too-long", "semicolon"])
def test_bad_namespace_name(base_url, name):
    r = raw(base_url, "POST", f"/v2/namespaces/{name}", {"upsert_rows": [{"id": 1}]})
    raw_error(r, 400)


# ------------------------------------------------------------------------------------- 404 / 413


def test_unknown_namespace(client_noretry):
    ns = client_noretry.namespace(unique_ns("missing"))
    for call in (lambda: ns.query(top_k=3), lambda: ns.metadata(), lambda: ns.schema(),
                 lambda: ns.explain_query(top_k=3), lambda: ns.delete_all()):
        with expect_error(404):
            call()
    assert ns.exists() is False


def test_unknown_namespace_raw(base_url):
    r = raw(base_url, "POST", f"/v2/namespaces/{unique_ns('missing')}/query", {"top_k": 1})
    raw_error(r, 404)


def _read_status(sock: socket.socket, timeout: float) -> int | None:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])


def test_oversized_body_declared(base_url, ns_name):
    """A request declaring a 2 GiB body gets 413 without the server reading it all."""
    u = urlsplit(base_url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    try:
        size = 2 << 30
        head = (f"POST /v2/namespaces/{ns_name} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                f"Authorization: Bearer {os.environ.get('LAGOON_E2E_API_KEY', 'test')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {size}\r\n\r\n").encode()
        sock.sendall(head + b'{"upsert_rows": [')
        chunk = b" " * (1 << 20)
        status = None
        for _ in range(256):  # at most 256 MiB before giving up
            r, _, _ = select.select([sock], [], [], 0)
            if r:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        status = _read_status(sock, 30)
        assert status == 413, f"expected HTTP 413 for a 2 GiB body, got {status}"
    finally:
        sock.close()


@pytest.mark.skipif(not os.environ.get("LAGOON_E2E_MAX_BODY_BYTES"),
                    reason="set LAGOON_E2E_MAX_BODY_BYTES to the server's body limit to send a real oversized body")
def test_oversized_body_real(base_url, ns_name):
    limit = int(os.environ["LAGOON_E2E_MAX_BODY_BYTES"])
    body = b'{"upsert_rows": [{"id": 1, "pad": "' + b"x" * (limit + 1) + b'"}]}'
    r = raw(base_url, "POST", f"/v2/namespaces/{ns_name}", body)
    raw_error(r, 413)
    assert raw(base_url, "GET", f"/v1/namespaces/{ns_name}/schema").status_code == 404


def test_error_is_not_retried_by_server_side_effects(existing, client):
    """400s are not retried by the client: one attempt, nothing written (also with retries on)."""
    ns = client.namespace(existing.id)
    with pytest.raises(turbopuffer.BadRequestError):
        ns.write(upsert_rows=[{"id": 99, "vector": [1.0]}])
    assert 99 not in ids_of(existing.query(top_k=100))
