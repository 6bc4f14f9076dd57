"""Schemathesis against Specs/openapi.yaml: requests generated from the OpenAPI description
(valid and invalid bodies, parameters and paths) must never get a 5xx or take the server down.

Runs the schemathesis CLI (pip schemathesis, pinned in requirements.txt) in a subprocess on a
server of its own, so the namespaces it creates and deletes touch no other test.
Knobs: LAGOON_SCHEMATHESIS_EXAMPLES (examples per operation, default 80),
LAGOON_SCHEMATHESIS_SEED (default: a fixed seed, so CI runs are reproducible).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest  # noqa: F401  (fixtures)
import requests
import schemathesis  # noqa: F401  (fail, not skip, when it is not installed)

from conftest import API_KEY, REPO
from e2e_util import raw

SPEC = REPO / "Specs" / "openapi.yaml"
EXAMPLES = int(os.environ.get("LAGOON_SCHEMATHESIS_EXAMPLES", "80"))
SEED = int(os.environ.get("LAGOON_SCHEMATHESIS_SEED", "20261"))


def seed_demo_namespace(url: str) -> None:
    """The namespace the spec's examples name, with vectors, text and numbers to rank and filter."""
    rows = [{"id": i, "vector": [float(i % 3) + 0.5, float(i % 5) - 2.0], "title": f"hello world {i}", "n": i}
            for i in range(1, 41)]
    body = {"upsert_rows": rows, "distance_metric": "cosine_distance",
            "schema": {"title": {"type": "string", "full_text_search": True}}}
    r = raw(url, "POST", "/v2/namespaces/openapi-demo", body)
    assert r.status_code == 200, r.text


def test_schemathesis_finds_no_server_error(server_factory, tmp_path):
    srv = server_factory("schemathesis")
    seed_demo_namespace(srv.url)
    report = tmp_path / "schemathesis-report"
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "run", str(SPEC),
        "--url", srv.url,
        "--header", f"Authorization: Bearer {API_KEY}",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(EXAMPLES),
        "--seed", str(SEED),
        # One worker: hypothesis's lambda descriptions are not thread-safe on CPython 3.11.
        "--workers", "1",
        "--request-timeout", "30",
        "--suppress-health-check", "all",
        "--generation-database", "none",
        "--report", "junit", "--report-dir", str(report),
    ]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=str(tmp_path))
    output = proc.stdout + proc.stderr
    alive = srv.proc.poll() is None
    if alive:
        try:
            alive = requests.get(srv.url + "/healthz", timeout=10).status_code == 200
        except requests.RequestException:
            alive = False
    assert alive, f"the server died during the schemathesis run.\n{output[-6000:]}\n--- server log ---\n{srv.log_tail(60)}"
    assert proc.returncode == 0, (
        f"schemathesis found failures (exit {proc.returncode}); replay with LAGOON_SCHEMATHESIS_SEED={SEED}.\n"
        f"{output[-12000:]}\n--- server log ---\n{srv.log_tail(40)}"
    )
