"""Peer systems, each run in its own worker process (so its peak RSS and threads are its own).

    python benchmarks/peers.py --system faiss|lancedb|tantivy|bm25s --dataset DIR --out FILE.json

faiss   IndexFlatIP (exact; the physical reference: single-query and BLAS-batched) and
        IndexIVFFlat(nlist = round(4*sqrt(N)), inner product), k-means on up to 256*nlist
        vectors (the faiss default: every vector up to ~1M docs), nprobe sweep; filtered search
        with an IDSelectorBitmap (flat and IVF).
lancedb IVF_FLAT (distance "dot", num_partitions = the same nlist requested; LanceDB trains on
        sample_rate * num_partitions vectors and may train fewer partitions than requested:
        the trained count is recorded), nprobes sweep; filtered with a prefilter `where`.
tantivy Text field with the `en_stem` tokenizer (lower-case, Snowball English stemmer, no
        stopword removal); query = OR of the alphanumeric terms of the lower-cased text
        (tantivy's parser rejects AND/OR/NOT and some punctuation in free text).
bm25s   bm25s.tokenize with English stopwords + PyStemmer English stemmer, BM25 defaults
        (Lucene variant, k1 1.5, b 0.75).

Every system: one thread (pinning.pin + CPU affinity to one core + faiss.omp_set_num_threads),
one query per call, latency measured around the Python call. Peak RSS = VmHWM of this process;
`baseline` is VmRSS after loading the data the system needs, before building anything.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pinning  # noqa: E402  (must precede numpy)


def log(system: str, msg: str) -> None:
    print(f"[{system}] {msg}", file=sys.stderr, flush=True)


def proc_status_kb(field: str, pid: int | str = "self") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_report(baseline_kb: int | None) -> dict:
    peak = proc_status_kb("VmHWM")
    return {
        "peak_mb": round(peak / 1024, 1) if peak else None,
        "baseline_mb": round(baseline_kb / 1024, 1) if baseline_kb else None,
        "peak_above_baseline_mb": round((peak - baseline_kb) / 1024, 1) if peak and baseline_kb else None,
    }


class Progress:
    """Prints 'label i/n (rate)' at most every `every` seconds."""

    def __init__(self, system: str, label: str, total: int, every: float = 5.0):
        self.system, self.label, self.total, self.every = system, label, total, every
        self.t0 = self.last = time.perf_counter()

    def tick(self, i: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            log(self.system, f"{self.label}: {i}/{self.total} ({i / (now - self.t0):.0f}/s)")


def nlist_for(n: int) -> int:
    return max(1, int(round(4 * (n ** 0.5))))


def first_at_least(points: list[dict], key: str, floor: float) -> dict | None:
    ok = [p for p in points if p.get(key, 0) >= floor]
    return max(ok, key=lambda p: p["qps"]) if ok else None


# ======================================================================================
# faiss
# ======================================================================================
def run_faiss(ds, args, threads: int) -> dict:
    import faiss
    import numpy as np

    from metrics import latency_summary, recall_at_k

    faiss.omp_set_num_threads(threads)
    sysname = "faiss"
    qidx = ds.gt_qidx[: args.queries] if args.queries else ds.gt_qidx
    Q = np.ascontiguousarray(ds.queries[qidx], dtype=np.float32)
    gt = ds.gt_ids[: len(qidx)]
    base = np.ascontiguousarray(np.asarray(ds.base, dtype=np.float32))
    n, d = base.shape
    baseline = proc_status_kb("VmRSS")
    out: dict = {"system": sysname, "version": faiss.__version__, "threads": threads, "notes": []}

    # ---- flat (exact) ----
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(d)
    flat.add(base)
    flat_add = time.perf_counter() - t0
    log(sysname, f"IndexFlatIP add {n:,} in {flat_add:.2f}s; single-query exact search over {len(Q)} queries")
    lat, res = [], []
    pr = Progress(sysname, "flat single-query", len(Q))
    for i in range(len(Q)):
        t = time.perf_counter()
        _, I = flat.search(Q[i : i + 1], 10)
        lat.append(time.perf_counter() - t)
        res.append(I[0])
        pr.tick(i + 1)
    t = time.perf_counter()
    _, Ib = flat.search(Q, 10)
    batched = time.perf_counter() - t
    out["exact"] = {
        "label": "faiss IndexFlatIP (exact)",
        "recall@10": recall_at_k(res, gt, 10),
        **latency_summary(lat),
        "batched_qps": len(Q) / batched,
        "batched_recall@10": recall_at_k(Ib, gt, 10),
    }
    log(sysname, f"flat: recall {out['exact']['recall@10']:.3f}, {out['exact']['qps']:.0f} q/s single, {out['exact']['batched_qps']:.0f} q/s batched")

    # ---- IVF-Flat ----
    nlist = args.nlist or nlist_for(n)
    log(sysname, f"IVF-Flat nlist={nlist}: training k-means on {n:,} vectors ({threads} thread(s))")
    t0 = time.perf_counter()
    quant = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFFlat(quant, d, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(base)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    ivf.add(base)
    t_add = time.perf_counter() - t0
    log(sysname, f"IVF train {t_train:.1f}s, add {t_add:.1f}s")
    out["build"] = {
        "index": f"IVF-Flat nlist={nlist}",
        "flat_add_s": flat_add,
        "train_s": t_train,
        "add_s": t_add,
        "index_build_s": t_train + t_add,
        "docs_per_s": n / (t_train + t_add),
        "durable": False,
        "note": "in-memory index; nothing is written to disk",
    }
    sweep = []
    nprobes = [p for p in args.nprobes if p <= nlist]
    for p in nprobes:
        ivf.nprobe = p
        for i in range(min(20, len(Q))):  # warm-up (not timed)
            ivf.search(Q[i : i + 1], 10)
        lat, res = [], []
        for i in range(len(Q)):
            t = time.perf_counter()
            _, I = ivf.search(Q[i : i + 1], 10)
            lat.append(time.perf_counter() - t)
            res.append(I[0])
        pt = {"label": f"nprobe={p}", "param": {"nprobe": p}, "recall@10": recall_at_k(res, gt, 10), **latency_summary(lat)}
        sweep.append(pt)
        log(sysname, f"IVF nprobe={p}: recall@10 {pt['recall@10']:.3f}, {pt['qps']:.0f} q/s, p50 {pt['p50_ms']:.2f} ms")
    out["ann"] = {"label": f"faiss IVF-Flat nlist={nlist}", "nlist": nlist, "sweep": sweep}
    best95 = first_at_least(sweep, "recall@10", 0.95)
    out["ann"]["at_recall_0.95"] = best95

    # ---- filtered ----
    import numpy as _np

    pos = _np.array([x["pos"] for x in ds.docs])
    lex = _np.array([x["lexname"] for x in ds.docs])
    from data import FILTERS, filter_mask

    filt_out = []
    ivf_probe_settings = []
    if best95:
        ivf_probe_settings.append(best95["param"]["nprobe"])
    for extra in (256, 1024):
        if extra <= nlist and extra not in ivf_probe_settings:
            ivf_probe_settings.append(extra)
    for f in FILTERS:
        mask = filter_mask(f, pos, lex)
        fgt = ds.filter_gt[f["name"]][0][: len(qidx)]
        bitmap = _np.packbits(mask.astype(_np.uint8), bitorder="little")
        sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        entries = [("flat (exact)", faiss.SearchParameters(sel=sel), flat)]
        for p in ivf_probe_settings:
            entries.append((f"IVF nprobe={p}", faiss.SearchParametersIVF(sel=sel, nprobe=p), ivf))
        for label, params, index in entries:
            lat, res = [], []
            for i in range(len(Q)):
                t = time.perf_counter()
                _, I = index.search(Q[i : i + 1], 10, params=params)
                lat.append(time.perf_counter() - t)
                res.append(I[0])
            pt = {
                "filter": f["name"],
                "selectivity": float(mask.mean()),
                "setting": label,
                "recall@10": recall_at_k(res, fgt, 10),
                **latency_summary(lat),
            }
            filt_out.append(pt)
            log(sysname, f"filtered {f['name']} ({pt['selectivity']:.1%}) {label}: recall {pt['recall@10']:.3f}, {pt['qps']:.0f} q/s")
        del sel, bitmap
    out["filtered"] = filt_out
    out["rss"] = rss_report(baseline)
    return out


# ======================================================================================
# LanceDB
# ======================================================================================
def run_lancedb(ds, args, threads: int) -> dict:
    import lancedb
    import numpy as np
    import pyarrow as pa

    from metrics import latency_summary, recall_at_k

    sysname = "lancedb"
    qidx = ds.gt_qidx[: args.queries] if args.queries else ds.gt_qidx
    Q = np.ascontiguousarray(ds.queries[qidx], dtype=np.float32)
    gt = ds.gt_ids[: len(qidx)]
    base = np.ascontiguousarray(np.asarray(ds.base, dtype=np.float32))
    n, d = base.shape
    docs = ds.docs
    baseline = proc_status_kb("VmRSS")
    out: dict = {"system": sysname, "version": lancedb.__version__, "threads": threads, "notes": []}
    tmp = Path(tempfile.mkdtemp(prefix="lagoon-bench-lance-", dir=args.tmp))
    try:
        t0 = time.perf_counter()
        vec = pa.FixedSizeListArray.from_arrays(pa.array(base.reshape(-1), type=pa.float32()), d)
        table = pa.table(
            {
                "id": pa.array(np.arange(n, dtype=np.int64)),
                "vector": vec,
                "pos": pa.array([x["pos"] for x in docs]),
                "lexname": pa.array([x["lexname"] for x in docs]),
            }
        )
        db = lancedb.connect(str(tmp))
        tbl = db.create_table("wordnet", data=table)
        t_ingest = time.perf_counter() - t0
        log(sysname, f"table written: {n:,} rows in {t_ingest:.1f}s ({n / t_ingest:,.0f} rows/s, on local disk)")
        from lancedb.index import IvfFlat

        nlist = args.nlist or nlist_for(n)
        log(sysname, f"building IVF_FLAT (dot), num_partitions={nlist} requested")
        t0 = time.perf_counter()
        tbl.create_index("vector", config=IvfFlat(distance_type="dot", num_partitions=nlist))
        t_index = time.perf_counter() - t0
        trained = None
        trained_txt = "?"
        try:  # LanceDB may train fewer partitions than requested: read the count from a plan
            plan = tbl.search(Q[0], vector_column_name="vector").distance_type("dot").nprobes(1).limit(10).select(["id", "_distance"]).analyze_plan()
            m = re.search(r"partitions_ranked=([0-9.]+)\s*([KM]?)\b", plan)
            if m:
                trained_txt = (m.group(1) + m.group(2)).strip()
                trained = int(round(float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6}[m.group(2)]))
        except Exception as e:  # pragma: no cover - API drift
            out["notes"].append(f"could not read the trained partition count: {e}")
        log(sysname, f"IVF_FLAT built in {t_index:.1f}s (partitions trained: {trained_txt}, from analyze_plan)")
        out["build"] = {
            "index": f"IVF_FLAT num_partitions={nlist} requested, {trained_txt} trained",
            "ingest_s": t_ingest,
            "ingest_docs_per_s": n / t_ingest,
            "index_build_s": t_index,
            "durable": True,
            "note": "Lance dataset on local disk (create_table returns after the fragment files are written)",
        }

        def search(q, nprobe, where=None):
            s = tbl.search(q, vector_column_name="vector").distance_type("dot").nprobes(nprobe).limit(10).select(["id", "_distance"])
            if where is not None:
                s = s.where(where, prefilter=True)
            return s.to_arrow()["id"].to_pylist()

        sweep = []
        for p in args.lance_nprobes:
            if trained and p > trained * 1.01:
                continue
            for i in range(min(20, len(Q))):  # warm-up: load the probed partitions (not timed)
                search(Q[i], p)
            lat, res = [], []
            pr = Progress(sysname, f"nprobes={p}", len(Q))
            for i in range(len(Q)):
                t = time.perf_counter()
                ids = search(Q[i], p)
                lat.append(time.perf_counter() - t)
                res.append(ids)
                pr.tick(i + 1)
            pt = {"label": f"nprobes={p}", "param": {"nprobes": p}, "recall@10": recall_at_k(res, gt, 10), **latency_summary(lat)}
            sweep.append(pt)
            log(sysname, f"IVF_FLAT nprobes={p}: recall@10 {pt['recall@10']:.3f}, {pt['qps']:.0f} q/s, p50 {pt['p50_ms']:.1f} ms")
        out["ann"] = {"label": f"LanceDB IVF_FLAT ({trained_txt} partitions)", "nlist": trained or nlist, "sweep": sweep}
        best95 = first_at_least(sweep, "recall@10", 0.95)
        out["ann"]["at_recall_0.95"] = best95

        # filtered: at the ≥0.95 setting, else the largest nprobes measured
        fp = (best95 or (sweep[-1] if sweep else {"param": {"nprobes": 64}}))["param"]["nprobes"]
        filt = []
        for f in ds.filters:
            fgt = ds.filter_gt[f["name"]][0][: len(qidx)]
            lat, res = [], []
            for i in range(len(Q)):
                t = time.perf_counter()
                ids = search(Q[i], fp, f["sql"])
                lat.append(time.perf_counter() - t)
                res.append(ids)
            pt = {
                "filter": f["name"],
                "selectivity": f["selectivity"],
                "setting": f"IVF_FLAT nprobes={fp}, prefilter",
                "recall@10": recall_at_k(res, fgt, 10),
                **latency_summary(lat),
            }
            filt.append(pt)
            log(sysname, f"filtered {f['name']} ({f['selectivity']:.1%}): recall {pt['recall@10']:.3f}, {pt['qps']:.0f} q/s")
        out["filtered"] = filt
        out["disk_mb"] = round(sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()) / 2**20, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["rss"] = rss_report(baseline)
    return out


# ======================================================================================
# tantivy
# ======================================================================================
_NON_WORD = re.compile(r"[^0-9a-z]+")


def tantivy_query_text(text: str) -> str:
    """Lower-case and keep alphanumeric runs: tantivy's parser rejects AND/OR/NOT and some
    punctuation inside free text (REFERENCE.md)."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def run_tantivy(ds, args, threads: int) -> dict:
    import tantivy

    from metrics import latency_summary, text_metrics

    sysname = "tantivy"
    docs = ds.docs
    judged = ds.text_qidx(args.queries)
    qrels = ds.qrels_for(judged)
    qtexts = {qi: ds.query_meta[qi]["text"] for qi in judged}
    baseline = proc_status_kb("VmRSS")
    out: dict = {"system": sysname, "version": _dist_version("tantivy"), "threads": threads, "notes": []}
    tmp = Path(tempfile.mkdtemp(prefix="lagoon-bench-tantivy-", dir=args.tmp))
    try:
        sb = tantivy.SchemaBuilder()
        sb.add_integer_field("id", stored=True, indexed=False, fast=True)
        sb.add_text_field("text", stored=False, tokenizer_name="en_stem")
        schema = sb.build()
        t0 = time.perf_counter()
        index = tantivy.Index(schema, path=str(tmp))
        writer = index.writer(heap_size=256_000_000, num_threads=threads)
        for x in docs:
            writer.add_document(tantivy.Document(id=int(x["id"]), text=x["text"]))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        t_index = time.perf_counter() - t0
        searcher = index.searcher()
        log(sysname, f"indexed {len(docs):,} docs in {t_index:.2f}s ({searcher.num_segments} segment(s)); {len(judged)} queries")
        out["build"] = {
            "index": "en_stem text field",
            "index_build_s": t_index,
            "docs_per_s": len(docs) / t_index,
            "durable": True,
            "note": "on-disk index, one commit",
        }
        parsed = {qi: index.parse_query(tantivy_query_text(qtexts[qi]), ["text"]) for qi in judged}
        # search only (no id fetch), as in REFERENCE.md
        lat_search = []
        hits_by_q = {}
        for qi in judged:
            t = time.perf_counter()
            r = searcher.search(parsed[qi], 100, count=False)
            lat_search.append(time.perf_counter() - t)
            hits_by_q[qi] = r.hits
        # search + ids of the top 100 via the fast field (what a server would return)
        lat_full = []
        runs = {}
        for qi in judged:
            t = time.perf_counter()
            q = index.parse_query(tantivy_query_text(qtexts[qi]), ["text"])
            r = searcher.search(q, 100, count=False)
            ids = searcher.fast_field_values("id", [a for _, a in r.hits])
            lat_full.append(time.perf_counter() - t)
            runs[qi] = ids
        m = text_metrics(runs, qrels)
        s1 = latency_summary(lat_search)
        s2 = latency_summary(lat_full)
        out["text"] = {
            "label": "tantivy en_stem, OR of terms",
            **m,
            **s2,
            "qps_search_only": s1["qps"],
            "p50_ms_search_only": s1["p50_ms"],
            "timing": "parse + search top-100 + read ids from a fast field; qps_search_only excludes parse and id read",
        }
        out["runs"] = {"bm25": {str(k): [int(x) for x in v] for k, v in runs.items()}}
        log(sysname, f"nDCG@10 {m['ndcg@10']:.3f} MRR@10 {m['mrr@10']:.3f} R@100 {m['recall@100']:.3f}; {s2['qps']:.0f} q/s ({s1['qps']:.0f} search only)")
        out["disk_mb"] = round(sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()) / 2**20, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["rss"] = rss_report(baseline)
    return out


