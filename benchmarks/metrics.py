"""Quality and latency metrics used by every system's worker (pure python + numpy)."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np


def recall_at_k(results: Sequence[Sequence[int]], gt: np.ndarray, k: int = 10) -> float:
    """Mean |result[:k] ∩ gt[:k]| / k. gt rows may be padded with -1 (filtered sets smaller
    than k): then the denominator is the number of valid gt ids (min(k, matches))."""
    total = 0.0
    n = 0
    for res, g in zip(results, gt):
        truth = [int(x) for x in g[:k] if x >= 0]
        if not truth:
            continue
        total += len(set(int(x) for x in list(res)[:k]) & set(truth)) / len(truth)
        n += 1
    return total / n if n else float("nan")


def _rank_of_relevant(ranked: Sequence[int], rel: dict[int, int], k: int) -> list[tuple[int, int]]:
    """[(rank starting at 1, grade)] of judged docs within the first k results."""
    out = []
    for i, d in enumerate(list(ranked)[:k]):
        g = rel.get(int(d), 0)
        if g > 0:
            out.append((i + 1, g))
    return out


def ndcg_at_k(runs: dict[int, Sequence[int]], qrels: dict[int, dict[int, int]], k: int = 10) -> float:
    """Mean nDCG@k over the judged queries in qrels (a missing run scores 0)."""
    vals = []
    for qid, rel in qrels.items():
        ranked = runs.get(qid, [])
        dcg = sum((2**g - 1) / math.log2(r + 1) for r, g in _rank_of_relevant(ranked, rel, k))
        ideal = sorted(rel.values(), reverse=True)[:k]
        idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
        vals.append(dcg / idcg if idcg > 0 else 0.0)
    return float(np.mean(vals)) if vals else float("nan")


def mrr_at_k(runs: dict[int, Sequence[int]], qrels: dict[int, dict[int, int]], k: int = 10) -> float:
    vals = []
    for qid, rel in qrels.items():
        hits = _rank_of_relevant(runs.get(qid, []), rel, k)
        vals.append(1.0 / hits[0][0] if hits else 0.0)
    return float(np.mean(vals)) if vals else float("nan")


def recall_rel_at_k(runs: dict[int, Sequence[int]], qrels: dict[int, dict[int, int]], k: int = 100) -> float:
    """Fraction of judged-relevant docs found in the top k (BEIR recall@k)."""
    vals = []
    for qid, rel in qrels.items():
        relevant = {d for d, g in rel.items() if g > 0}
        if not relevant:
            continue
        got = set(int(d) for d in list(runs.get(qid, []))[:k])
        vals.append(len(got & relevant) / len(relevant))
    return float(np.mean(vals)) if vals else float("nan")


def text_metrics(runs: dict[int, Sequence[int]], qrels: dict[int, dict[int, int]]) -> dict:
    return {
        "ndcg@10": ndcg_at_k(runs, qrels, 10),
        "mrr@10": mrr_at_k(runs, qrels, 10),
        "recall@100": recall_rel_at_k(runs, qrels, 100),
        "judged_queries": len(qrels),
    }


def rrf(rankings: Iterable[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None, depth: int = 100) -> list[int]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), rank from 1.
    Ties by lower id, so fusion is deterministic."""
    rankings = list(rankings)
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    score: dict[int, float] = {}
    for w, ranked in zip(weights, rankings):
        for r, d in enumerate(ranked):
            d = int(d)
            score[d] = score.get(d, 0.0) + w / (k + r + 1)
    return [d for d, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))][:depth]


def latency_summary(seconds: Sequence[float]) -> dict:
    """p50/p90/p99/mean/max in milliseconds and QPS = n / sum(latencies) (sequential calls)."""
    a = np.asarray(seconds, dtype=np.float64)
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size),
        "qps": float(a.size / a.sum()) if a.sum() > 0 else float("inf"),
        "p50_ms": float(np.percentile(a, 50) * 1e3),
        "p90_ms": float(np.percentile(a, 90) * 1e3),
        "p99_ms": float(np.percentile(a, 99) * 1e3),
        "mean_ms": float(a.mean() * 1e3),
        "max_ms": float(a.max() * 1e3),
    }


def same_topk(got: Sequence[int], got_scores: Sequence[float] | None, truth_ids: np.ndarray, truth_scores: np.ndarray, k: int = 10, tol: float = 1e-4) -> bool:
    """True if `got[:k]` is the exact top-k. A differing id is allowed only where the
    truth has a near-tie (|score difference| <= tol) at the k-th position, so float
    rounding between the engine's kernel and numpy's BLAS cannot fail the check."""
    g = [int(x) for x in list(got)[:k]]
    t = [int(x) for x in truth_ids[:k] if x >= 0]
    if len(g) != len(t):
        return False
    if g == t:
        return True
    if set(g) == set(t):
        # same set, order differs: accept only near-tied swaps
        pos = {d: i for i, d in enumerate(t)}
        return all(abs(float(truth_scores[pos[d]]) - float(truth_scores[i])) <= tol for i, d in enumerate(g))
    # different sets: every extra id must tie with the k-th truth score
    kth = float(truth_scores[len(t) - 1])
    extra = set(g) - set(t)
    if got_scores is None:
        return False
    gs = {int(d): float(s) for d, s in zip(list(got)[:k], list(got_scores)[:k])}
    return all(abs(gs[d] - kth) <= tol for d in extra)
