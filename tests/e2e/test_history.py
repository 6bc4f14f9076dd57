"""Lagoon extensions over HTTP: manifest history, time travel with `as_of`, and /metrics."""
from __future__ import annotations

from e2e_util import raw, raw_error


def test_history_and_as_of(ns, base_url):
    ns.write(upsert_rows=[{"id": 1, "v": "a"}, {"id": 2, "v": "a"}])
    ns.write(upsert_rows=[{"id": 2, "v": "b"}], deletes=[1])
    history = raw(base_url, "GET", f"/v1/namespaces/{ns.id}/history").json()
    versions = [v["version"] for v in history["versions"]]
    assert versions == sorted(versions, reverse=True) and len(versions) == 2, history
    first = versions[-1]

    old = raw(base_url, "POST", f"/v2/namespaces/{ns.id}/query", {"as_of": first, "include_attributes": ["v"]}).json()
    assert [(r["id"], r["v"]) for r in old["rows"]] == [(1, "a"), (2, "a")], old
    now = raw(base_url, "POST", f"/v2/namespaces/{ns.id}/query", {"include_attributes": ["v"]}).json()
    assert [(r["id"], r["v"]) for r in now["rows"]] == [(2, "b")], now

    raw_error(raw(base_url, "POST", f"/v2/namespaces/{ns.id}/query", {"as_of": 999}), 404)
    raw_error(raw(base_url, "POST", f"/v2/namespaces/{ns.id}/query", {"as_of": -1}), 400, "as_of")
    raw_error(raw(base_url, "GET", f"/v1/namespaces/{ns.id}/history?limit=0"), 400, "limit")


def test_metrics_count_object_store_requests(ns, base_url):
    def puts() -> int:
        text = raw(base_url, "GET", "/metrics", headers={"Authorization": ""}).text
        line = next(l for l in text.splitlines() if l.startswith('lagoon_objstore_requests_total{op="put"}'))
        return int(line.split()[-1])

    before = puts()
    ns.write(upsert_rows=[{"id": 1}])
    assert puts() >= before + 2, "a write puts at least a WAL entry and a manifest"
