"""Several nodes over one bucket (issue 9; ARCHITECTURE §3, seed 004 "Production" topology): one
writer node, two query nodes and two `lagoon worker` processes share one moto_server bucket on
loopback. Every node is the real binary (LAGOON_BIN); the official turbopuffer client drives them.

Concurrent clients write DOCS documents through the writer node, in batches; each batch also
overwrites one document and deletes another of the same client's previous batch. Every
acknowledged write is looked for on both query nodes: an eventual read that starts
`[manifest] poll_interval_ms` after the acknowledgement must see all of it (the staleness bound
of seed 004), and on the second node a strong read started right after the acknowledgement must
see it too. Midway a worker and a query node are killed with SIGKILL and started again. At the
end the workers have indexed and compacted (metadata `up-to-date`; the bucket's manifests list
segments, one of them a merge of earlier ones), and every node answers with exactly the
acknowledged documents. Another test deletes and re-creates a namespace the query nodes have open.

Roles: Lagoon has no node roles of its own (every `serve` node may write; the create-only commit
orders writers). The deployment gives the query nodes a keys file with only a reader key, so they
refuse writes (403, Specs/protocol/roles.md), and runs `serve` with `embedded_indexer = false`
everywhere so only the workers index.

LAGOON_MULTINODE_DOCS overrides the document count (default 20000).
"""
from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import turbopuffer

from conftest import LagoonServer, LagoonWorker, MotoS3, make_client
from e2e_util import fetch_all, ids_of, rows_of, wait_until

DOCS = int(os.environ.get("LAGOON_MULTINODE_DOCS", "20000"))
BATCH = 100
CLIENTS = 8
POLL_MS = 500
DIM = 8
NS = "multinode"
BUCKET = "lagoon-multinode"
PREFIX = "cluster/"
WRITER_KEY = "lagoon_multinode-writer-key"
READER_KEY = "lagoon_multinode-reader-key"
CHECK_THREADS = 4  # per query node
FAN_IN = 3  # [indexer] compaction_fanin: small, so 20,000 documents see several merges
# Killed and restarted when this share of the batches is acknowledged.
KILL_WORKER_AT, KILL_QUERY_NODE_AT = 0.3, 0.5


# Offsets in a client's previous batch that its next write overwrites and deletes.
OVERWRITE, DELETE = 3, 7


def doc(i: int, overwritten: bool = False) -> dict:
    """Document `i` as first written or as overwritten: a pure function (the oracle)."""
    return {"id": i, "n": i + DOCS if overwritten else i, "text": f"w{i % 97} w{i % 89} shared",
            "vector": [math.sin(i * (k + 1) * 0.37) for k in range(DIM)]}


def batch_ids(b: int) -> list[int]:
    return list(range(b * BATCH, min(DOCS, (b + 1) * BATCH)))


@dataclass
class Write:
    """One client write: batch `batch` of new documents, plus an overwrite and a delete in the
    client's previous batch `prev` (no later write touches either again)."""
    batch: int
    prev: int | None

    def request(self) -> dict:
        rows = [doc(i) for i in batch_ids(self.batch)]
        if self.prev is None:
            return {"upsert_rows": rows}
        return {"upsert_rows": rows + [doc(self.prev * BATCH + OVERWRITE, overwritten=True)],
                "deletes": [self.prev * BATCH + DELETE]}

    def settled(self) -> dict[int, int | None]:
        """id -> `n` (None: absent) for the documents this write leaves in their final state."""
        out: dict[int, int | None] = {i: i for i in batch_ids(self.batch) if i % BATCH not in (OVERWRITE, DELETE)}
        if self.prev is not None:
            out[self.prev * BATCH + OVERWRITE] = self.prev * BATCH + OVERWRITE + DOCS
            out[self.prev * BATCH + DELETE] = None
        return out


def final_state(batches_of_client: list[list[int]]) -> dict[int, int]:
    """id -> `n` of every live document once all writes are acknowledged."""
    state = {i: i for i in range(DOCS)}
    for own in batches_of_client:
        for prev in own[:-1]:
            state[prev * BATCH + OVERWRITE] += DOCS
            del state[prev * BATCH + DELETE]
    return state


