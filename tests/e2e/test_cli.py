"""The `lagoon` command line against a running server: `explain` prints the plan that runs."""
from __future__ import annotations

import json
import subprocess

from conftest import lagoon_bin


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(lagoon_bin()), *args], capture_output=True, text=True, timeout=60)


def test_explain_prints_the_plan(ns, base_url, tmp_path):
    ns.write(
        upsert_rows=[{"id": i, "vector": [float(i), 1.0], "body": f"doc number {i}", "kind": "even" if i % 2 == 0 else "odd"}
                     for i in range(10)],
        distance_metric="euclidean_squared",
        schema={"body": {"type": "string", "full_text_search": True}},
    )
    query = tmp_path / "query.json"
    query.write_text(json.dumps({"rank_by": ["vector", "ANN", [3.0, 1.0]], "filters": ["kind", "Eq", "odd"], "top_k": 3}))
    result = run_cli("explain", str(query), "--namespace", ns.id, "--url", base_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Project"), result.stdout
    assert any(line.strip().startswith("TopK k=3") for line in lines), result.stdout
    assert any("ExactKNN metric=euclidean_squared dims=2" in line and "ann_fallback" in line for line in lines), result.stdout
    assert any('Filter placement=pre predicate=["kind","Eq","odd"]' in line for line in lines), result.stdout

    analyzed = run_cli("explain", str(query), "--namespace", ns.id, "--url", base_url, "--analyze")
    assert analyzed.returncode == 0, analyzed.stderr
    assert "actual rows=3" in analyzed.stdout.splitlines()[0], analyzed.stdout

    as_json = run_cli("explain", str(query), "--namespace", ns.id, "--url", base_url, "--json")
    assert json.loads(as_json.stdout)["node"] == "Project"


def test_explain_reports_server_errors(ns, base_url, tmp_path):
    ns.write(upsert_rows=[{"id": 1, "vector": [1.0, 2.0]}])
    query = tmp_path / "bad.json"
    query.write_text(json.dumps({"rank_by": ["vector", "ANN", [1.0, 2.0, 3.0]]}))
    result = run_cli("explain", str(query), "--namespace", ns.id, "--url", base_url)
    assert result.returncode != 0
    assert "400" in result.stderr and "rank_by[2]" in result.stderr, result.stderr


def test_every_command_has_help():
    for command in ([], ["serve"], ["explain"], ["bench"], ["bench", "kernels"], ["bench", "engine"], ["keys"], ["keys", "hash"]):
        result = run_cli(*command, "--help")
        assert result.returncode == 0 and "USAGE" in result.stdout.upper(), (command, result.stdout, result.stderr)
