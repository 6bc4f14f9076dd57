"""Thread pinning shared by every benchmark entry point.

Import this module and call `pin(threads)` *before* numpy, faiss, lancedb or any other
native library is imported: OpenMP/OpenBLAS/Rayon/Tokio read their thread counts from the
environment once, when they load.

Single-threaded comparisons (the default, `--threads 1`) pin every system to one thread:
 * environment: OMP/OpenBLAS/MKL/numexpr/Rayon/Tokio/LANCE_CPU_THREADS = N
   (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left exactly as the machine sets them);
 * CPU affinity: the Python process running a peer (faiss, LanceDB, tantivy, bm25s) is
   pinned to one core; the Lagoon server process is pinned to one core and the Python client
   that drives it over HTTP to the other one, so the client's JSON work is not billed to the
   server (the same way a server sees one query per request);
 * faiss.omp_set_num_threads(N) is also called where faiss is used.
"""

from __future__ import annotations

import os

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "RAYON_NUM_THREADS",
    "RAYON_RS_NUM_CPUS",
    "TOKIO_WORKER_THREADS",
    "LANCE_CPU_THREADS",
)


def pin(threads: int) -> None:
    """Set the thread-count environment for this process and its children."""
    for k in THREAD_ENV_VARS:
        os.environ[k] = str(threads)
    # Lance keeps a separate IO pool; keep it small but >0 so reads make progress.
    os.environ.setdefault("LANCE_IO_THREADS", str(max(2, threads)))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def set_affinity(pid: int, cpus: list[int] | set[int]) -> bool:
    """Pin `pid` (0 = this process) to `cpus`. Returns False where unsupported."""
    try:
        os.sched_setaffinity(pid, set(cpus))
        return True
    except (AttributeError, OSError):
        return False


def client_and_server_cores(threads: int) -> tuple[list[int], list[int]]:
    """Split the machine: (cores for the Python client, cores for the server).

    With one thread per system on a 2-core box: client on core 0, server on core 1.
    If there is only one core, both share it.
    """
    all_cores = cores()
    if len(all_cores) <= threads:
        return all_cores, all_cores
    server = all_cores[-threads:]
    client = [c for c in all_cores if c not in server][:1] or all_cores[:1]
    return client, server