def keys_file(path, **keys: tuple[str, str]):
    """A keys file (Specs/format/keys-file.md) with `id=(key, role)` entries."""
    path.write_text("".join(f'[keys.{kid}]\nsha256 = "{hashlib.sha256(key.encode()).hexdigest()}"\nrole = "{role}"\n\n'
                            for kid, (key, role) in keys.items()))
    return path


# ----------------------------------------------------------------------------------------------
# visibility checks on the query nodes


@dataclass(order=True)
class Check:
    due: float
    write: Write = field(compare=False)
    strong: bool = field(compare=False)


class QueryNodeChecker:
    """Looks for acknowledged batches on one query node when they are due. A check that meets a
    connection error while the node is being restarted (its `generation` moved) is retried once
    the node is back; any other failure, or a batch not (fully) found, is a violation."""

    def __init__(self, node: LagoonServer):
        self.node = node
        self.generation = 0  # bumped (under lock) before a kill and after the restart of the node
        self.down = threading.Event()
        self.lock = threading.Lock()
        self.heap: list[Check] = []
        self.cond = threading.Condition()
        self.closed = False
        self.violations: list[str] = []
        self.done = 0
        self.retried = 0
        self.late: list[float] = []  # how long after its due time each check started
        self.query_seconds = 0.0
        self.local = threading.local()  # one client (and connection) per checking thread
        self.pool = ThreadPoolExecutor(CHECK_THREADS)
        self.dispatcher = threading.Thread(target=self._dispatch, daemon=True)
        self.dispatcher.start()

    def schedule(self, check: Check) -> None:
        with self.cond:
            heapq.heappush(self.heap, check)
            self.cond.notify()

    def _dispatch(self) -> None:
        while True:
            with self.cond:
                while not self.heap and not self.closed:
                    self.cond.wait()
                if not self.heap:
                    return
                wait = self.heap[0].due - time.monotonic()
                if wait > 0:
                    self.cond.wait(wait)
                    continue
                check = heapq.heappop(self.heap)
            self.pool.submit(self._run, check)

    def _run(self, check: Check) -> None:
        settled = check.write.settled()
        want = {i: n for i, n in settled.items() if n is not None}
        kind = f"batch {check.write.batch} ({'strong' if check.strong else 'eventual'})"
        deadline = time.monotonic() + 90
        while True:
            gen = self.generation
            started = time.monotonic()
            try:
                if getattr(self.local, "generation", None) != gen:
                    self.local.ns = make_client(self.node.url, api_key=READER_KEY, max_retries=0, timeout=30).namespace(NS)
                    self.local.generation = gen
                resp = self.local.ns.query(
                    top_k=len(settled), filters=("id", "In", sorted(settled)), include_attributes=["n"],
                    consistency={"level": "strong" if check.strong else "eventual"})
                got = {row["id"]: row["n"] for row in rows_of(resp)}
            except (turbopuffer.APIConnectionError, turbopuffer.APITimeoutError) as e:
                if (self.down.is_set() or gen != self.generation) and time.monotonic() < deadline:
                    self.retried += 1
                    time.sleep(0.1)
                    continue  # the node was killed under this check: look again once it is back
                self._violation(f"{kind}: {self.node.url} unreachable while up: {e!r}")
                return
            except Exception as e:  # noqa: BLE001 - any error answer is a violation
                self._violation(f"{kind}: {e!r}")
                return
            with self.lock:
                self.done += 1
                self.query_seconds += time.monotonic() - started
                self.late.append(started - check.due)
            if got != want:
                wrong = sorted(i for i in settled if got.get(i) != want.get(i))
                self._violation(f"{kind}: a read started {started - check.due:+.3f}s after it was due differs for "
                                f"{len(wrong)} ids: " + ", ".join(f"{i}: {got.get(i)} not {want.get(i)}" for i in wrong[:5]))
            return

    def restart_node(self) -> None:
        """SIGKILL the node and start it again on its port; checks that meet the gap look again."""
        with self.lock:
            self.down.set()
            self.generation += 1
        self.node.kill()
        self.node.start(self.node.port)  # same port: its clients keep their address
        with self.lock:
            self.generation += 1
            self.down.clear()

    def _violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)

    def close(self, timeout: float = 120) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        self.dispatcher.join(timeout)
        self.pool.shutdown(wait=True)


