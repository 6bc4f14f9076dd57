#!/usr/bin/env python3
"""Lagoon benchmark suite: Lagoon side by side with faiss, LanceDB, tantivy and bm25s on WordNet-117k.

    python3 benchmarks/run.py               # full run, every system, report in benchmarks/results/
    python3 benchmarks/run.py --quick       # 10,000-doc smoke test with floors (CI), Lagoon only
    python3 benchmarks/run.py --scale 1000000 --systems lagoon,faiss

Steps: (1) `swift build -c release --product lagoon` (unless --skip-build / --lagoon-bin),
(2) benchmarks/setup_venv.sh creates benchmarks/.venv with the pinned peers, and this script
re-executes itself inside it, (3) the dataset is prepared (data.py), (4) every system runs in
its own worker process, pinned to one thread (pinning.py): Lagoon through lagoon_runner.py
(starts `lagoon serve` on a temp folder), the peers through peers.py, (5) `lagoon bench` runs
if the subcommand exists, (6) report.py writes <out>.md (per results/TEMPLATE.md), <out>.png
(recall vs QPS) and <out>.json (every raw figure), (7) in --quick mode the Lagoon figures are
checked against floors.json and the exit code is non-zero on any regression.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv"
ALL_SYSTEMS = ["lagoon", "faiss", "lancedb", "tantivy", "bm25s"]
PEERS = ["faiss", "lancedb", "tantivy", "bm25s"]
IN_VENV_MARK = "LAGOON_BENCH_IN_VENV"


def say(msg: str) -> None:
    print(f"[run] {msg}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="10,000-doc subset, Lagoon + numpy oracle by default, floors checked")
    mode.add_argument("--full", action="store_true", help="all 117,659 docs, every system (default)")
    ap.add_argument("--scale", type=int, help="synthesise a larger set of N docs from the real vectors (see data.py)")
    ap.add_argument("--gt-queries", type=int, help="with --scale: exact ground truth for the first N queries only")
    ap.add_argument("--seed", type=int, default=20261122, help="seed for --scale synthesis")
    ap.add_argument("--systems", help=f"comma list from {','.join(ALL_SYSTEMS)} (default: all; --quick: lagoon)")
    ap.add_argument("--out", type=Path, help="report path (.md); .png and .json are written beside it")
    ap.add_argument("--machine", help="machine name for the report file name (default: from the CPU)")
    ap.add_argument("--data", type=Path, help="data folder (default <repo>/../shared/bench)")
    ap.add_argument("--work", type=Path, default=HERE / "work", help="scratch folder (prepared datasets, worker outputs)")
    ap.add_argument("--skip-build", action="store_true", help="do not run swift build")
    ap.add_argument("--lagoon-bin", type=Path, help="Lagoon binary (default <repo>/.build/release/lagoon; implies --skip-build)")
    ap.add_argument("--lagoon-server-arg", action="append", default=[], help="extra argument for `lagoon serve` (repeatable)")
    ap.add_argument("--lagoon-bench-args", default="engine --data {data} --docs {docs} --queries 200",
                    help="arguments for the `lagoon bench` hook ({data}, {docs}, {dataset} are substituted); '' to skip")
    ap.add_argument("--threads", type=int, default=1, help="threads per system (default 1: single-threaded comparison)")
    ap.add_argument("--queries", type=int, default=0, help="first N queries only (0 = all 1,000)")
    ap.add_argument("--batch", type=int, default=1000, help="Lagoon ingest batch size")
    ap.add_argument("--concurrency", type=int, default=1, help="Lagoon ingest batches in flight")
    ap.add_argument("--segments", action="store_true",
                    help="also run segments_workload.py (every doc written --segments-rewrites times through `lagoon serve` "
                         "with its indexer) and `lagoon bench engine --rewrites N`; --quick runs a smoke-size version anyway")
    ap.add_argument("--no-segments", action="store_true", help="--quick without the segments smoke")
    ap.add_argument("--s3", action="store_true",
                    help="also run s3_workload.py: the documents in a moto bucket, cold / warm-from-disk / warm-from-memory "
                         "queries with their sequential rounds and per-layer reads (needs pip moto[server])")
    ap.add_argument("--segments-rewrites", type=int, help="times every doc is written (default 3; --quick smoke: 2)")
    ap.add_argument("--segments-concurrency", type=int, default=4, help="write batches in flight in the segments workload")
    ap.add_argument("--no-floors", action="store_true", help="--quick without the floor check")
    ap.add_argument("--no-venv", action="store_true", help="use the current interpreter as is (it must have the packages)")
    ap.add_argument("--timeout", type=float, default=7200, help="per-worker timeout, seconds")
    a = ap.parse_args(argv)
    a.mode = "quick" if a.quick else "full"
    if a.systems:
        a.system_list = [s.strip() for s in a.systems.split(",") if s.strip()]
        bad = [s for s in a.system_list if s not in ALL_SYSTEMS]
        if bad:
            ap.error(f"unknown system(s) {bad}; choose from {ALL_SYSTEMS}")
    else:
        a.system_list = ["lagoon"] if a.quick else list(ALL_SYSTEMS)
    if a.scale and a.quick:
        ap.error("--scale and --quick are exclusive")
    # --segments runs even without the `lagoon` worker (`--systems faiss,tantivy --segments`: the
    # segments figures beside the peers); the --quick smoke rides along with the lagoon worker.
    a.run_segments = a.segments or (a.quick and "lagoon" in a.system_list and not a.no_segments)
    a.segments_rewrites = a.segments_rewrites or (2 if a.quick and not a.segments else 3)
    return a


# --------------------------------------------------------------------------------------
# Step 2: the venv (done first, so everything after runs with the pinned packages)
# --------------------------------------------------------------------------------------
def ensure_venv_and_reexec(a: argparse.Namespace, argv: list[str]) -> None:
    if a.no_venv or os.environ.get(IN_VENV_MARK) == "1":
        return
    profile = "all" if any(s in PEERS for s in a.system_list) else "core"
    say(f"setting up {VENV} ({profile} packages) with setup_venv.sh")
    r = subprocess.run(["bash", str(HERE / "setup_venv.sh"), f"--{profile}"], cwd=REPO)
    if r.returncode != 0:
        say(f"FAILED: setup_venv.sh exited {r.returncode}")
        sys.exit(r.returncode)
    py = VENV / "bin" / "python"
    env = dict(os.environ, **{IN_VENV_MARK: "1"})
    os.execve(str(py), [str(py), str(Path(__file__).resolve()), *argv], env)


# --------------------------------------------------------------------------------------
# Step 1: build Lagoon
# --------------------------------------------------------------------------------------
def build_lagoon(a: argparse.Namespace) -> tuple[Path | None, dict]:
    info: dict = {}
    if a.lagoon_bin:
        b = a.lagoon_bin.resolve()
        info["build"] = f"given: {b}"
        return (b if b.exists() else None), info
    binary = REPO / ".build" / "release" / "lagoon"
    cmd = ["swift", "build", "-c", "release", "--product", "lagoon"]
    info["build_command"] = " ".join(cmd)
    if a.skip_build:
        info["build"] = "skipped (--skip-build)"
        return (binary if binary.exists() else None), info
    say(f"building Lagoon: {' '.join(cmd)} (in {REPO}; this can take several minutes)")
    t0 = time.time()
    try:
        p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError:
        info["build"] = "swift not found"
        return (binary if binary.exists() else None), info
    last = time.time()
    tail: list[str] = []
    for line in p.stdout:  # type: ignore[union-attr]
        tail = (tail + [line.rstrip()])[-40:]
        if time.time() - last > 10 or "Compiling" in line and time.time() - last > 3:
            last = time.time()
            say(f"build ({time.time() - t0:.0f}s): {line.strip()[:120]}")
    rc = p.wait()
    info["build_seconds"] = round(time.time() - t0, 1)
    if rc != 0:
        info["build"] = f"failed (exit {rc})"
        info["build_tail"] = "\n".join(tail)
        say("swift build FAILED:\n" + "\n".join(tail[-20:]))
        return None, info
    info["build"] = f"ok in {info['build_seconds']}s"
    say(f"build ok in {info['build_seconds']}s -> {binary}")
    return binary, info


# --------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------
def run_worker(name: str, cmd: list[str], out: Path, timeout: float) -> dict:
    say(f"{name}: {' '.join(shlex.quote(c) for c in cmd)}")
    t0 = time.time()
    p = subprocess.Popen(cmd, cwd=REPO)
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
        rc = "timeout"
    except BaseException:
        p.terminate()  # SIGTERM/Ctrl-C: let the worker stop its server, then go
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
        raise
    wall = time.time() - t0
    if out.exists() and out.stat().st_mtime >= t0 - 1:
        res = json.loads(out.read_text())
    else:
        res = {"system": name, "error": f"worker exited {rc} without results"}
    if rc not in (0,) and "error" not in res:
        res["error"] = f"worker exited {rc}"
    res["worker_command"] = " ".join(shlex.quote(c) for c in cmd)
    res["worker_wall_s"] = wall
    say(f"{name}: finished in {wall:.1f}s" + (f" -- ERROR: {res['error']}" if "error" in res else ""))
    return res


def segments_command(a: argparse.Namespace, py: str, lagoon_bin: Path, ds_dir: Path, wdir: Path) -> list[str]:
    """segments_workload.py at full size (--segments) or as the --quick smoke: 200 queries and a
    flush interval of 0 so the small tail is folded at once."""
    smoke = a.quick and not a.segments
    cmd = [py, str(HERE / "segments_workload.py"), "--bin", str(lagoon_bin), "--dataset", str(ds_dir), "--out", str(wdir / "segments.json"),
           "--threads", str(a.threads), "--rewrites", str(a.segments_rewrites), "--batch", str(a.batch),
           "--concurrency", str(a.segments_concurrency)]
    queries = a.queries or (200 if smoke else 0)
    if queries:
        cmd += ["--queries", str(queries)]
    if smoke:
        cmd += ["--flush-interval", "0", "--index-wait", "120", "--index-stall", "60"]
    for x in a.lagoon_server_arg:
        cmd += ["--server-arg", x]
    return cmd


def machine_slug() -> str:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    words = [w for w in re.split(r"[^A-Za-z0-9]+", model.lower()) if w and w not in ("processor", "cpu", "core", "tm", "r")][:3]
    return "-".join(words + [f"{os.cpu_count()}c"]) or platform.node()


def hardware_info() -> dict:
    info: dict = {"machine": platform.machine(), "kernel": platform.release(), "cores": os.cpu_count()}
    try:
        txt = open("/proc/cpuinfo").read()
        m = re.search(r"model name\s*:\s*(.*)", txt)
        info["cpu"] = m.group(1).strip() if m else "?"
        flags = re.search(r"flags\s*:\s*(.*)", txt)
        fl = set(flags.group(1).split()) if flags else set()
        info["simd"] = " ".join(x for x in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "f16c") if x in fl)
    except OSError:
        pass
    try:
        mem = open("/proc/meminfo").read()
        m = re.search(r"MemTotal:\s*(\d+)", mem)
        info["memory_gib"] = round(int(m.group(1)) / 2**20, 1) if m else None
    except OSError:
        pass
    try:
        info["os"] = " ".join(l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME"))
    except OSError:
        info["os"] = platform.platform()
    info["loadavg_at_start"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    info["env"] = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    return info


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in ("numpy", "faiss-cpu", "lancedb", "pyarrow", "tantivy", "bm25s", "PyStemmer", "turbopuffer", "matplotlib"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    try:
        out["swift"] = subprocess.run(["swift", "--version"], capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        out["swift"] = "?"
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip() or "no commit"
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "Sources", "Package.swift"], capture_output=True, text=True, timeout=10).stdout.strip()
        out["lagoon_git"] = head + (" + uncommitted changes in Sources/" if dirty else "")
    except OSError:
        out["lagoon_git"] = "?"
    return out


# --------------------------------------------------------------------------------------
# Oracle, fusion, ratios, floors
# --------------------------------------------------------------------------------------
def oracle_and_fusion(ds, systems: dict, limit: int = 0) -> dict:
    from metrics import rrf, text_metrics

    judged = ds.text_qidx(limit)
    qrels = ds.qrels_for(judged)
    dense = {qi: [int(x) for x in ds.gt_ids[qi]] for qi in judged}
    out = {"dense_exact": {"label": "exact dense (numpy oracle, MiniLM cosine)", **text_metrics(dense, qrels)}}
    for peer in ("bm25s", "tantivy"):
        r = systems.get(peer, {})
        runs = (r.get("runs") or {}).get("bm25")
        if runs:
            bm = {int(k): v for k, v in runs.items()}
            fused = {qi: rrf([dense[qi], bm.get(qi, [])], k=60, depth=100) for qi in judged}
            out[f"hybrid_{peer}"] = {"label": f"RRF (k=60) of {peer} + exact dense", **text_metrics(fused, qrels)}
    return out


def best_at(points: list[dict], floor: float = 0.95) -> dict | None:
    ok = [p for p in points if p and p.get("recall@10", 0) >= floor and p.get("qps")]
    return max(ok, key=lambda p: p["qps"]) if ok else None


def ratios(systems: dict) -> dict:
    lag = systems.get("lagoon", {})
    out: dict = {}
    lag_pts = [dict(p, source="ANN") for p in (lag.get("ann") or {}).get("sweep", [])]
    if lag.get("exact"):
        lag_pts.append(dict(lag["exact"], source="kNN (exact)", label=lag["exact"].get("label")))
    lb = best_at(lag_pts)
    out["lagoon_at_0.95"] = lb
    for peer, key in (("faiss", "faiss IVF-Flat"), ("lancedb", "LanceDB IVF_FLAT")):
        ps = systems.get(peer) or {}
        pb = (ps.get("ann") or {}).get("at_recall_0.95")
        ent = {"peer": key, "peer_point": pb, "lagoon_point": lb}
        if lb and pb:
            ent["ratio"] = lb["qps"] / pb["qps"]
        else:
            ent["ratio"] = None
            if not lag or lag.get("error"):
                ent["why_missing"] = "Lagoon did not run"
            elif not lb:
                ent["why_missing"] = "Lagoon reached no point with recall@10 >= 0.95"
            elif not ps:
                ent["why_missing"] = f"{peer} not run (add it to --systems)"
            elif ps.get("error"):
                ent["why_missing"] = f"{peer} failed"
            else:
                ent["why_missing"] = f"{key} has no point with recall@10 >= 0.95"
        out[f"vs_{peer}"] = ent
    fe = (systems.get("faiss") or {}).get("exact")
    le = lag.get("exact")
    out["exact_vs_faiss_flat"] = {"ratio": (le["qps"] / fe["qps"]) if (fe and le and le.get("qps")) else None,
                                  "lagoon_qps": le.get("qps") if le else None, "faiss_flat_qps": fe.get("qps") if fe else None}
    for peer in ("bm25s", "tantivy"):
        pt = (systems.get(peer) or {}).get("text")
        lt = lag.get("text")
        if pt and lt and lt.get("qps"):
            out[f"bm25_vs_{peer}"] = {"qps_ratio": lt["qps"] / pt["qps"], "ndcg_delta": lt["ndcg@10"] - pt["ndcg@10"]}
    return out


def check_floors(systems: dict, floors_path: Path, n_docs: int) -> tuple[list[str], list[dict]]:
    floors = json.loads(floors_path.read_text())["quick"]
    spec = floors["lagoon"]
    lag = systems.get("lagoon") or {}
    ann = ((lag.get("ann") or {}).get("sweep") or [{}])[0]
    ex = lag.get("exact") or {}
    filt = lag.get("filtered") or []
    hyb = lag.get("hybrid_client") or {}
    txt = lag.get("text") or {}
    build = lag.get("build") or {}
    got = {
        "ann_recall@10": ann.get("recall@10"),
        "knn_recall@10": ex.get("recall@10"),
        "knn_top10_exact_fraction": ex.get("knn_top10_exact_fraction"),
        "filtered_recall@10_min": min((f.get("recall@10", 0.0) for f in filt), default=None),
        "bm25_ndcg@10": txt.get("ndcg@10"),
        "bm25_mrr@10": txt.get("mrr@10"),
        "hybrid_ndcg@10": hyb.get("ndcg@10"),
        "hybrid_mrr@10": hyb.get("mrr@10"),
        "ingested_fraction": (build.get("acknowledged_rows") / n_docs) if build.get("acknowledged_rows") is not None else None,
    }
    failures, rows = [], []
    if "error" in lag:
        failures.append(f"Lagoon run failed: {lag['error']}")
    for part, msg in (lag.get("errors") or {}).items():
        failures.append(f"Lagoon {part} failed: {msg}")
    _apply_floors(spec, got, "", failures, rows)
    seg = systems.get("__segments__")
    if seg is not None:  # the --quick segments smoke
        for part, msg in ([("run", seg["error"])] if "error" in seg else []) + list((seg.get("errors") or {}).items()):
            failures.append(f"segments {part} failed: {msg}")
        _apply_floors(floors["segments"], {t["figure"]: t["value"] for t in seg.get("targets") or []}, "segments ", failures, rows)
    return failures, rows


def _apply_floors(spec: dict, got: dict, prefix: str, failures: list[str], rows: list[dict]) -> None:
    """Each spec entry has a "min" (value must be >= it) or a "max" (value must be <= it)."""
    for k, s in spec.items():
        v = got.get(k)
        bound, low = (s["min"], True) if "min" in s else (s["max"], False)
        ok = v is not None and v == v and (v >= bound if low else v <= bound)
        rows.append({"metric": prefix + k, "value": v, "floor": bound if low else f"≤ {bound}", "ok": ok, "why": s.get("why", "")})
        if not ok:
            what = "missing (not measured)" if v is None else f"= {round(v, 4)} is {'below the floor' if low else 'above the ceiling'} {bound}"
            failures.append(f"{prefix}{k} {what} ({s.get('why', '')})")


def loud(failures: list[str]) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n!!! LAGOON BENCHMARK REGRESSION: {len(failures)} figure(s) below the floors in benchmarks/floors.json\n{bar}", file=sys.stderr)
    for f in failures:
        print(f"!!!   {f}", file=sys.stderr)
    print(f"{bar}\n", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parse_args(argv)
    ensure_venv_and_reexec(a, argv)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    sys.path.insert(0, str(HERE))
    import pinning

    pinning.pin(a.threads)
    import data
    import report

    t_start = time.time()
    started = _dt.datetime.now()
    data_dir = (a.data or data.default_data_dir()).resolve()
    if not (data_dir / "base.f16").exists():
        say(f"FAILED: no benchmark data at {data_dir} (expected <repo>/../shared/bench; use --data)")
        return 2
    machine = a.machine or machine_slug()
    stem = f"{started:%Y-%m-%d}-{machine}" + ("" if a.mode == "full" and not a.scale else f"-{'quick' if a.quick else f'scale{a.scale}'}")
    out_md = a.out or ((HERE / "results" if not a.quick else a.work) / f"{stem}.md")
    out_md.parent.mkdir(parents=True, exist_ok=True)
    wdir = a.work / "runs" / f"{started:%Y%m%d-%H%M%S}"
    wdir.mkdir(parents=True, exist_ok=True)

    results: dict = {
        "meta": {
            "started": started.isoformat(timespec="seconds"),
            "mode": a.mode if not a.scale else f"scale {a.scale:,}",
            "command": "python3 benchmarks/run.py " + " ".join(shlex.quote(x) for x in argv),
            "systems_requested": a.system_list,
            "threads": a.threads,
            "hardware": hardware_info(),
            "versions": package_versions(),
            "data_dir": str(data_dir),
            "machine_name": machine,
            "batch": a.batch,
            "concurrency": a.concurrency,
        },
        "systems": {},
    }

    # 1. build
    lagoon_bin = None
    if "lagoon" in a.system_list or a.run_segments:
        lagoon_bin, binfo = build_lagoon(a)
        results["meta"]["lagoon_build"] = binfo
        if lagoon_bin is None:
            msg = f"Lagoon binary not available ({binfo.get('build')}); expected {a.lagoon_bin or REPO / '.build/release/lagoon'}"
            if "lagoon" in a.system_list:
                results["systems"]["lagoon"] = {"system": "lagoon", "error": msg}
            if a.run_segments:
                results["segments"] = {"error": msg}
            say(f"FAILED: {msg}")

    # 3. data
    say(f"preparing dataset ({a.mode}{f', scale {a.scale:,}' if a.scale else ''}) from {data_dir}")
    ds_dir = data.prepare(data_dir, a.work, "quick" if a.quick else "full", a.scale, a.gt_queries, a.seed)
    ds = data.load(ds_dir)
    results["dataset"] = {k: v for k, v in ds.meta.items() if k != "key"}

    # 4. systems
    py = sys.executable
    common = ["--dataset", str(ds_dir), "--threads", str(a.threads)] + (["--queries", str(a.queries)] if a.queries else [])
    for s in a.system_list:
        if s == "lagoon":
            if lagoon_bin is None:
                continue
            out = wdir / "lagoon.json"
            cmd = [py, str(HERE / "lagoon_runner.py"), "--bin", str(lagoon_bin), "--out", str(out), *common,
                   "--batch", str(a.batch), "--concurrency", str(a.concurrency)]
            for x in a.lagoon_server_arg:
                cmd += ["--server-arg", x]
        else:
            out = wdir / f"{s}.json"
            cmd = [py, str(HERE / "peers.py"), "--system", s, "--out", str(out), *common]
        results["systems"][s] = run_worker(s, cmd, out, a.timeout)
    if a.run_segments and lagoon_bin is not None:
        results["segments"] = run_worker("segments", segments_command(a, py, lagoon_bin, ds_dir, wdir), wdir / "segments.json", a.timeout)
    if a.s3 and lagoon_bin is not None:
        cmd = [py, str(HERE / "s3_workload.py"), "--bin", str(lagoon_bin), "--dataset", str(data_dir), "--out", str(wdir / "s3.json"),
               "--docs", str(data.QUICK_N if a.quick else data.REAL_N)]
        results["s3"] = run_worker("s3", cmd, wdir / "s3.json", a.timeout)

    # 5. lagoon bench hook
    if lagoon_bin is not None and a.lagoon_bench_args.strip():
        import lagoon_runner

        bench_args = [x.format(data=data_dir, docs=ds.n, dataset=ds_dir) for x in shlex.split(a.lagoon_bench_args)]
        if a.segments and "--rewrites" not in bench_args:
            bench_args += ["--rewrites", str(a.segments_rewrites)]
        results["lagoon_bench"] = lagoon_runner.lagoon_bench(lagoon_bin, bench_args)
        say(f"lagoon bench: {results['lagoon_bench'].get('skipped') or 'exit ' + str(results['lagoon_bench'].get('exit_code'))}")
    else:
        results["lagoon_bench"] = {"skipped": "Lagoon not run" if lagoon_bin is None else "--lagoon-bench-args ''"}

    # 6. derived figures + report
    results["oracle"] = oracle_and_fusion(ds, results["systems"], a.queries)
    results["ratios"] = ratios(results["systems"])
    failures: list[str] = []
    if a.quick and "lagoon" in a.system_list and not a.no_floors:
        systems = dict(results["systems"], **({"__segments__": results["segments"]} if "segments" in results else {}))
        failures, rows = check_floors(systems, HERE / "floors.json", ds.n)
        results["floors"] = {"rows": rows, "failures": failures}
    results["meta"]["wall_s"] = round(time.time() - t_start, 1)
    for sysres in results["systems"].values():  # per-query runs live in the work folder only
        sysres.pop("runs", None)
    paths = report.write_all(results, out_md)
    for p in paths:
        say(f"wrote {p}")
    report.print_summary(results)
    closing = None
    if "floors" in results:
        rows = results["floors"]["rows"]
        n_ok = sum(1 for r in rows if r["ok"])
        extra = len(failures) - (len(rows) - n_ok)  # failures not tied to one floor (e.g. a crashed run)
        closing = f"floors: {n_ok} passed, {len(rows) - n_ok + max(0, extra)} failed"
    if failures:
        loud(failures)
        print(closing, flush=True)
        return 3
    errs = [f"{k}: {v['error']}" for k, v in results["systems"].items() if "error" in v]
    errs += [f"{k} {part}: {msg}" for k, v in results["systems"].items() for part, msg in (v.get("errors") or {}).items()]
    seg = results.get("segments") or {}
    errs += [f"segments: {seg['error']}"] if "error" in seg else []
    errs += [f"segments {part}: {msg}" for part, msg in (seg.get("errors") or {}).items()]
    if errs:
        say("FAILED systems: " + "; ".join(errs))
        return 4
    say(f"all done in {results['meta']['wall_s']:.0f}s")
    if closing:
        print(closing, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
