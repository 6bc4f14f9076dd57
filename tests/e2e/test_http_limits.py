"""HTTP-layer bounds on a real server: malformed framing, client disconnects, gzip bombs, request
bytes in flight, /v1 compatibility routes, and a loopback load test (heavy queries must not
starve /healthz or cheap queries)."""
from __future__ import annotations

import gzip
import json
import os
import socket
import statistics
import threading
import time

import requests

from e2e_util import random_vectors

AUTH = {"Authorization": "Bearer test", "Content-Type": "application/json"}


def send_raw(url: str, data: bytes, read: bool = True, timeout: float = 10) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b""
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"}" in chunk:
                    break
        except socket.timeout:
            pass
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def write(url: str, ns: str, rows: list[dict]) -> None:
    r = requests.post(f"{url}/v2/namespaces/{ns}", json={"upsert_rows": rows}, headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text


def test_bad_chunk_size_is_400(fresh_server):
    url = fresh_server.url
    request = (b"POST /v2/namespaces/chunky HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n")
    response = send_raw(url, request)
    assert response, "no answer"
    assert status_of(response) == 400, response[:300]
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
    assert "internal error" not in fresh_server.log_tail(200)


def test_client_disconnect_mid_body_is_not_an_internal_error(fresh_server):
    url = fresh_server.url
    head = (b"POST /v2/namespaces/gone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(3):
        send_raw(url, head + b'{"upsert_rows": [', read=False)
    time.sleep(0.5)
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
    log = fresh_server.log_tail(200)
    assert "internal error" not in log and "error" not in log.lower(), log


def test_gzip_bomb_is_413_at_the_body_limit(server_factory):
    srv = server_factory("bomb", {"LAGOON_SERVER__MAX_BODY_BYTES": str(1 << 20)})
    bomb = gzip.compress(b'{"upsert_rows": [{"id": 1, "pad": "' + b"x" * (50 << 20) + b'"}]}')
    r = requests.post(srv.url + "/v2/namespaces/bomb", data=bomb, headers={**AUTH, "Content-Encoding": "gzip"}, timeout=60)
    assert r.status_code == 413, r.text
    assert "once inflated" in r.json()["error"]


def test_bytes_in_flight_beyond_the_limit_are_429(server_factory):
    limit = 1 << 20
    srv = server_factory("inflight", {"LAGOON_SERVER__MAX_BODY_BYTES": str(limit),
                                      "LAGOON_LIMITS__MAX_INFLIGHT_REQUEST_BYTES": str(limit)})
    host, port = srv.url.removeprefix("http://").split(":")
    body = json.dumps({"upsert_rows": [{"id": 1, "pad": "x" * 700_000}]}).encode()
    # One slow client holds 600 KB of its body in the server...
    slow = socket.create_connection((host, int(port)), timeout=30)
    slow.sendall(b"POST /v2/namespaces/inflight HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test\r\n"
                 + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:600_000])
    time.sleep(0.5)
    try:
        # ...so a second 700 KB body does not fit.
        r = requests.post(srv.url + "/v2/namespaces/inflight", data=body, headers=AUTH, timeout=30)
        assert r.status_code == 429, r.text
        assert r.headers.get("Retry-After") == "1"
        slow.sendall(body[600_000:])
        answer = slow.recv(65536)
        assert status_of(answer) == 200, answer[:300]
    finally:
        slow.close()
    # Both requests returned their bytes: the same body now fits.
    r = requests.post(srv.url + "/v2/namespaces/inflight", data=body, headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text


def test_v1_metadata_and_delete(base_url):
    ns = f"e2e-v1-{time.time_ns()}"
    write(base_url, ns, [{"id": 1, "vector": [1.0, 0.0]}])
    for version in ("v1", "v2"):
        r = requests.get(f"{base_url}/{version}/namespaces/{ns}/metadata", headers=AUTH, timeout=10)
        assert r.status_code == 200 and r.json()["approx_row_count"] == 1, r.text
    r = requests.delete(f"{base_url}/v1/namespaces/{ns}", headers=AUTH, timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "OK"}, r.text
    assert requests.get(f"{base_url}/v1/namespaces/{ns}/metadata", headers=AUTH, timeout=10).status_code == 404


def test_hint_cache_warm_is_202(base_url):
    r = requests.get(f"{base_url}/v1/namespaces/never-written-warm/hint_cache_warm", headers=AUTH, timeout=10)
    assert r.status_code == 202 and r.json()["status"] == "ACCEPTED", r.text


def test_heavy_queries_do_not_starve_health_or_cheap_queries(fresh_server):
    url = fresh_server.url
    dim, docs = 512, 4000
    vectors = random_vectors(docs, dim, seed=7)
    for start in range(0, docs, 500):
        write(url, "heavy", [{"id": i, "vector": vectors[i].tolist(), "name": f"name-{i}"} for i in range(start, min(docs, start + 500))])
    write(url, "cheap", [{"id": i, "vector": [1.0, float(i)]} for i in range(10)])
    heavy_body = {"rank_by": ["vector", "kNN", vectors[0].tolist()], "top_k": 1000, "include_attributes": ["name"]}
    cheap_body = {"filters": ["id", "Eq", 3], "top_k": 1}
    # Warm both namespaces and measure one heavy query alone.
    started = time.monotonic()
    assert requests.post(f"{url}/v2/namespaces/heavy/query", json=heavy_body, headers=AUTH, timeout=60).status_code == 200
    heavy_alone = time.monotonic() - started
    assert requests.post(f"{url}/v2/namespaces/cheap/query", json=cheap_body, headers=AUTH, timeout=10).status_code == 200

    stop = threading.Event()
    heavy_done = []

    def hammer():
        session = requests.Session()
        while not stop.is_set():
            r = session.post(f"{url}/v2/namespaces/heavy/query", json=heavy_body, headers=AUTH, timeout=60)
            heavy_done.append(r.status_code)

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    time.sleep(max(0.3, heavy_alone))
    health, cheap = [], []
    session = requests.Session()
    try:
        for _ in range(15):
            t = time.monotonic()
            assert session.get(url + "/healthz", timeout=10).status_code == 200
            health.append(time.monotonic() - t)
            t = time.monotonic()
            r = session.post(f"{url}/v2/namespaces/cheap/query", json=cheap_body, headers=AUTH, timeout=10)
            cheap.append(time.monotonic() - t)
            assert r.status_code == 200 and [row["id"] for row in r.json()["rows"]] == [3], r.text
            time.sleep(0.05)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert heavy_done and all(code == 200 for code in heavy_done), heavy_done
    report = (f"heavy alone {heavy_alone * 1000:.0f} ms, {len(heavy_done)} heavy done; /healthz max {max(health) * 1000:.1f} ms "
              f"median {statistics.median(health) * 1000:.1f} ms; cheap query max {max(cheap) * 1000:.1f} ms median {statistics.median(cheap) * 1000:.1f} ms")
    print(report)
    # One sample of the 15 may miss the bound (the test's own Python threads and other processes
    # on a shared CI machine share the cores); none may be near the seconds a starved server takes.
    assert sorted(health)[-2] < 0.100 and max(health) < 0.5, report
    assert max(cheap) < 0.5, report
    # The tight bound on cheap queries holds on the folder backend. On S3 a cheap (strong) query
    # also waits for moto's answers to its manifest revalidation, and moto, a Python server on the
    # same two cores, is itself starved by the heavy load (medians of 40-60 ms here with this and
    # the previous binary alike): the latency measures moto, not the server's scheduling, which
    # is the same code on both backends and is checked by the folder run.
    if os.environ.get("LAGOON_E2E_BACKEND") != "s3":
        assert sorted(cheap)[-2] < 0.050, report