# ----------------------------------------------------------------------------------------------
# the bucket's manifests


def manifest_keys(moto: MotoS3) -> list[str]:
    prefix = f"{PREFIX}ns/{NS}/manifest/"
    return sorted(k for k in moto.keys(BUCKET, prefix) if k[len(prefix):].isdigit())


def read_manifest(moto: MotoS3, key: str) -> dict:
    """The JSON payload of a manifest object (Specs/format/envelope.md: a 24-byte header for the
    name "manifest", a 12-byte footer)."""
    body = moto.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body[:4] == b"LGON" and body[5:13] == b"manifest", f"{key} is not a framed manifest"
    return json.loads(body[24:-12])


def compacted(moto: MotoS3) -> bool:
    """The newest version has no tail and fewer segments than a compaction merges."""
    newest = read_manifest(moto, manifest_keys(moto)[-1])
    return newest["wal"] == [] and 0 < len(newest.get("segments") or []) < FAN_IN


def merges(versions: list[dict]) -> list[str]:
    """Segments that replaced two or more segments listed by the version before (compactions)."""
    found = []
    for before, after in zip(versions, versions[1:]):
        old = {s["key"]: s for s in before.get("segments") or []}
        gone = [s for k, s in old.items() if k not in {t["key"] for t in after.get("segments") or []}]
        for new in after.get("segments") or []:
            if new["key"] in old:
                continue
            covered = [s for s in gone if new["min_seq"] <= s["min_seq"] and s["max_seq"] <= new["max_seq"]]
            if len(covered) >= 2:
                found.append(new["key"])
    return found


# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """moto, one writer node, two query nodes, two workers; everything stopped by pid at the end."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    moto = MotoS3(tmp_path / "moto.log")
    moto.create_bucket(BUCKET)
    writer_keys = keys_file(tmp_path / "writer-keys.toml", writer=(WRITER_KEY, "writer"), reader=(READER_KEY, "reader"))
    query_keys = keys_file(tmp_path / "query-keys.toml", reader=(READER_KEY, "reader"))

    def env(name: str, keys=None) -> dict:
        e = {**moto.env(BUCKET, PREFIX, tmp_path / name / "cache"),
             "LAGOON_MANIFEST__POLL_INTERVAL_MS": str(POLL_MS),
             "LAGOON_SERVER__EMBEDDED_INDEXER": "false",
             "LAGOON_INDEXER__FLUSH_INTERVAL_SECS": "1",
             "LAGOON_INDEXER__FLUSH_ENTRIES": "4",
             "LAGOON_INDEXER__COMPACTION_FANIN": str(FAN_IN)}
        if keys is not None:
            e["LAGOON_AUTH__KEYS_FILE"] = str(keys)
        return e

    servers = {name: LagoonServer(tmp_path / name / "root", tmp_path / name / "logs", env(name, keys))
               for name, keys in (("writer", writer_keys), ("query1", query_keys), ("query2", query_keys))}
    workers = [LagoonWorker(tmp_path / f"worker{i}", env(f"worker{i}")) for i in (1, 2)]
    try:
        for srv in servers.values():
            srv.start()
        for w in workers:
            w.start()
        yield moto, servers, workers
    finally:
        for w in workers:
            w.kill()
        for srv in servers.values():
            srv.kill()
        moto.stop()


