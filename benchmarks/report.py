"""Turns one run's results (the dict run.py builds) into <out>.md (per results/TEMPLATE.md),
<out>.png (recall@10 vs QPS, every system) and <out>.json (every raw figure).

    python benchmarks/report.py results/2026-11-22-amd-epyc-2c.json   # re-render from a JSON
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "results" / "TEMPLATE.md"
NA = "—"


# ----------------------------------------------------------------------------------- format
def f(x, nd=3):
    if x is None:
        return NA
    if isinstance(x, str):
        return x
    if x != x:  # NaN
        return NA
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{nd}f}"


def q(x):
    """QPS: no decimals above 100."""
    if x is None or x != x:
        return NA
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def ms(x):
    if x is None or x != x:
        return NA
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def table(headers: list[str], rows: list[list]) -> str:
    if not rows:
        return "_no data_"
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def _sys(res: dict, name: str) -> dict:
    return (res.get("systems") or {}).get(name) or {}


def _err(res: dict, name: str) -> str | None:
    s = _sys(res, name)
    return s.get("error")


# ----------------------------------------------------------------------------------- sections
def lagoon_is_exact_scan(res: dict) -> bool:
    lag = _sys(res, "lagoon")
    ann = ((lag.get("ann") or {}).get("sweep") or [{}])[0]
    ex = lag.get("exact") or {}
    if not ann or not ex or not ann.get("qps") or not ex.get("qps"):
        return False
    return ann.get("recall@10", 0) >= 0.999 and 0.6 <= ann["qps"] / ex["qps"] <= 1.6


def summary(res: dict) -> str:
    r = res.get("ratios") or {}
    lines = []
    lb = r.get("lagoon_at_0.95")
    for peer in ("faiss", "lancedb"):
        e = r.get(f"vs_{peer}") or {}
        pp = e.get("peer_point")
        name = e.get("peer", peer)
        if e.get("ratio") is not None:
            lines.append(
                f"- **Lagoon QPS ÷ {name} QPS at recall@10 ≥ 0.95 = {e['ratio']:.3f}** "
                f"(Lagoon {q(lb['qps'])} q/s at recall {lb['recall@10']:.3f} via {lb.get('source')}; "
                f"{name} {q(pp['qps'])} q/s at {pp['label']}, recall {pp['recall@10']:.3f})."
            )
        else:
            lines.append(f"- Lagoon QPS ÷ {name} QPS at recall@10 ≥ 0.95: n/a — {e.get('why_missing', 'not measured')}.")
    ex = r.get("exact_vs_faiss_flat") or {}
    if ex.get("ratio") is not None:
        lines.append(f"- Exact search: Lagoon kNN {q(ex['lagoon_qps'])} q/s ÷ faiss IndexFlatIP {q(ex['faiss_flat_qps'])} q/s (single query) = {ex['ratio']:.3f}.")
    if lagoon_is_exact_scan(res):
        lines.append("- **Lagoon has no vector index yet: its ANN queries run as exact scans** — recall@10 is 1.0 and "
                     "QPS is that of a brute-force scan over HTTP; the ratios above measure that, nothing else.")
    lag = _sys(res, "lagoon")
    if lag.get("text"):
        t = lag["text"]
        peers = ", ".join(f"{p} {f(_sys(res, p).get('text', {}).get('ndcg@10'))}" for p in ("bm25s", "tantivy") if _sys(res, p).get("text"))
        lines.append(f"- BM25: Lagoon nDCG@10 {f(t.get('ndcg@10'))} at {q(t.get('qps'))} q/s" + (f" (peers: {peers})." if peers else "."))
    hc = lag.get("hybrid_client") or {}
    if hc.get("ndcg@10") is not None:
        lines.append(f"- Hybrid RRF: Lagoon nDCG@10 {f(hc['ndcg@10'])} vs ANN alone {f((lag.get('dense_text') or {}).get('ndcg@10'))} "
                     f"and BM25 alone {f((lag.get('text') or {}).get('ndcg@10'))}.")
    b = lag.get("build") or {}
    if b.get("ingest_docs_per_s"):
        lines.append(f"- Ingest: {b['ingest_docs_per_s']:,.0f} docs/s acknowledged durable (batches of {b.get('batch')}, concurrency {b.get('concurrency')}); "
                     f"server peak RSS {f((lag.get('rss') or {}).get('peak_mb'), 0)} MB.")
    sg = res.get("segments") or {}
    if sg.get("targets"):
        missed = [t["figure"] for t in sg["targets"] if t["ok"] is False]
        lines.append(f"- Segments ({f(sg.get('docs'))} docs × {sg.get('rewrites')} writes, indexer on): " +
                     ", ".join(f"{t['figure']} {f(t['value'], 3)}" for t in sg["targets"]) +
                     (f"; **missed: {', '.join(missed)}**." if missed else "; every target met.") +
                     (" (smoke size: the targets are meant for the full WordNet run; RSS is dominated by the process's fixed cost here)"
                      if res["meta"].get("mode") == "quick" else ""))
    elif sg.get("error"):
        lines.append(f"- **segments failed:** {sg['error']}")
    for name in (res.get("systems") or {}):
        e = _err(res, name)
        if e:
            lines.append(f"- **{name} failed:** {e}")
        for part, msg in (_sys(res, name).get("errors") or {}).items():
            lines.append(f"- **{name} {part} failed:** {msg}")
    fl = res.get("floors")
    if fl:
        lines.append("- Quick-mode floors: " + ("**all passed**." if not fl["failures"] else f"**{len(fl['failures'])} BELOW FLOOR** (see below)."))
    return "\n".join(lines) or "_nothing measured_"


def hardware(res: dict) -> str:
    h = res["meta"]["hardware"]
    la = h.get("loadavg_at_start")
    rows = [["CPU", h.get("cpu")], ["cores", h.get("cores")], ["SIMD", h.get("simd")], ["memory", f"{h.get('memory_gib')} GiB"],
            ["OS / kernel", f"{h.get('os')} / {h.get('kernel')}"], ["load average at start (1/5/15 min)", " / ".join(f"{x:.2f}" for x in la) if la else NA],
            ["BLAS environment", ", ".join(f"{k}={v}" for k, v in (h.get("env") or {}).items()) or "none"]]
    return table(["", ""], rows)


def dataset(res: dict) -> str:
    d = res.get("dataset") or {}
    rows = [
        ["name", d.get("name")], ["documents", f(d.get("n_docs"))], ["of which real WordNet synsets", f(d.get("n_real_docs"))],
        ["dimensions", d.get("dim")], ["vector queries (with exact ground truth)", f(d.get("gt_queries"))],
        ["judged text queries (relevant doc in the corpus)", f(d.get("judged_queries"))],
        ["vector ground truth", d.get("gt_source")], ["source", d.get("source")],
    ]
    if d.get("gt_numpy_agreement"):
        a = d["gt_numpy_agreement"]
        rows.append(["numpy oracle vs shipped ground truth", f"top-10 sets equal {a['top10_sets_equal']:.3f}, top-100 overlap {a['top100_overlap']:.4f}"])
    if d.get("scale"):
        rows.append(["synthesis", f"seeded (seed {d.get('seed')}) noisy interpolation of real vectors, see data.py docstring"])
    s = table(["", ""], rows)
    filt = [[x["name"], x["describe"], f"{x['selectivity']:.2%}", f(x["matches"])] for x in d.get("filters", [])]
    return s + "\n\nFilters:\n\n" + table(["filter", "predicate", "selectivity", "matching docs"], filt)


def versions(res: dict) -> str:
    v = dict(res["meta"]["versions"])
    lag = _sys(res, "lagoon")
    if lag.get("version"):
        v["lagoon (binary)"] = lag["version"]
    if lag.get("client"):
        v["client used for Lagoon"] = lag["client"]
    return table(["component", "version"], [[k, val] for k, val in v.items()])


def config(res: dict) -> str:
    m = res["meta"]
    lag = _sys(res, "lagoon")
    fa = _sys(res, "faiss")
    la = _sys(res, "lancedb")
    rows = [
        ["threads per system", f"{m['threads']} (OMP/OpenBLAS/MKL/Rayon/Tokio/LANCE_CPU_THREADS env, CPU affinity; faiss.omp_set_num_threads)"],
        ["Lagoon server", f"`{lag.get('command', NA)}` on cores {lag.get('server_cpus', NA)}; client on cores {lag.get('client_cpus', NA)}"],
        ["Lagoon schema", "`text`: full_text_search {english, stemming, remove_stopwords}; `pos`, `lexname`: filterable strings; distance cosine"],
        ["Lagoon ingest", f"upsert_rows, batches of {m.get('batch')}, {m.get('concurrency')} in flight, base64 float32 vectors"],
        ["faiss", f"IndexFlatIP; {(fa.get('build') or {}).get('index', NA)} (k-means on all vectors), nprobe sweep" if fa else "not run"],
        ["LanceDB", f"{(la.get('build') or {}).get('index', NA)}, distance dot, nprobes sweep, prefilter for filtered queries" if la else "not run"],
        ["tantivy", "en_stem tokenizer (stemming, no stopword removal); query = OR of lower-cased alphanumeric terms; top-100"],
        ["bm25s", "English stopwords + PyStemmer English; BM25 (Lucene) k1 1.5, b 0.75; top-100"],
        ["hybrid", "RRF k = 60 over top-100 of each part; peers: bm25s/tantivy + exact dense (numpy)"],
    ]
    return table(["", ""], rows)


def commands(res: dict) -> str:
    m = res["meta"]
    lines = ["```sh", "bash benchmarks/setup_venv.sh --all        # pinned peers (run.py calls it)",
             (m.get("lagoon_build") or {}).get("build_command", "swift build -c release --product lagoon"), m["command"], "```", ""]
    for name, s in (res.get("systems") or {}).items():
        if s.get("worker_command"):
            lines.append(f"- {name}: `{s['worker_command']}`")
    return "\n".join(lines)


def ann_points(res: dict) -> list[tuple[str, str, dict]]:
    pts = []
    fa = _sys(res, "faiss")
    if fa.get("exact"):
        pts.append(("faiss", "IndexFlatIP exact", fa["exact"]))
    for p in (fa.get("ann") or {}).get("sweep", []):
        pts.append(("faiss", f"IVF-Flat nlist {fa['ann'].get('nlist')} {p['label']}", p))
    la = _sys(res, "lancedb")
    for p in (la.get("ann") or {}).get("sweep", []):
        pts.append(("lancedb", f"IVF_FLAT {p['label']}", p))
    lag = _sys(res, "lagoon")
    for p in (lag.get("ann") or {}).get("sweep", []):
        pts.append(("lagoon", "rank_by vector ANN", p))
    if lag.get("exact"):
        pts.append(("lagoon", "rank_by vector kNN (exact)", lag["exact"]))
    return pts


def ann_table(res: dict) -> str:
    rows = [[s, lbl, f(p.get("recall@10")), q(p.get("qps")), ms(p.get("p50_ms")), ms(p.get("p99_ms")), ms(p.get("server_p50_ms"))]
            for s, lbl, p in ann_points(res)]
    return table(["system", "setting", "recall@10", "QPS", "p50 ms", "p99 ms", "server p50 ms"], rows)


def ratios_section(res: dict) -> str:
    r = res.get("ratios") or {}
    rows = []
    for peer in ("faiss", "lancedb"):
        e = r.get(f"vs_{peer}") or {}
        lp, pp = e.get("lagoon_point"), e.get("peer_point")
        rows.append([f"Lagoon ÷ {e.get('peer', peer)}", f"**{e['ratio']:.3f}**" if e.get("ratio") is not None else f"n/a ({e.get('why_missing', 'not run')})",
                     f"{q(lp['qps'])} q/s @ {lp['recall@10']:.3f} ({lp.get('source')})" if lp else NA,
                     f"{q(pp['qps'])} q/s @ {pp['recall@10']:.3f} ({pp['label']})" if pp else NA])
    s = table(["ratio (QPS at recall@10 ≥ 0.95)", "value", "Lagoon point", "peer point"], rows)
    s += "\n\n_Each side's point is its highest-QPS setting with recall@10 ≥ 0.95 in the sweep above._"
    return s


def exact_table(res: dict) -> str:
    rows = []
    fe = _sys(res, "faiss").get("exact")
    if fe:
        rows.append(["faiss IndexFlatIP, one query per call", f(fe.get("recall@10")), q(fe.get("qps")), ms(fe.get("p50_ms")), ms(fe.get("p99_ms")), NA])
        rows.append(["faiss IndexFlatIP, all queries batched (BLAS)", f(fe.get("batched_recall@10")), q(fe.get("batched_qps")), NA, NA, NA])
    le = _sys(res, "lagoon").get("exact")
    if le:
        rows.append(["Lagoon kNN over HTTP", f(le.get("recall@10")), q(le.get("qps")), ms(le.get("p50_ms")), ms(le.get("p99_ms")),
                     f"{le.get('knn_top10_exact_fraction', 0):.3f}"])
    s = table(["system", "recall@10", "QPS", "p50 ms", "p99 ms", "top-10 == numpy exact (fraction of queries)"], rows)
    if le and le.get("knn_mismatches"):
        s += "\n\nFirst kNN mismatches vs numpy:\n\n```json\n" + json.dumps(le["knn_mismatches"], indent=1)[:3000] + "\n```"
    return s


def filtered_table(res: dict) -> str:
    rows = []
    for name in ("lagoon", "faiss", "lancedb"):
        for p in _sys(res, name).get("filtered") or []:
            rows.append([p["filter"], f"{p['selectivity']:.1%}", name, p.get("setting"), f(p.get("recall@10")), q(p.get("qps")),
                         ms(p.get("p50_ms")), ms(p.get("p99_ms"))])
    rows.sort(key=lambda r: (r[0], r[2]))
    return table(["filter", "selectivity", "system", "setting", "recall@10", "QPS", "p50 ms", "p99 ms"], rows)


def bm25_table(res: dict) -> str:
    rows = []
    for name in ("lagoon", "bm25s", "tantivy"):
        t = _sys(res, name).get("text")
        b = _sys(res, name).get("build") or {}
        if not t:
            continue
        extra = f" ({q(t['qps_search_only'])} search only)" if t.get("qps_search_only") else ""
        rows.append([name, t.get("label"), f(t.get("judged_queries")), f(t.get("ndcg@10")), f(t.get("mrr@10")), f(t.get("recall@100")), q(t.get("qps")) + extra,
                     ms(t.get("p50_ms")), ms(t.get("p99_ms")), f(b.get("index_build_s"), 2) if name != "lagoon" else NA])
    o = (res.get("oracle") or {}).get("dense_exact")
    if o:
        rows.append(["numpy", o["label"], f(o.get("judged_queries")), f(o["ndcg@10"]), f(o["mrr@10"]), f(o["recall@100"]), NA, NA, NA, NA])
    return table(["system", "setting", "queries", "nDCG@10", "MRR@10", "recall@100", "QPS", "p50 ms", "p99 ms", "index s"], rows)


def hybrid_table(res: dict) -> str:
    rows = []
    lag = _sys(res, "lagoon")
    for key in ("dense_text", "text", "hybrid_client", "hybrid_server"):
        h = lag.get(key)
        if not h:
            continue
        if h.get("skipped") or h.get("error"):
            rows.append(["lagoon", f"{key}: {h.get('skipped') or h.get('error')}", NA, NA, NA, NA])
            continue
        rows.append(["lagoon", h.get("label"), f(h.get("ndcg@10")), f(h.get("mrr@10")), f(h.get("recall@100")), q(h.get("qps")) if key.startswith("hybrid") else NA])
    o = res.get("oracle") or {}
    for key in ("dense_exact", "hybrid_bm25s", "hybrid_tantivy"):
        h = o.get(key)
        if h:
            rows.append(["reference", h["label"], f(h["ndcg@10"]), f(h["mrr@10"]), f(h["recall@100"]), NA])
    for p in ("bm25s", "tantivy"):
        t = _sys(res, p).get("text")
        if t:
            rows.append(["reference", f"{p} alone", f(t["ndcg@10"]), f(t["mrr@10"]), f(t["recall@100"]), NA])
    s = table(["system", "run", "nDCG@10", "MRR@10", "recall@100", "QPS"], rows)
    hs = lag.get("hybrid_server") or {}
    if hs.get("top10_consistent_with_client_rrf") is not None:
        s += (f"\n\nServer-side RRF vs client-side RRF of the same sub-results: top-10 consistent (same RRF scores, "
              f"ties broken either way) on {hs['top10_consistent_with_client_rrf']:.1%} of queries; identical id order on "
              f"{hs['top10_ids_equal_to_client_rrf']:.1%} (the client breaks ties by lower id).")
    return s


def ingest_table(res: dict) -> str:
    rows = []
    foot = []
    for name in ("lagoon", "faiss", "lancedb", "tantivy", "bm25s"):
        s = _sys(res, name)
        if not s or s.get("error") and not s.get("build"):
            continue
        b = s.get("build") or {}
        r = s.get("rss") or {}
        if name == "lagoon":
            what = f"{f(b.get('docs'))} docs, batches of {b.get('batch')} ×{b.get('concurrency')}; batch p50 {ms(b.get('batch_p50_ms'))} ms, p99 {ms(b.get('batch_p99_ms'))} ms"
            bm = b.get("batch_ms") or []
            if len(bm) >= 20:
                k = max(1, len(bm) // 10)
                what += f"; first {k} batches mean {ms(sum(bm[:k]) / k)} ms, last {k} mean {ms(sum(bm[-k:]) / k)} ms"
            dps = b.get("ingest_docs_per_s")
            idx = b.get("index_build_s")
            if idx is None:
                idx = "not observed ¹"
                foot.append(f"¹ Lagoon: {b.get('index_note', 'no index status')} (last metadata: status {b.get('status')}, "
                            f"unindexed_bytes {f(b.get('unindexed_bytes'))}, approx_row_count {f(b.get('approx_row_count'))}).")
        elif name == "lancedb":
            what = f"create_table then {b.get('index')}"
            dps = b.get("ingest_docs_per_s")
            idx = b.get("index_build_s")
        else:
            what = b.get("index", NA) + (f" — {b['note']}" if b.get("note") else "")
            dps = b.get("docs_per_s")
            idx = b.get("index_build_s")
        rows.append([name, what, q(dps), "yes" if b.get("durable") else "no", f(idx, 2), f(r.get("peak_mb"), 0),
                     f(r.get("peak_above_baseline_mb"), 0) if name != "lagoon" else NA, f(s.get("disk_mb"), 0)])
    return table(["system", "what", "docs/s", "durable", "index build s", "peak RSS MB", "peak above data MB", "on disk MB"], rows) + \
        "".join("\n\n" + x for x in foot) + "\n\n_Peer RSS includes the worker's own copy of the data; 'peak above data' subtracts the RSS measured after loading it._"


def cold(res: dict) -> str:
    c = _sys(res, "lagoon").get("cold")
    if not c:
        return "_not measured_"

    def req(d):
        if d is None:
            return NA
        return "0" if not d else ", ".join(f"`{k}` {v:g}" for k, v in d.items())

    rows = [
        ["OS page cache dropped before restart", "yes" if c.get("page_cache_dropped") else "no (not permitted here)"],
        ["restart → /readyz 200", f"{c.get('restart_to_ready_s', 0):.2f} s"],
        ["first ANN query after restart", f"{ms(c.get('first_query_ms'))} ms (cache_temperature: {c.get('first_query_cache_temperature')})"],
        ["same query again", f"{ms(c.get('second_query_same_vector_ms'))} ms"],
        ["next 20 queries, median", f"{ms(c.get('warm_query_p50_ms'))} ms"],
        ["first BM25 query after restart", f"{ms(c.get('first_bm25_query_after_restart_ms'))} ms"],
        ["object-store requests, first query", req(c.get("store_requests_first_query"))],
        ["object-store requests, second query", req(c.get("store_requests_second_query"))],
        ["object-store requests per warm query", req(c.get("store_requests_per_warm_query"))],
    ]
    s = table(["", ""], rows)
    if c.get("store_requests_note"):
        s += f"\n\n_{c['store_requests_note']}_"
    return s


def segments(res: dict) -> str:
    """The --segments workload (targets, then the details) and `lagoon bench engine --rewrites N`
    beside faiss IVF-Flat and tantivy from the same run."""
    sg = res.get("segments")
    parts = [segments_http(sg) if sg else "_Not run (add `--segments`)._"]
    eng = (res.get("lagoon_bench") or {}).get("figures")
    if eng:
        parts.append(segments_in_process(res, eng))
    return "\n\n".join(parts)


def segments_http(sg: dict) -> str:
    if sg.get("error") and not sg.get("targets"):
        return f"_Failed: {sg['error']}_"
    ok = {True: "ok", False: "**MISSED**", None: NA}
    out = [f"{f(sg.get('docs'))} docs × {sg.get('rewrites')} writes, batches of {sg.get('batch')} × {sg.get('concurrency')} in flight; "
           f"server env {sg.get('server_env') or '{}'}; `{sg.get('worker_command', '')}`"]
    out.append(table(["figure", "value", "target", ""], [[t["figure"], f(t["value"]), t["target"], ok[t["ok"]]] for t in sg.get("targets") or []]))
    ing, idx, rss, raw = sg.get("ingest") or {}, sg.get("index") or {}, sg.get("rss") or {}, sg.get("raw_live_bytes") or {}
    ref = sg.get("reference") or {}
    rows = [[f"pass {i + 1}", q(p["docs_per_s"]), ms(p.get("batch_p50_ms")), ms(p.get("batch_p99_ms")), f(p.get("throttled_429")), f(p.get("rss_mb"), 0)]
            for i, p in enumerate(ing.get("passes") or [])]
    rows.append(["all passes", q(ing.get("docs_per_s")), NA, NA, f(ing.get("throttled_429")), NA])
    if ref.get("ingest_docs_per_s"):
        rows.append(["reference (indexer off, once)", q(ref["ingest_docs_per_s"]), ms((ref.get("ingest") or {}).get("batch_p50_ms")),
                     ms((ref.get("ingest") or {}).get("batch_p99_ms")), NA, NA])
    out.append(table(["ingest", "docs/s", "batch p50 ms", "batch p99 ms", "429s", "RSS after MB"], rows))
    wait = idx.get("index_wait_s")
    out.append(table(["", ""], [
        ["last ack → index up-to-date", f"{wait:.2f} s" if wait is not None else f"not observed ({idx.get('index_note')})"],
        ["metadata approx_row_count", f(idx.get("approx_row_count"))],
        ["raw live bytes (f32 vectors + text + attributes)", f"{raw.get('total', 0) / 2**20:,.1f} MB (vectors {raw.get('vectors', 0) / 2**20:,.1f}, "
                                                             f"text {raw.get('text', 0) / 2**20:,.1f}, attributes {raw.get('attributes', 0) / 2**20:,.1f})"],
        ["server RSS peak (VmHWM)", f"{f(rss.get('peak_mb'), 0)} MB = {f(rss.get('peak_over_raw'), 2)}× raw"],
        ["server RSS when up-to-date", f"{f(rss.get('after_index_mb'), 0)} MB = {f(rss.get('after_index_over_raw'), 2)}× raw"],
        ["server RSS after the queries", f"{f(rss.get('after_queries_mb'), 0)} MB = {f(rss.get('after_queries_over_raw'), 2)}× raw"],
        ["server RSS steady (after the queries, settled)", f"{f(rss.get('steady_mb'), 0)} MB = {f(rss.get('steady_over_raw'), 2)}× raw, after {f(rss.get('settle_s'), 0)} s"],
        ["on disk", f"{f(sg.get('disk_mb'), 0)} MB"],
    ]))
    qrows = []
    ann = ((sg.get("ann") or {}).get("sweep") or [None])[0]
    for lbl, p in [("ANN", ann), ("kNN (exact)", sg.get("exact"))] + [(f"ANN + {p['filter']} ({p['selectivity']:.1%})", p) for p in sg.get("filtered") or []]:
        if p:
            qrows.append([lbl, f(p.get("recall@10")), f(p.get("short_results")), q(p.get("qps")), ms(p.get("p50_ms")), ms(p.get("p99_ms")), ms(p.get("server_p50_ms"))])
    t = sg.get("text") or {}
    if t:
        qrows.append(["BM25 top-100", f"nDCG@10 {f(t.get('ndcg@10'))} (tail scan: {f(t.get('reference_ndcg@10'))}; identical top-100 on "
                      f"{f(t.get('top100_equal_to_reference'))})", NA, q(t.get("qps")), ms(t.get("p50_ms")), ms(t.get("p99_ms")), ms(t.get("server_p50_ms"))])
    out.append(table(["after indexing (HTTP)", "recall@10", "< 10 rows", "QPS", "p50 ms", "p99 ms", "server p50 ms"], qrows))
    cold = sg.get("cold") or {}
    crows = [[f"first {k.upper() if k == 'knn' else 'BM25'} query after a restart", f"{ms(c.get('first_ms'))} ms", f"{ms(c.get('same_query_again_ms'))} ms",
              f"{c.get('restart_to_ready_s', 0):.2f} s", f"{c.get('rows')}", f"{c.get('index_status')}, {f(c.get('approx_row_count'))} rows",
              "yes" if c.get("page_cache_dropped") else "no"] for k, c in cold.items()]
    if crows:
        out.append(table(["cold", "first", "again", "restart → ready", "rows", "metadata after", "page cache dropped"], crows))
    return "\n\n".join(out)


def segments_in_process(res: dict, eng: dict) -> str:
    """`lagoon bench engine` (in-process, one thread) beside the peers' in-process figures."""
    fa, ta = _sys(res, "faiss"), _sys(res, "tantivy")
    rows = [["Lagoon engine: index build (after ingest)", f"{f(eng.get('index_build_s'), 2)} s", "faiss IVF train + add", f"{f((fa.get('build') or {}).get('index_build_s'), 2)} s"],
            ["Lagoon engine: BM25 top-10 QPS (segments)", q(eng.get("segments_bm25_qps")), "tantivy QPS (search only)",
             f"{q((ta.get('text') or {}).get('qps'))} ({q((ta.get('text') or {}).get('qps_search_only'))})"],
            ["Lagoon engine: exact kNN QPS (segments)", q(eng.get("segments_knn_qps")), "faiss IndexFlatIP QPS", q((fa.get("exact") or {}).get("qps"))],
            ["Lagoon engine: first BM25 / vector query after restart", f"{ms(eng.get('cold_bm25_ms'))} / {ms(eng.get('cold_vector_ms'))} ms", "", ""]]
    s = table(["in-process, one thread", "value", "peer", "value"], rows)
    faiss_pts = {p["param"].get("nprobe"): p for p in (fa.get("ann") or {}).get("sweep") or []}
    lagoon_pts = {p.get("nprobe"): p for p in eng.get("ann") or []}
    arows = []
    for n in sorted(set(faiss_pts) | set(lagoon_pts), key=lambda n: -1 if n is None else n):  # the default setting first
        lp, fp = lagoon_pts.get(n) or {}, faiss_pts.get(n) or {}
        arows.append([n if n is not None else "default (recall target 0.95)", f(lp.get("recall10")), q(lp.get("qps")), f(fp.get("recall@10")), q(fp.get("qps"))])
    if arows:
        s += "\n\n" + table(["nprobe", "Lagoon engine recall@10", "Lagoon engine QPS", "faiss IVF-Flat recall@10", "faiss IVF-Flat QPS"], arows)
    return s + "\n\n_From the last line of the `lagoon bench` output below; peers from this run's workers (faiss nlist " + \
        f"{(fa.get('ann') or {}).get('nlist', NA)})._"


