"""Segments workload (issue 7): WordNet written N times over through `lagoon serve` and its
embedded indexer, over HTTP with the official turbopuffer client.

    python benchmarks/segments_workload.py --bin .build/release/lagoon --dataset DIR --out FILE.json [--rewrites 3]

run.py calls it with `--segments`. Steps (progress on stderr):
 1. reference: a server with `server.embedded_indexer = false` ingests the documents once and
    answers BM25 from its unindexed tail (an exhaustive scan): the pre-index nDCG@10 and
    top-100 lists, and the ingest rate without an indexer. That root is then removed;
 2. a fresh server (indexer on, pinned like lagoon_runner.py) ingests every document
    `--rewrites` times (same content, so the ground truth holds), batches of `--batch` with
    `--concurrency` in flight; docs/s per pass and overall, and the 429s (backpressure) met;
    RSS sampled every 0.2 s throughout;
 3. the time from the last acknowledgement until GET metadata says index.status = up-to-date,
    then RSS (VmRSS) and the peak (VmHWM), against the raw live bytes; after the queries of
    step 4, RSS again, then once the server is idle (the indexer may still be compacting) and
    a few queries of each kind ran again: the steady figure. The peak (VmHWM) covers ingest, indexing and queries
    (docs x dim x 4 for f32 vectors + UTF-8 bytes of text, pos and lexname);
 4. ANN (recall@10 vs the exact ground truth, latency), exact kNN, filtered ANN at ~1/10/50 %
    (recall vs the filtered ground truth, and how many queries returned fewer than 10 rows),
    BM25 (nDCG@10, and whether it and the top-100 lists equal the reference's);
 5. cold start, twice: stop, drop the OS page cache when permitted, restart on the same root,
    time to /readyz, then the first BM25 query (first restart) or the first exact kNN query
    (second restart), and the metadata row count / index status after the restart.
`targets` in the output lists every figure with its target from the issue and whether it passed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pinning  # noqa: E402  (must precede numpy)
import lagoon_runner as lr  # noqa: E402

K = 10
# Targets of the "Prove it" section (name -> (comparison, bound)).
TARGETS = {
    # Steady: RSS after the queries once background indexing settled; peak: VmHWM over
    # ingest, indexing and queries. The bound applies to the steady figure; the peak is held
    # to the same bound so a miss shows.
    "rss_steady_over_raw": ("<=", 1.5),
    "rss_peak_over_raw": ("<=", 1.5),
    "cold_first_bm25_ms": ("<=", 200.0),
    "cold_first_knn_ms": ("<=", 500.0),
    "ingest_docs_per_s_with_indexer": (">=", 20_000.0),
    "ann_recall@10": (">=", 0.95),
    "ann_p50_ms": ("<=", 3.0),
    "filtered_recall@10_min": (">=", 0.90),
    "filtered_short_results": ("<=", 0),
    "bm25_ndcg@10_delta": ("<=", 1e-9),
    "up_to_date": (">=", 1),
    "row_count_matches": (">=", 1),
    "cold_queries_answered": (">=", 1),
}


def raw_live_bytes(ds) -> dict:
    """What the live documents weigh uncompressed: f32 vectors + UTF-8 text + attribute values."""
    docs = ds.docs[: ds.n]
    vec = ds.n * int(ds.base.shape[1]) * 4
    text = sum(len(d["text"].encode()) for d in docs)
    attrs = sum(len(d["pos"].encode()) + len(d["lexname"].encode()) for d in docs)
    return {"vectors": vec, "text": text, "attributes": attrs, "total": vec + text + attrs}


class RSSSampler:
    """Samples the server's VmRSS every `period` seconds on a background thread."""

    def __init__(self, server: lr.LagoonServer, period: float = 0.2):
        self.server, self.period = server, period
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.perf_counter()

    def _run(self) -> None:
        while not self._stop.is_set():
            kb = self.server.vm("VmRSS")
            if kb:
                self.samples.append((time.perf_counter() - self.t0, kb))
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def max_mb(self) -> float | None:
        return round(max(kb for _, kb in self.samples) / 1024, 1) if self.samples else None


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_by_thread_name(pid: int) -> dict[str, float]:
    """CPU seconds of the process's live threads, summed per thread name (`lagoon-indexer`,
    `lagoon-query`, NIO's event loops, …). Threads that exited are not counted."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def settle(server, client, ds, window: float = 5.0, limit: float = 900.0) -> tuple[float | None, float]:
    """RSS once background work is over and queries ran again: "up-to-date" covers the tail
    only, and the indexer may still be compacting (training the merged segment's IVF index)
    when the queries end. Waits until the server used under 5 % of a core over `window`
    seconds (at most `limit`), runs a few queries of each kind (so the parts they read are
    loaded), then reads VmRSS."""
    t0 = time.perf_counter()
    last = cpu_seconds(server.proc.pid)
    while time.perf_counter() - t0 < limit:
        time.sleep(window)
        now = cpu_seconds(server.proc.pid)
        if now - last < 0.05 * window:
            break
        last = now
    waited = time.perf_counter() - t0
    ns = client.namespace(lr.NAMESPACE)
    for qi in ds.gt_qidx[:20]:
        q = ds.queries[int(qi)].tolist()
        for mode in ("ANN", "kNN"):
            ns.query(rank_by=["vector", mode, q], top_k=K, include_attributes=False)
        ns.query(rank_by=["text", "BM25", ds.query_meta[int(qi)]["text"]], top_k=K, include_attributes=False)
    return mb(server.vm("VmRSS")), waited


def mb(kb: int | None) -> float | None:
    return round(kb / 1024, 1) if kb else None


def reference_bm25(args, ds, env: dict, queries: bool = True) -> dict:
    """Step 1: ingest once with the indexer off; BM25 over the unindexed tail is the reference
    (not run when `queries` is false: the indexer-off ingest rate only)."""
    tmp = Path(tempfile.mkdtemp(prefix="lagoon-segref-"))
    server = lr.LagoonServer(args.bin, tmp / "root", api_key=args.api_key, extra_args=args.server_arg, cpus=args.server_cpus,
                             log_path=tmp / "lagoon-server.log", env={**env, "LAGOON_SERVER__EMBEDDED_INDEXER": "false"})
    try:
        server.start()
        lr.log(f"reference (indexer off): ingesting {ds.n:,} docs once")
        cpu0 = cpu_seconds(server.proc.pid)
        ing = lr.ingest(lr.make_client(server.url, args.api_key), ds.base, ds.docs, batch=args.batch, concurrency=args.concurrency)
        ing["server_cpu_s"] = cpu_seconds(server.proc.pid) - cpu0
        ing.pop("batch_ms", None)
        lr.log(f"reference: {ing['docs_per_s']:,.0f} docs/s, server CPU {ing['server_cpu_s']:.1f} s")
        client = lr.make_client(server.url, args.api_key)
        md = client.namespace(lr.NAMESPACE).metadata()
        if not queries:
            return {"ingest_docs_per_s": ing["docs_per_s"], "ingest": ing, "index_status": getattr(md.index, "status", None)}
        part, runs = lr.bm25_workload(client, ds, limit=args.queries)
        return {"ingest_docs_per_s": ing["docs_per_s"], "ingest": ing, "index_status": getattr(md.index, "status", None),
                **part, "runs": runs}
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def ingest_passes(args, server, ds) -> dict:
    """Step 2: every document written `--rewrites` times; the indexer runs meanwhile."""
    client = lr.make_client(server.url, args.api_key, retries=0)  # 429s are counted by lr.ingest, not hidden
    passes = []
    t0 = time.perf_counter()
    for p in range(args.rewrites):
        lr.log(f"pass {p + 1}/{args.rewrites}: upserting {ds.n:,} docs (batches of {args.batch}, {args.concurrency} in flight)")
        ing = lr.ingest(client, ds.base, ds.docs, batch=args.batch, concurrency=args.concurrency)
        ing.pop("batch_ms", None)
        ing["rss_mb"] = mb(server.vm("VmRSS"))
        passes.append(ing)
    wall = time.perf_counter() - t0
    written = ds.n * args.rewrites
    later = passes[1:] or passes
    return {
        "passes": passes,
        "docs_written": written,
        "wall_s": wall,
        "docs_per_s": written / wall,
        # passes after the first overwrite documents whose tail the indexer is folding meanwhile
        "docs_per_s_after_first_pass": sum(p["docs"] for p in later) / sum(p["wall_s"] for p in later),
        "throttled_429": sum(p["throttled_429"] for p in passes),
        "acknowledged_rows": sum(p["acknowledged_rows"] for p in passes),
    }


def metadata_counts(client) -> dict:
    md = client.namespace(lr.NAMESPACE).metadata()
    idx = getattr(md, "index", None)
    return {"approx_row_count": getattr(md, "approx_row_count", None), "index_status": getattr(idx, "status", None),
            "unindexed_bytes": getattr(idx, "unindexed_bytes", None)}


def cold_first(server, args, ds, kind: str) -> dict:
    """Step 5: restart on the same root, then one query of `kind` (bm25 | knn) as the very first."""
    server.stop()
    dropped = lr.drop_page_cache()
    t_ready = server.start()
    ns = lr.make_client(server.url, args.api_key).namespace(lr.NAMESPACE)
    q0 = int(ds.text_qidx(args.queries)[0]) if kind == "bm25" else int(ds.gt_qidx[0])
    rank_by = ["text", "BM25", ds.query_meta[q0]["text"]] if kind == "bm25" else ["vector", "kNN", ds.queries[q0].tolist()]
    t = time.perf_counter()
    r = ns.query(rank_by=rank_by, top_k=K, include_attributes=False)
    first_ms = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    ns.query(rank_by=rank_by, top_k=K, include_attributes=False)
    again_ms = (time.perf_counter() - t) * 1e3
    ids = lr._ids_dists(r)[0]
    out = {"page_cache_dropped": dropped, "restart_to_ready_s": t_ready, "first_ms": first_ms, "same_query_again_ms": again_ms,
           "rows": len(ids), "server_ms": lr._perf_ms(r), "cache_temperature": getattr(getattr(r, "performance", None), "cache_temperature", None)}
    if kind == "knn":  # the first exact answer must still be the exact top-10 (near-ties allowed)
        from metrics import same_topk

        out["top10_exact"] = same_topk(ids, [1.0 - x for x in lr._ids_dists(r)[1]], ds.gt_ids[0], ds.gt_scores[0], K)
    out.update(metadata_counts(lr.make_client(server.url, args.api_key)))
    lr.log(f"cold ({kind} first): ready in {t_ready:.2f}s, first {kind} {first_ms:.1f} ms, again {again_ms:.1f} ms, {len(ids)} rows")
    return out


def targets(res: dict, n: int) -> list[dict]:
    ann = ((res.get("ann") or {}).get("sweep") or [{}])[0]
    filt = res.get("filtered") or []
    ref = ((res.get("reference") or {}).get("text") or {}).get("ndcg@10")
    post = (res.get("text") or {}).get("ndcg@10")
    rss = res.get("rss") or {}
    got = {
        "rss_steady_over_raw": rss.get("steady_over_raw"),
        "rss_peak_over_raw": rss.get("peak_over_raw"),
        "cold_first_bm25_ms": ((res.get("cold") or {}).get("bm25") or {}).get("first_ms"),
        "cold_first_knn_ms": ((res.get("cold") or {}).get("knn") or {}).get("first_ms"),
        "ingest_docs_per_s_with_indexer": (res.get("ingest") or {}).get("docs_per_s"),
        "ann_recall@10": ann.get("recall@10"),
        "ann_p50_ms": ann.get("p50_ms"),
        "filtered_recall@10_min": min((f["recall@10"] for f in filt), default=None),
        "filtered_short_results": sum(f.get("short_results", 0) for f in filt) if filt else None,
        "bm25_ndcg@10_delta": abs(post - ref) if ref is not None and post is not None else None,
        "up_to_date": 1 if (res.get("index") or {}).get("index_wait_s") is not None else 0,
        "row_count_matches": int((res.get("index") or {}).get("approx_row_count") == n),
        "cold_queries_answered": int(bool(cold) and all(c.get("rows") == K for c in cold.values()) and cold["knn"].get("top10_exact") is True)
        if (cold := res.get("cold")) else None,
    }
    rows = []
    for k, (op, bound) in TARGETS.items():
        v = got[k]
        ok = None if v is None else (v <= bound if op == "<=" else v >= bound)
        rows.append({"figure": k, "value": v, "target": f"{op} {bound:,g}", "ok": ok})
    return rows


def run(args, ds) -> dict:
    qidx = ds.gt_qidx[: args.queries] if args.queries else ds.gt_qidx
    env = {"LAGOON_INDEXER__FLUSH_INTERVAL_SECS": str(args.flush_interval)} if args.flush_interval is not None else {}
    env.update(kv.split("=", 1) for kv in args.server_env)
    raw = raw_live_bytes(ds)
    res: dict = {"system": "lagoon segments", "server_cpus": args.server_cpus, "docs": ds.n, "rewrites": args.rewrites, "batch": args.batch,
                 "concurrency": args.concurrency, "server_env": env, "raw_live_bytes": raw, "notes": []}
    skip = set(filter(None, args.skip.split(",")))
    if "reference" not in skip:
        res["reference"] = reference_bm25(args, ds, env, queries="queries" not in skip)
    tmp = Path(tempfile.mkdtemp(prefix="lagoon-seg-"))
    server = lr.LagoonServer(args.bin, tmp / "root", api_key=args.api_key, extra_args=args.server_arg, cpus=args.server_cpus,
                             log_path=tmp / "lagoon-server.log", env=env)
    res["command"] = " ".join(server.command())
    try:
        server.start()
        lr.log(f"server ready at {server.url} (pid {server.proc.pid}, cpus {args.server_cpus}), indexer on")
        client = lr.make_client(server.url, args.api_key)
        with RSSSampler(server) as rss:
            cpu0 = cpu_seconds(server.proc.pid)
            res["ingest"] = ingest_passes(args, server, ds)
            res["ingest"]["server_cpu_s"] = cpu_seconds(server.proc.pid) - cpu0
            res["ingest"]["server_cpu_s_by_thread"] = cpu_seconds_by_thread_name(server.proc.pid)
            lr.log(f"server CPU during ingest: {res['ingest']['server_cpu_s']:.1f} s; by thread name so far: "
                   + ", ".join(f"{k} {v:.1f}" for k, v in sorted(res["ingest"]["server_cpu_s_by_thread"].items(), key=lambda kv: -kv[1])[:6]))
            lr.log(f"ingest: {res['ingest']['docs_written']:,} docs at {res['ingest']['docs_per_s']:,.0f} docs/s, "
                   f"{res['ingest']['throttled_429']} batches throttled (429)")
            res["index"] = lr.wait_indexed(client, timeout=args.index_wait, stall=args.index_stall)
        res["index"].update(metadata_counts(client))
        res["rss"] = {"peak_mb": mb(server.vm("VmHWM")), "sampled_max_mb": rss.max_mb(), "after_index_mb": mb(server.vm("VmRSS")),
                      "raw_live_mb": round(raw["total"] / 2**20, 1)}
        wait = res["index"].get("index_wait_s")
        lr.log(f"index: " + (f"up to date {wait:.2f}s after the last ack" if wait is not None else res["index"].get("index_note", "?")) +
               f"; RSS peak {res['rss']['peak_mb']} MB, now {res['rss']['after_index_mb']} MB, raw live {res['rss']['raw_live_mb']} MB")
        if (off := (res.get("reference") or {}).get("ingest_docs_per_s")):
            res["ingest"]["on_over_off"] = res["ingest"]["docs_per_s"] / off
            lr.log(f"ingest with the indexer on / off (same run): {res['ingest']['docs_per_s']:,.0f} / {off:,.0f} docs/s "
                   f"= {res['ingest']['on_over_off']:.2f}")
        if "queries" not in skip:  # ingest, indexing and RSS only
            errors: dict = {}
            part = lr.vector_workloads(client, ds, qidx)
            errors.update(part.pop("errors", {}))
            res.update(part)
            part, runs = lr.bm25_workload(client, ds, limit=args.queries)
            errors.update(part.pop("errors", {}))
            res.update(part)
            ref_runs = (res.get("reference") or {}).pop("runs", None)
            if ref_runs and runs:
                same = sum(1 for qi in runs if runs[qi] == ref_runs.get(qi))
                res["text"]["top100_equal_to_reference"] = same / len(runs)
                res["text"]["reference_ndcg@10"] = res["reference"].get("text", {}).get("ndcg@10")
            res["rss"]["after_queries_mb"] = mb(server.vm("VmRSS"))
            res["rss"]["settled_mb"], res["rss"]["settle_s"] = settle(server, client, ds)
            res["rss"]["peak_mb"] = mb(server.vm("VmHWM"))
            res["rss"]["steady_mb"] = res["rss"]["settled_mb"]
            # What the settled RSS is made of: anonymous memory (heap) against mapped files
            # (segment parts read in place from the local folder, which the kernel can drop).
            res["rss"]["settled_anon_mb"], res["rss"]["settled_file_mb"] = mb(server.vm("RssAnon")), mb(server.vm("RssFile"))
            for key in ("peak_mb", "after_index_mb", "after_queries_mb", "settled_mb", "steady_mb"):
                if res["rss"][key]:
                    res["rss"][key.replace("_mb", "_over_raw")] = res["rss"][key] / res["rss"]["raw_live_mb"]
            try:
                res["disk_mb"] = round(sum(p.stat().st_size for p in (tmp / "root").rglob("*") if p.is_file()) / 2**20, 1)
            except OSError:
                pass
            if "cold" not in skip:
                res["cold"] = {"bm25": cold_first(server, args, ds, "bm25"), "knn": cold_first(server, args, ds, "knn")}
            if errors:
                res["errors"] = errors
    except Exception as e:
        res["error"] = f"{type(e).__name__}: {e}"
        res["server_log_tail"] = server.tail_log(40)
        lr.log(f"FAILED: {res['error']}")
    finally:
        server.stop()
        if not args.keep_root:
            shutil.rmtree(tmp, ignore_errors=True)
    res["targets"] = targets(res, ds.n)
    return res


def main(argv=None) -> int:
    ap = lr.worker_arguments(__doc__, concurrency=4)
    ap.add_argument("--rewrites", type=int, default=3, help="times every document is upserted")
    ap.add_argument("--flush-interval", type=int, help="indexer.flush_interval_secs for the server (default: the server's)")
    ap.add_argument("--index-wait", type=float, default=1800.0, help="max seconds to wait for index up-to-date")
    ap.add_argument("--index-stall", type=float, default=300.0, help="give up when unindexed_bytes has not moved for this long")
    ap.add_argument("--skip", default="", help="comma list of: reference,queries (step 4, the settled RSS and cold start),cold")
    ap.add_argument("--keep-root", action="store_true")
    ap.add_argument("--server-env", action="append", default=[], metavar="LAGOON_SECTION__KEY=VALUE",
                    help="setting for both servers (repeatable), e.g. LAGOON_INDEXER__NICE=10")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the finally in run() stops the server
    pinning.pin(args.threads)
    client_cpus, args.server_cpus = pinning.client_and_server_cores(args.threads)  # before this process is pinned
    pinning.set_affinity(0, client_cpus)
    import data

    ds = data.load(args.dataset)
    t0 = time.perf_counter()
    res = run(args, ds)
    res["wall_s"] = time.perf_counter() - t0
    res["dataset"] = ds.meta["name"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=float))
    for t in res["targets"]:
        lr.log(f"target {t['figure']}: {t['value']} (want {t['target']}) -> {'ok' if t['ok'] else 'MISSED' if t['ok'] is False else 'n/a'}")
    lr.log(f"done in {res['wall_s']:.1f}s -> {args.out}")
    return 1 if "error" in res else 0


if __name__ == "__main__":
    sys.exit(main())