def test_query_nodes_follow_a_delete_and_recreate(cluster):
    """A namespace deleted and written again on the writer node: the query nodes, which had the
    first incarnation open (segments included), answer 404 and then only the new documents,
    at once for strong reads (second query node) and within the poll bound for eventual ones
    (first query node: no strong read refreshes its copy); also once the workers have indexed
    the new incarnation."""
    _, servers, _ = cluster
    name = "recreated"
    poll = POLL_MS / 1000
    writer = make_client(servers["writer"].url, api_key=WRITER_KEY).namespace(name)
    eventual, strong = (make_client(servers[q].url, api_key=READER_KEY, max_retries=0).namespace(name) for q in ("query1", "query2"))

    def contents(ns) -> dict:
        level = "eventual" if ns is eventual else "strong"
        rows = fetch_all(ns, include_attributes=["v"], consistency={"level": level})
        return {i: r["v"] for i, r in rows.items()}

    def absent(ns) -> bool:
        try:
            contents(ns)
        except turbopuffer.NotFoundError:
            return True
        return False

    def indexed() -> bool:
        return writer.metadata().index.status == "up-to-date"

    def after_poll(since: float) -> None:
        time.sleep(max(0.0, since + poll - time.monotonic()))

    first = {i: "first" for i in range(0, 300)}
    writer.write(upsert_rows=[{"id": i, "v": v, "vector": [float(i), 1.0]} for i, v in first.items()],
                 distance_metric="euclidean_squared")
    wait_until(indexed, timeout=120, interval=0.2, what="the first incarnation indexed")
    at = time.monotonic()
    assert contents(strong) == first
    after_poll(at)
    assert contents(eventual) == first

    writer.delete_all()
    at = time.monotonic()
    assert absent(strong)
    after_poll(at)
    assert absent(eventual)

    second = {i: "second" for i in range(200, 400)}
    writer.write(upsert_rows=[{"id": i, "v": v, "vector": [1.0, float(i)]} for i, v in second.items()],
                 distance_metric="euclidean_squared")
    at = time.monotonic()
    assert contents(strong) == second
    after_poll(at)
    assert contents(eventual) == second

    wait_until(indexed, timeout=120, interval=0.2, what="the second incarnation indexed")
    at = time.monotonic()
    assert contents(strong) == second
    after_poll(at)
    assert contents(eventual) == second


