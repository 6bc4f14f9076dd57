"""Keys and roles end to end: `lagoon keys new` makes the keys file, and the official client
meets 401/403 exactly where Specs/protocol/roles.md says (the full matrix is tested in-process in
Tests/HTTPTests/RoleMatrixTests.swift)."""
from __future__ import annotations

import subprocess

import pytest
import requests
import turbopuffer

from conftest import lagoon_bin, unique_ns


def new_key(role: str, key_id: str) -> tuple[str, str]:
    """Runs `lagoon keys new`; returns (key, keys-file entry)."""
    result = subprocess.run([str(lagoon_bin()), "keys", "new", "--role", role, "--id", key_id],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    key, entry = lines[0], "\n".join(lines[1:])
    assert key.startswith("lagoon_") and len(key) == len("lagoon_") + 64, result.stdout
    assert entry.startswith(f"[keys.{key_id}]") and f'role = "{role}"' in entry, result.stdout
    return key, entry


@pytest.fixture
def keyed_server(server_factory, tmp_path):
    keys = {role: new_key(role, f"{role}-key") for role in ("reader", "writer", "admin")}
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text("# made by lagoon keys new\n" + "\n\n".join(entry for _, entry in keys.values()) + "\n")
    srv = server_factory("keyed", {"LAGOON_AUTH__KEYS_FILE": str(keys_file)})
    return srv, {role: key for role, (key, _) in keys.items()}


def client(url: str, key: str) -> turbopuffer.Turbopuffer:
    return turbopuffer.Turbopuffer(api_key=key, base_url=url, max_retries=0, timeout=60)


def test_generated_keys_differ():
    assert new_key("reader", "a")[0] != new_key("reader", "a")[0]


def test_roles_are_enforced(keyed_server):
    srv, keys = keyed_server
    name = unique_ns("auth")
    writer = client(srv.url, keys["writer"]).namespace(name)
    reader = client(srv.url, keys["reader"]).namespace(name)
    admin = client(srv.url, keys["admin"]).namespace(name)

    writer.write(upsert_rows=[{"id": 1, "vector": [1.0, 0.0]}, {"id": 2, "vector": [0.0, 1.0]}])
    assert [row.id for row in reader.query(top_k=10, rank_by=("id", "asc")).rows] == [1, 2]
    assert reader.metadata().approx_row_count == 2

    with pytest.raises(turbopuffer.PermissionDeniedError) as denied:
        reader.write(deletes=[1])
    assert "needs a key with role writer" in str(denied.value)
    with pytest.raises(turbopuffer.PermissionDeniedError):
        reader.delete_all()
    with pytest.raises(turbopuffer.PermissionDeniedError):
        writer.recall(num=1, top_k=1)
    assert admin.recall(num=1, top_k=1).avg_recall == pytest.approx(1.0)
    # Nothing the reader tried changed anything.
    assert reader.metadata().approx_row_count == 2

    with pytest.raises(turbopuffer.AuthenticationError):
        client(srv.url, "lagoon_" + "0" * 64).namespace(name).query(top_k=1)
    writer.delete_all()


def test_bearer_scheme_is_case_insensitive(keyed_server):
    srv, keys = keyed_server
    for scheme in ("bearer", "BEARER"):
        r = requests.get(srv.url + "/v1/namespaces", headers={"Authorization": f"{scheme} {keys['reader']}"}, timeout=10)
        assert r.status_code == 200, r.text
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200


def test_keys_hash_warns_on_short_secrets():
    short = subprocess.run([str(lagoon_bin()), "keys", "hash", "--id", "x"], input="short\n",
                           capture_output=True, text=True, timeout=60)
    assert short.returncode == 0, short.stderr
    assert "warning" in short.stderr and "lagoon keys new" in short.stderr
    assert "[keys.x]" in short.stdout
    long = subprocess.run([str(lagoon_bin()), "keys", "hash", "--id", "x"], input="k" * 40 + "\n",
                          capture_output=True, text=True, timeout=60)
    assert long.returncode == 0 and long.stderr == ""