def lagoon_bench(res: dict) -> str:
    b = res.get("lagoon_bench") or {}
    if b.get("skipped"):
        return f"_Skipped: {b['skipped']}_"
    s = f"`{b.get('command')}` — exit {b.get('exit_code')}, {b.get('seconds', 0):.1f} s\n\n```\n{(b.get('stdout') or '').strip()[-8000:]}\n```"
    if b.get("exit_code") and b.get("stderr"):
        s += f"\n\nstderr:\n\n```\n{b['stderr'].strip()[-2000:]}\n```"
    return s


def floors(res: dict) -> str:
    fl = res.get("floors")
    if not fl:
        return "_Not checked (floors apply to `--quick` runs that include Lagoon)._"
    rows = [[r["metric"], f(r["value"], 4), r["floor"], "ok" if r["ok"] else "**BELOW FLOOR**", r["why"]] for r in fl["rows"]]
    return table(["metric", "value", "floor", "status", "what"], rows)


def notes(res: dict) -> str:
    n = [
        "- Peers run in-process in Python (one call per query); Lagoon is measured through HTTP with the official "
        "turbopuffer client, so its latencies include JSON encoding, the HTTP round trip and response parsing on the "
        "client core. `server p50 ms` is the server's own `performance.server_total_ms`.",
        "- Absolute times drift between machines and runs; compare systems within one report (all measured in the same run).",
        f"- Whole run took {res['meta'].get('wall_s', 0):.0f} s.",
    ]
    for name, s in (res.get("systems") or {}).items():
        for x in s.get("notes") or []:
            n.append(f"- {name}: {x}")
        if s.get("error"):
            n.append(f"- {name} error: {s['error']}")
            if s.get("server_log_tail"):
                n.append(f"\n```\n{s['server_log_tail'][-3000:]}\n```")
    return "\n".join(n)