def test_writer_query_nodes_and_workers_share_one_bucket(cluster):
    moto, servers, workers = cluster
    writer, query_nodes = servers["writer"], [servers["query1"], servers["query2"]]
    started = time.monotonic()

    # The query nodes hold no writer key: writes go to the writer node.
    with pytest.raises(turbopuffer.PermissionDeniedError):
        make_client(query_nodes[0].url, api_key=READER_KEY, max_retries=0).namespace(NS).write(upsert_rows=[doc(0)])

    checkers = [QueryNodeChecker(q) for q in query_nodes]
    batches = list(range((DOCS + BATCH - 1) // BATCH))
    own = [batches[t::CLIENTS] for t in range(CLIENTS)]
    acked: set[int] = set()
    failed: dict[int, str] = {}
    acked_lock = threading.Lock()
    poll = POLL_MS / 1000

    def write_client(t: int) -> None:
        ns = make_client(writer.url, api_key=WRITER_KEY).namespace(NS)
        for k, b in enumerate(own[t]):
            write = Write(b, own[t][k - 1] if k else None)
            try:
                ns.write(**write.request(), distance_metric="euclidean_squared",
                         schema={"text": {"type": "string", "full_text_search": True}})
            except Exception as e:  # noqa: BLE001 - recorded; the writer node is never killed
                with acked_lock:
                    failed[b] = repr(e)
                continue
            at = time.monotonic()
            with acked_lock:
                acked.add(b)
            for checker in checkers:
                checker.schedule(Check(at + poll, write, strong=False))
            # Strong reads refresh a node's copy, which would make its eventual reads fresher
            # than the poll alone: only the second query node gets them.
            if b % 2 == 0:
                checkers[1].schedule(Check(at, write, strong=True))

    def chaos() -> list[str]:
        """SIGKILL a worker, then a query node, midway; start each again."""
        events = []

        def wait_share(share: float) -> None:
            while len(acked) + len(failed) < share * len(batches) and not writing_done.is_set():
                time.sleep(0.01)

        wait_share(KILL_WORKER_AT)
        workers[0].kill()
        events.append(f"worker 1 killed at {len(acked)} batches")
        workers[0].start()
        wait_share(KILL_QUERY_NODE_AT)
        events.append(f"query node 2 killed at {len(acked)} batches")
        checkers[1].restart_node()
        events.append(f"query node 2 back at {len(acked)} batches")
        return events

    writing_done = threading.Event()
    try:
        with ThreadPoolExecutor(CLIENTS + 1) as pool:
            chaos_run = pool.submit(chaos)
            try:
                for c in [pool.submit(write_client, t) for t in range(CLIENTS)]:
                    c.result()
            finally:
                writing_done.set()
            events = chaos_run.result(timeout=120)
        written = time.monotonic()
    finally:
        for checker in checkers:
            checker.close()  # runs the checks still due
    checked = time.monotonic()

    assert not failed, f"{len(failed)} writes to the writer node failed, e.g. {list(failed.items())[:3]}"
    assert acked == set(batches)
    for q, checker in zip(query_nodes, checkers):
        assert not checker.violations, (f"{q.url}: {len(checker.violations)} visibility violations:\n  "
                                        + "\n  ".join(checker.violations[:20]))
        assert checker.done >= len(batches), f"{q.url}: only {checker.done} checks ran"

    # The workers index and compact: metadata reaches up-to-date on every node.
    def up_to_date(srv: LagoonServer) -> bool:
        meta = make_client(srv.url, api_key=READER_KEY).namespace(NS).metadata()
        return meta.index.status == "up-to-date"

    for srv in (writer, *query_nodes):
        wait_until(lambda: up_to_date(srv), timeout=300, interval=0.5, what=f"index up-to-date on {srv.url}")
    indexed = time.monotonic()
    assert all(w.alive() for w in workers), "the workers keep running"

    # Compaction follows the last flush; wait for it to settle, then read every version.
    wait_until(lambda: compacted(moto), timeout=300, interval=0.5, what=f"fewer than {FAN_IN} segments and no tail")
    versions = [read_manifest(moto, key) for key in manifest_keys(moto)]
    newest = versions[-1]
    keys = {k[len(PREFIX):] for k in moto.keys(BUCKET, f"{PREFIX}ns/{NS}/")}  # manifests name keys below the prefix
    segments = newest.get("segments") or []
    assert newest["wal"] == [] and segments, f"version {newest['version']} still has a tail or no segments"
    for s in segments:
        assert s["key"] in keys and (s.get("deletes") is None or s["deletes"] in keys), f"{s} is missing from the bucket"
    want = final_state(own)
    assert sum(s["rows"] - s.get("deleted_rows", 0) for s in segments) == len(want)
    assert merges(versions), f"no compaction among {len(versions)} versions: " + \
        str([[(s["min_seq"], s["max_seq"]) for s in v.get("segments") or []] for v in versions[-5:]])

    # Every node answers with exactly the acknowledged documents, from segments now.
    word_hits = sorted(i for i in want if "w13" in doc(i)["text"].split())
    for srv in (writer, *query_nodes):
        ns = make_client(srv.url, api_key=READER_KEY).namespace(NS)
        rows = fetch_all(ns, include_attributes=["n", "text"], page=5000)
        assert sorted(rows) == sorted(want), f"{srv.url}: {len(rows)} documents, want {len(want)}"
        wrong = [i for i, r in rows.items() if r["n"] != want[i] or r["text"] != doc(i)["text"]]
        assert not wrong, f"{srv.url}: attributes differ for ids {wrong[:5]}"
        bm25 = ns.query(rank_by=("text", "BM25", "w13"), top_k=1000)
        assert sorted(ids_of(bm25)) == word_hits, f"{srv.url}: BM25 matches differ"

    late = sorted(x for c in checkers for x in c.late)
    timing = (f"write {written - started:.1f}s, drain checks {checked - written:.1f}s, "
              f"index {indexed - checked:.1f}s, verify {time.monotonic() - indexed:.1f}s; "
              f"checks started after due: median {late[len(late) // 2]:.2f}s, p90 {late[len(late) * 9 // 10]:.2f}s; "
              f"mean check {sum(c.query_seconds for c in checkers) / sum(c.done for c in checkers):.3f}s; retried {checkers[1].retried}; {events}")
    print(timing)