# ======================================================================================
# bm25s
# ======================================================================================
def run_bm25s(ds, args, threads: int) -> dict:
    import bm25s
    import Stemmer

    from metrics import latency_summary, text_metrics

    sysname = "bm25s"
    docs = ds.docs
    judged = ds.text_qidx(args.queries)
    qrels = ds.qrels_for(judged)
    texts = [x["text"] for x in docs]
    baseline = proc_status_kb("VmRSS")
    out: dict = {"system": sysname, "version": _dist_version("bm25s"), "threads": threads, "notes": []}
    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    t_index = time.perf_counter() - t0
    log(sysname, f"indexed {len(docs):,} docs in {t_index:.2f}s; {len(judged)} queries")
    out["build"] = {
        "index": "English stopwords + Snowball stemmer, BM25 (Lucene) k1 1.5 b 0.75",
        "index_build_s": t_index,
        "docs_per_s": len(docs) / t_index,
        "durable": False,
        "note": "in-memory sparse matrix (includes tokenisation)",
    }
    lat, runs = [], {}
    k = min(100, len(docs))
    pr = Progress(sysname, "queries", len(judged))
    for j, qi in enumerate(judged):
        t = time.perf_counter()
        qt = bm25s.tokenize([ds.query_meta[qi]["text"]], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
        if qt and qt[0]:
            ids, _ = retriever.retrieve(qt, k=k, n_threads=threads, show_progress=False)
            got = [int(x) for x in ids[0]]
        else:
            got = []
        lat.append(time.perf_counter() - t)
        runs[qi] = got
        pr.tick(j + 1)
    m = text_metrics(runs, qrels)
    out["text"] = {"label": "bm25s + PyStemmer, English stopwords", **m, **latency_summary(lat), "timing": "tokenise + retrieve top-100"}
    out["runs"] = {"bm25": {str(q): v for q, v in runs.items()}}
    log(sysname, f"nDCG@10 {m['ndcg@10']:.3f} MRR@10 {m['mrr@10']:.3f} R@100 {m['recall@100']:.3f}; {out['text']['qps']:.0f} q/s")
    out["rss"] = rss_report(baseline)
    return out


def _dist_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "?"


SYSTEMS = {"faiss": run_faiss, "lancedb": run_lancedb, "tantivy": run_tantivy, "bm25s": run_bm25s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    ap.add_argument("--dataset", required=True, type=Path, help="prepared dataset folder (data.py)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--queries", type=int, default=0, help="use only the first N queries (0 = all)")
    ap.add_argument("--nlist", type=int, default=0, help="IVF lists (default round(4*sqrt(N)))")
    ap.add_argument("--nprobes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16, 32, 64, 96, 128, 192, 256, 384, 512])
    ap.add_argument("--lance-nprobes", type=lambda s: [int(x) for x in s.split(",")], default=[8, 16, 32, 64, 128, 256])
    ap.add_argument("--tmp", default=None, help="scratch folder for on-disk indexes")
    args = ap.parse_args(argv)

    pinning.pin(args.threads)
    pinning.set_affinity(0, pinning.cores()[: args.threads])
    import data

    ds = data.load(args.dataset)
    t0 = time.perf_counter()
    res = SYSTEMS[args.system](ds, args, args.threads)
    res["wall_s"] = time.perf_counter() - t0
    res["dataset"] = ds.meta["name"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=float))
    log(args.system, f"done in {res['wall_s']:.1f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