# ----------------------------------------------------------------------------------- plot
def plot(res: dict, png: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # pragma: no cover - matplotlib missing
        print(f"[report] no plot: {e}", file=sys.stderr)
        return None
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    fa, la, lag = _sys(res, "faiss"), _sys(res, "lancedb"), _sys(res, "lagoon")
    sw = (fa.get("ann") or {}).get("sweep") or []
    if sw:
        ax.plot([p["recall@10"] for p in sw], [p["qps"] for p in sw], "o-", color="tab:blue", label=f"faiss IVF-Flat (nlist {fa['ann'].get('nlist')}), nprobe sweep")
        for p in sw:
            ax.annotate(str(p["param"]["nprobe"]), (p["recall@10"], p["qps"]), textcoords="offset points", xytext=(4, 4), fontsize=7, color="tab:blue")
    sw = (la.get("ann") or {}).get("sweep") or []
    if sw:
        ax.plot([p["recall@10"] for p in sw], [p["qps"] for p in sw], "s-", color="tab:green", label="LanceDB IVF_FLAT, nprobes sweep")
        for p in sw:
            ax.annotate(str(p["param"]["nprobes"]), (p["recall@10"], p["qps"]), textcoords="offset points", xytext=(4, -10), fontsize=7, color="tab:green")
    if fa.get("exact"):
        e = fa["exact"]
        ax.plot([e["recall@10"]], [e["qps"]], "*", color="tab:blue", markersize=14, label="faiss IndexFlatIP (exact, one query per call)")
    for p in (lag.get("ann") or {}).get("sweep") or []:
        ax.plot([p["recall@10"]], [p["qps"]], "D", color="tab:red", markersize=9, label="Lagoon ANN (HTTP)")
    if lag.get("exact"):
        e = lag["exact"]
        ax.plot([e["recall@10"]], [e["qps"]], "X", color="darkred", markersize=11, label="Lagoon kNN exact (HTTP)")
    ax.axvline(0.95, color="gray", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (one thread, one query per call)")
    d = res.get("dataset") or {}
    ax.set_title(f"WordNet {d.get('n_docs', 0):,} docs × {d.get('dim')}d — recall@10 vs QPS ({res['meta']['started'][:10]})")
    xs = [p.get("recall@10") for _, _, p in ann_points(res) if p.get("recall@10") is not None]
    if xs:
        ax.set_xlim(max(0.0, min(xs) - 0.03), 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


# ----------------------------------------------------------------------------------- entry
def render(res: dict, png_name: str | None) -> str:
    h = res["meta"]
    fill = {
        "date": h["started"][:10],
        "machine": h.get("machine_name") or (h["hardware"].get("cpu") or "?"),
        "mode": h["mode"],
        "summary": summary(res),
        "hardware": hardware(res),
        "dataset": dataset(res),
        "versions": versions(res),
        "config": config(res),
        "commands": commands(res),
        "plot": png_name or "(plot not written)",
        "ann_table": ann_table(res),
        "ratios": ratios_section(res),
        "exact_table": exact_table(res),
        "filtered_table": filtered_table(res),
        "bm25_table": bm25_table(res),
        "hybrid_table": hybrid_table(res),
        "ingest_table": ingest_table(res),
        "cold": cold(res),
        "segments": segments(res),
        "lagoon_bench": lagoon_bench(res),
        "floors": floors(res),
        "notes": notes(res),
    }
    text = TEMPLATE.read_text()
    text = re.sub(r"\n*<!--.*?-->\n*", "\n\n", text, count=1, flags=re.S)
    return re.sub(r"\{\{(\w+)\}\}", lambda m: str(fill.get(m.group(1), m.group(0))), text)


def write_all(res: dict, out_md: Path) -> list[Path]:
    out_md = Path(out_md)
    res["meta"].setdefault("machine_name", out_md.stem.split("-", 3)[-1] if out_md.stem.count("-") >= 3 else out_md.stem)
    png = plot(res, out_md.with_suffix(".png"))
    js = out_md.with_suffix(".json")
    js.write_text(json.dumps(res, indent=1, default=float))
    out_md.write_text(render(res, png.name if png else None))
    return [p for p in (out_md, png, js) if p]


def print_summary(res: dict) -> None:
    print("\n" + "=" * 78, file=sys.stderr)
    print(summary(res).replace("**", ""), file=sys.stderr)
    print("=" * 78 + "\n", file=sys.stderr, flush=True)


if __name__ == "__main__":
    src = Path(sys.argv[1])
    r = json.loads(src.read_text())
    for p in write_all(r, src.with_suffix(".md")):
        print(p)
