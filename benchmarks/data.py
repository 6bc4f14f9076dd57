"""Benchmark data: WordNet-117k from `<repo>/../shared/bench`, its quick subset, and `--scale` sets.

Source files (see shared/bench/README.md): `base.f16` (117,659 x 384 float16, L2-normalised,
widened here to float32), `queries.f32` (1,000 x 384), `groundtruth.i32` / `groundtruth_scores.f32`
(exact top-100 by cosine, ties by lower id), `qrels.tsv` (one relevant doc per query),
`docs.jsonl`, `queries.jsonl`.

A dataset is *prepared* once into `benchmarks/work/datasets/<name>/` (numpy files + meta.json)
and then memory-mapped by every system's worker process, so each system loads identical data.

Modes
-----
full   All 117,659 docs. Vector ground truth = the shipped `groundtruth.i32`; numpy recomputes
       the exact top-100 for every query too and meta.json records how often both agree
       (top-10 sets), as a check of the oracle used for the filtered ground truth.
quick  The first 10,000 docs (doc ids are a seeded shuffle, so a prefix is a uniform sample).
       Vector ground truth is recomputed exactly with numpy over the subset for all 1,000
       queries. Text metrics (BM25, hybrid) are scored only on the queries whose relevant
       document is inside the subset (~160 of the 1,000).
scale  `--scale N` (N > 117,659): the real corpus unchanged as ids 0..117,658 (so qrels stay
       valid), followed by N - 117,659 synthetic docs made by seeded synthesis from the real
       vectors (seed 20261122 unless `--seed`):
         for each synthetic doc j (id 117,659 + j), with rng = numpy.random.default_rng(seed):
           a, b   = two real docs drawn uniformly with replacement
           t      ~ Uniform(0, 0.5)                       (interpolation weight towards b)
           g      ~ Normal(0, I / 384)                    (|g| ~= 1)
           v      = (1 - t) * x_a + t * x_b + 0.25 * g    (noisy interpolation)
           vector = float16(v / |v|) widened to float32   (stored like the real base)
           pos, lexname = those of a                      (filter selectivities are preserved)
           text   = an order-preserving random sample of round((1-t)*|a|) words of a's text
                    followed by round(t*|b|) words of b's text (python random.Random(seed))
       Ground truth is then computed exactly with numpy (float32 inner product, ties by lower
       id) for a sample of queries: the first `--gt-queries` (default: all 1,000). The
       synthetic docs are distractors for the text task; they carry no judgments.

Filters (fixed for all queries; the actual selectivity on the prepared set is recorded):
  ~1%  : lexname = noun.quantity                                     (1.08% of the 117k)
  ~10% : lexname = noun.artifact                                     (9.85%)
  ~50% : pos in {verb, adj, adj_satellite, adv} OR
         lexname in {noun.artifact, noun.person}                     (49.5%)
Their exact filtered top-100 is computed with numpy in the same pass as the unfiltered one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REAL_N = 117_659
DIM = 384
N_QUERIES = 1_000
GT_K = 100
QUICK_N = 10_000
DEFAULT_SEED = 20261122
SYNTH_T_MAX = 0.5
SYNTH_SIGMA = 0.25
FORMAT_VERSION = 3

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def log(msg: str) -> None:
    print(f"[data] {msg}", file=sys.stderr, flush=True)


def default_data_dir() -> Path:
    """`<repo>/../shared/bench` (beside the clone in CI, /work/shared/bench here)."""
    return (REPO / ".." / "shared" / "bench").resolve()


# --------------------------------------------------------------------------------------
# Filters: one definition, three renderings (turbopuffer JSON, LanceDB SQL, python).
# --------------------------------------------------------------------------------------
_NON_NOUN = ["verb", "adj", "adj_satellite", "adv"]
FILTERS: list[dict] = [
    {
        "name": "sel_1pct",
        "target": 0.01,
        "describe": "lexname = noun.quantity",
        "tpuf": ["lexname", "Eq", "noun.quantity"],
        "sql": "lexname = 'noun.quantity'",
    },
    {
        "name": "sel_10pct",
        "target": 0.10,
        "describe": "lexname = noun.artifact",
        "tpuf": ["lexname", "Eq", "noun.artifact"],
        "sql": "lexname = 'noun.artifact'",
    },
    {
        "name": "sel_50pct",
        "target": 0.50,
        "describe": "pos in {verb, adj, adj_satellite, adv} OR lexname in {noun.artifact, noun.person}",
        "tpuf": ["Or", [["pos", "In", _NON_NOUN], ["lexname", "In", ["noun.artifact", "noun.person"]]]],
        "sql": "pos IN ('verb', 'adj', 'adj_satellite', 'adv') OR lexname IN ('noun.artifact', 'noun.person')",
    },
]


def filter_mask(f: dict, pos: np.ndarray, lexname: np.ndarray) -> np.ndarray:
    """Boolean mask of docs matching filter `f` (pos/lexname are numpy arrays of str)."""
    name = f["name"]
    if name == "sel_1pct":
        return lexname == "noun.quantity"
    if name == "sel_10pct":
        return lexname == "noun.artifact"
    if name == "sel_50pct":
        return np.isin(pos, _NON_NOUN) | np.isin(lexname, ["noun.artifact", "noun.person"])
    raise KeyError(name)


# --------------------------------------------------------------------------------------
# Raw loaders
# --------------------------------------------------------------------------------------
def load_base_f16(data_dir: Path, n: int | None = None) -> np.ndarray:
    n = REAL_N if n is None else min(n, REAL_N)
    raw = np.fromfile(data_dir / "base.f16", dtype="<f2", count=n * DIM)
    return raw.reshape(n, DIM).astype(np.float32)


def load_queries(data_dir: Path) -> tuple[np.ndarray, list[dict]]:
    q = np.fromfile(data_dir / "queries.f32", dtype="<f4").reshape(-1, DIM)
    meta = [json.loads(l) for l in open(data_dir / "queries.jsonl", encoding="utf-8")]
    assert len(meta) == q.shape[0]
    return q, meta


def load_shipped_gt(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromfile(data_dir / "groundtruth.i32", dtype="<i4").reshape(-1, GT_K)
    sc = np.fromfile(data_dir / "groundtruth_scores.f32", dtype="<f4").reshape(-1, GT_K)
    return ids, sc


def load_qrels(path: Path) -> dict[int, dict[int, int]]:
    qrels: dict[int, dict[int, int]] = {}
    with open(path, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.split()
            if len(parts) < 3:
                continue
            qrels.setdefault(int(parts[0]), {})[int(parts[1])] = int(parts[2])
    return qrels


def load_docs(data_dir: Path, n: int | None = None) -> list[dict]:
    docs = []
    with open(data_dir / "docs.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            docs.append({"id": d["id"], "text": d["text"], "pos": d["pos"], "lexname": d["lexname"]})
            if n is not None and len(docs) >= n:
                break
    for i, d in enumerate(docs):
        assert d["id"] == i, "docs.jsonl is expected in id order"
    return docs


# --------------------------------------------------------------------------------------
# Exact search (the oracle)
# --------------------------------------------------------------------------------------
def _topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k per row, descending score, ties by lower column index. -inf = excluded."""
    n = scores.shape[1]
    kk = min(n, k + 16)
    if kk < n:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    else:
        part = np.tile(np.arange(n), (scores.shape[0], 1))
    ids = np.empty((scores.shape[0], k), dtype=np.int32)
    out = np.empty((scores.shape[0], k), dtype=np.float32)
    for r in range(scores.shape[0]):
        cand = part[r]
        s = scores[r, cand]
        order = np.lexsort((cand, -s))[:k]
        got = cand[order]
        gs = s[order]
        valid = np.isfinite(gs)
        m = len(got)
        ids[r, :] = -1
        out[r, :] = -np.inf
        ids[r, :m][valid] = got[valid]
        out[r, :m][valid] = gs[valid]
    return ids, out


def exact_search(
    base: np.ndarray,
    queries: np.ndarray,
    k: int = GT_K,
    masks: dict[str, np.ndarray] | None = None,
    progress: str | None = None,
    query_chunk: int = 250,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Exact top-k by inner product (= cosine, rows are normalised), ties by lower id.

    Returns {"all": (ids, scores), <mask name>: (ids, scores), ...}. Queries are taken in
    chunks and the base is scanned in blocks so 1M x 384 fits comfortably; the running
    top-k is merged block by block.
    """
    parts = []
    for qs in range(0, queries.shape[0], query_chunk):
        tag = f"{progress} queries {qs}-{min(queries.shape[0], qs + query_chunk)}" if progress else None
        parts.append(_exact_search_chunk(base, queries[qs : qs + query_chunk], k, masks, tag))
    return {
        nm: (np.concatenate([p[nm][0] for p in parts]), np.concatenate([p[nm][1] for p in parts]))
        for nm in parts[0]
    }


def _exact_search_chunk(base, queries, k, masks, progress):
    masks = masks or {}
    names = ["all", *masks.keys()]
    nq = queries.shape[0]
    n = base.shape[0]
    best = {nm: (np.full((nq, k), -1, np.int32), np.full((nq, k), -np.inf, np.float32)) for nm in names}
    block = 131_072
    t0 = time.time()
    for start in range(0, n, block):
        stop = min(n, start + block)
        xb = np.ascontiguousarray(base[start:stop], dtype=np.float32)
        s_all = queries @ xb.T  # (nq, blk)
        for nm in names:
            s = s_all if nm == "all" else np.where(masks[nm][start:stop][None, :], s_all, -np.inf)
            bi, bs = _topk_rows(s, k)
            bi = np.where(bi >= 0, bi + start, -1)
            pi, ps = best[nm]
            ci = np.concatenate([pi, bi], axis=1)
            cs = np.concatenate([ps, bs], axis=1)
            # merge: order by (-score, id) with invalid (-1) last
            key_id = np.where(ci >= 0, ci, np.iinfo(np.int32).max)
            new_i = np.empty_like(pi)
            new_s = np.empty_like(ps)
            for r in range(nq):
                o = np.lexsort((key_id[r], -cs[r]))[:k]
                new_i[r] = ci[r, o]
                new_s[r] = cs[r, o]
            best[nm] = (new_i, new_s)
        if progress and (n > block):
            log(f"{progress}: exact scan {stop:,}/{n:,} docs ({time.time() - t0:.1f}s)")
    return best


# --------------------------------------------------------------------------------------
# --scale synthesis
# --------------------------------------------------------------------------------------
def synthesize(
    base: np.ndarray, docs: list[dict], target_n: int, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, list[dict]]:
    """Extend the real corpus to `target_n` docs (see module docstring for the recipe)."""
    n0 = base.shape[0]
    m = target_n - n0
    if m <= 0:
        return base, docs
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    out = np.empty((target_n, DIM), dtype=np.float32)
    out[:n0] = base
    new_docs = list(docs)
    chunk = 100_000
    t0 = time.time()
    for start in range(0, m, chunk):
        c = min(chunk, m - start)
        a = rng.integers(0, n0, c)
        b = rng.integers(0, n0, c)
        t = rng.uniform(0.0, SYNTH_T_MAX, c).astype(np.float32)
        g = rng.standard_normal((c, DIM), dtype=np.float32) / np.float32(math.sqrt(DIM))
        v = (1 - t)[:, None] * base[a] + t[:, None] * base[b] + np.float32(SYNTH_SIGMA) * g
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[n0 + start : n0 + start + c] = v.astype(np.float16).astype(np.float32)
        for i in range(c):
            da, db, ti = docs[int(a[i])], docs[int(b[i])], float(t[i])
            wa, wb = da["text"].split(), db["text"].split()
            ka = max(1, round((1 - ti) * len(wa)))
            kb = round(ti * len(wb))
            pa = sorted(prng.sample(range(len(wa)), min(ka, len(wa))))
            pb = sorted(prng.sample(range(len(wb)), min(kb, len(wb))))
            text = " ".join([wa[j] for j in pa] + [wb[j] for j in pb])
            new_docs.append({"id": n0 + start + i, "text": text, "pos": da["pos"], "lexname": da["lexname"]})
        log(f"synthesis: {n0 + start + c:,}/{target_n:,} docs ({time.time() - t0:.1f}s)")
    return out, new_docs


# --------------------------------------------------------------------------------------
# Prepare / load
# --------------------------------------------------------------------------------------
def dataset_name(mode: str, scale: int | None, gt_queries: int | None, seed: int) -> str:
    if scale:
        return f"scale{scale}-s{seed}-gt{gt_queries or N_QUERIES}"
    return mode


def _source_fingerprint(data_dir: Path) -> str:
    h = hashlib.sha256()
    for f in ("base.f16", "queries.f32", "groundtruth.i32", "docs.jsonl", "qrels.tsv"):
        st = (data_dir / f).stat()
        h.update(f"{f}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def prepare(
    data_dir: Path,
    work_dir: Path,
    mode: str = "full",
    scale: int | None = None,
    gt_queries: int | None = None,
    seed: int = DEFAULT_SEED,
    force: bool = False,
) -> Path:
    """Materialise a dataset under work_dir/datasets/<name>/ and return that folder."""
    data_dir = Path(data_dir)
    name = dataset_name(mode, scale, gt_queries, seed)
    out = Path(work_dir) / "datasets" / name
    key = {
        "format": FORMAT_VERSION,
        "mode": mode,
        "scale": scale,
        "gt_queries": gt_queries,
        "seed": seed,
        "source": str(data_dir),
        "fingerprint": _source_fingerprint(data_dir),
    }
    meta_path = out / "meta.json"
    if meta_path.exists() and not force:
        old = json.loads(meta_path.read_text())
        if old.get("key") == key:
            log(f"using prepared dataset {out}")
            return out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    n_real = QUICK_N if mode == "quick" else REAL_N
    log(f"loading {n_real:,} docs from {data_dir}")
    base = load_base_f16(data_dir, n_real)
    docs = load_docs(data_dir, n_real)
    queries, qmeta = load_queries(data_dir)
    if scale and scale > n_real:
        base, docs = synthesize(base, docs, scale, seed)
    n = base.shape[0]

    pos = np.array([d["pos"] for d in docs])
    lex = np.array([d["lexname"] for d in docs])
    masks = {f["name"]: filter_mask(f, pos, lex) for f in FILTERS}

    nq_gt = min(gt_queries or N_QUERIES, queries.shape[0])
    gt_qidx = np.arange(nq_gt, dtype=np.int32)
    log(f"exact ground truth (numpy) for {nq_gt} queries over {n:,} docs, {len(masks)} filters")
    res = exact_search(base, queries[gt_qidx], GT_K, masks, progress="ground truth")

    meta: dict = {
        "key": key,
        "name": name,
        "mode": mode,
        "n_docs": int(n),
        "n_real_docs": int(min(n, n_real)),
        "dim": DIM,
        "n_queries": int(queries.shape[0]),
        "gt_queries": int(nq_gt),
        "seed": seed if scale else None,
        "scale": scale,
        "source": str(data_dir),
        "filters": [],
    }
    gt_ids, gt_sc = res["all"]
    if mode == "full" and not scale:
        ship_ids, ship_sc = load_shipped_gt(data_dir)
        agree10 = float(np.mean([set(ship_ids[i, :10]) == set(gt_ids[i, :10]) for i in range(nq_gt)]))
        agree100 = float(np.mean([len(set(ship_ids[i]) & set(gt_ids[i])) / GT_K for i in range(nq_gt)]))
        meta["gt_source"] = "shipped groundtruth.i32"
        meta["gt_numpy_agreement"] = {"top10_sets_equal": agree10, "top100_overlap": agree100}
        log(f"numpy oracle vs shipped ground truth: top-10 sets equal {agree10:.3f}, top-100 overlap {agree100:.4f}")
        gt_ids, gt_sc = ship_ids[:nq_gt].astype(np.int32), ship_sc[:nq_gt].astype(np.float32)
    else:
        meta["gt_source"] = "numpy exact (float32 inner product, ties by lower id)"
    np.save(out / "gt_ids.npy", gt_ids)
    np.save(out / "gt_scores.npy", gt_sc)
    np.save(out / "gt_qidx.npy", gt_qidx)
    for f in FILTERS:
        fi, fs = res[f["name"]]
        np.save(out / f"gt_{f['name']}_ids.npy", fi)
        np.save(out / f"gt_{f['name']}_scores.npy", fs)
        meta["filters"].append(
            {
                "name": f["name"],
                "describe": f["describe"],
                "target": f["target"],
                "selectivity": float(masks[f["name"]].mean()),
                "matches": int(masks[f["name"]].sum()),
                "tpuf": f["tpuf"],
                "sql": f["sql"],
            }
        )
    np.save(out / "base.npy", base)
    np.save(out / "queries.npy", queries.astype(np.float32))
    with open(out / "docs.jsonl", "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as fh:
        for q in qmeta:
            fh.write(json.dumps(q, ensure_ascii=False) + "\n")
    # Judged queries: relevant docs inside the corpus.
    qrels = load_qrels(data_dir / "qrels.tsv")
    judged = [qi for qi, rel in sorted(qrels.items()) if any(d < n for d in rel)]
    meta["judged_queries"] = len(judged)
    with open(out / "qrels.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qi in judged:
            for d, s in qrels[qi].items():
                if d < n:
                    fh.write(f"{qi}\t{d}\t{s}\n")
    meta["prepare_seconds"] = round(time.time() - t0, 2)
    meta_path.write_text(json.dumps(meta, indent=2))
    log(f"prepared {name}: {n:,} docs in {meta['prepare_seconds']}s -> {out}")
    return out


@dataclass
class Dataset:
    path: Path
    meta: dict
    base: np.ndarray
    queries: np.ndarray
    query_meta: list[dict]
    gt_ids: np.ndarray
    gt_scores: np.ndarray
    gt_qidx: np.ndarray
    qrels: dict[int, dict[int, int]]
    filter_gt: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _docs: list[dict] | None = None

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    @property
    def docs(self) -> list[dict]:
        if self._docs is None:
            self._docs = [json.loads(l) for l in open(self.path / "docs.jsonl", encoding="utf-8")]
        return self._docs

    @property
    def judged_qidx(self) -> list[int]:
        """Query indices with at least one judged-relevant doc in this corpus."""
        return sorted(self.qrels.keys())

    def text_qidx(self, limit: int = 0) -> list[int]:
        """Judged queries used for text metrics: those with vector ground truth too (all of
        them unless --gt-queries), and with id < limit when --queries limits the run."""
        n = len(self.gt_qidx) if not limit else min(limit, len(self.gt_qidx))
        return [qi for qi in self.judged_qidx if qi < n]

    def qrels_for(self, qidx: list[int]) -> dict[int, dict[int, int]]:
        return {qi: self.qrels[qi] for qi in qidx}

    @property
    def filters(self) -> list[dict]:
        return self.meta["filters"]


def load(path: Path, mmap: bool = True) -> Dataset:
    path = Path(path)
    meta = json.loads((path / "meta.json").read_text())
    mm = "r" if mmap else None
    ds = Dataset(
        path=path,
        meta=meta,
        base=np.load(path / "base.npy", mmap_mode=mm),
        queries=np.load(path / "queries.npy"),
        query_meta=[json.loads(l) for l in open(path / "queries.jsonl", encoding="utf-8")],
        gt_ids=np.load(path / "gt_ids.npy"),
        gt_scores=np.load(path / "gt_scores.npy"),
        gt_qidx=np.load(path / "gt_qidx.npy"),
        qrels=load_qrels(path / "qrels.tsv"),
    )
    for f in meta["filters"]:
        ds.filter_gt[f["name"]] = (
            np.load(path / f"gt_{f['name']}_ids.npy"),
            np.load(path / f"gt_{f['name']}_scores.npy"),
        )
    return ds


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Prepare a benchmark dataset (normally done by run.py).")
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--mode", choices=["quick", "full"], default="full")
    ap.add_argument("--scale", type=int)
    ap.add_argument("--gt-queries", type=int)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    print(prepare(a.data, a.work, a.mode, a.scale, a.gt_queries, a.seed, a.force))
