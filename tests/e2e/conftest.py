"""End-to-end fixtures: run the real `lagoon serve` binary and drive it with the official
turbopuffer Python client (pip turbopuffer==3.1.0).

Environment knobs:
  LAGOON_BIN              path of the server binary (default <repo>/.build/debug/lagoon)
  LAGOON_E2E_URL          use an already running server instead of starting one (crash tests
                          still start their own)
  LAGOON_E2E_API_KEY      API key the client sends (default "test")
  LAGOON_E2E_READY_TIMEOUT  seconds to wait for GET /readyz (default 30)
  LAGOON_E2E_BACKEND      "fs" (default): every server stores into its root folder;
                          "s3": every server stores into a moto_server bucket on loopback (one per
                          session), under a key prefix derived from its root folder, so a restart
                          on the same root finds its data and separate roots stay separate
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

# The client refuses a base_url without "{region}" when a region is set; make sure none is.
os.environ.pop("TURBOPUFFER_REGION", None)
os.environ.pop("TURBOPUFFER_BASE_URL", None)
os.environ.pop("TURBOPUFFER_CUSTOM_HEADERS", None)

import turbopuffer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / ".build" / "debug" / "lagoon"
API_KEY = os.environ.get("LAGOON_E2E_API_KEY", "test")
READY_TIMEOUT = float(os.environ.get("LAGOON_E2E_READY_TIMEOUT", "30"))
BACKEND = os.environ.get("LAGOON_E2E_BACKEND", "fs")
if BACKEND not in ("fs", "s3"):
    raise RuntimeError(f'LAGOON_E2E_BACKEND must be "fs" or "s3", not {BACKEND!r}')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lagoon_bin() -> Path:
    p = Path(os.environ.get("LAGOON_BIN", str(DEFAULT_BIN))).resolve()
    if not p.exists():
        pytest.fail(
            f"lagoon binary not found at {p}: build it with `swift build` in {REPO} "
            "or point LAGOON_BIN at it",
            pytrace=False,
        )
    return p


# ----------------------------------------------------------------------------------------------
# S3: moto_server on loopback


class MotoS3:
    """A moto_server (pip moto[server], an in-memory S3) on a free loopback port.

    It serves one request at a time: moto checks a conditional PUT and then stores it in two
    steps, where S3 does both atomically; a threaded moto would let two concurrent create-only
    commits both succeed (the same launcher as Sources/LagoonTestSupport/MotoServer.swift).
    A watchdog exits it when the test process dies without stopping it."""

    CREDENTIALS = {"AWS_ACCESS_KEY_ID": "e2e-test", "AWS_SECRET_ACCESS_KEY": "e2e-secret", "AWS_SESSION_TOKEN": ""}
    SCRIPT = """
import os, sys, threading, time
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
parent = os.getppid()
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))
server = make_server("127.0.0.1", 0, serialized, threaded=True)
print("PORT", server.server_port, flush=True)
os.dup2(2, 1)  # the rest of stdout to the log: nobody reads the pipe any more
def watchdog():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watchdog, daemon=True).start()
server.serve_forever()
"""

    def __init__(self, log_path: Path):
        if shutil.which("moto_server") is None:
            pytest.fail("moto_server not found: pip install 'moto[server]' (tests/e2e/requirements.txt)", pytrace=False)
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-c", self.SCRIPT], stdout=subprocess.PIPE, stderr=self._log)
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "PORT":
            self.stop()
            pytest.fail(f"moto_server did not start (log: {log_path})", pytrace=False)
        self.endpoint = f"http://127.0.0.1:{line[1]}"
        import boto3

        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id=self.CREDENTIALS["AWS_ACCESS_KEY_ID"],
                               aws_secret_access_key=self.CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def create_bucket(self, bucket: str) -> str:
        self.s3.create_bucket(Bucket=bucket)
        return bucket

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def env(self, bucket: str, prefix: str, cache_dir: Path) -> dict[str, str]:
        """The node settings (`[storage]`, `[cache]`, AWS credentials) of one node on this bucket."""
        return {
            "LAGOON_STORAGE__BACKEND": "s3",
            "LAGOON_STORAGE__BUCKET": bucket,
            "LAGOON_STORAGE__PREFIX": prefix,
            "LAGOON_STORAGE__ENDPOINT": self.endpoint,
            "LAGOON_CACHE__DIR": str(cache_dir),
            **self.CREDENTIALS,
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


_session_moto: MotoS3 | None = None
_session_moto_lock = threading.Lock()
SESSION_BUCKET = "lagoon-e2e-suite"


def session_moto() -> MotoS3:
    """The moto_server of this test process (LAGOON_E2E_BACKEND=s3), started on first use with
    the suite's bucket, stopped at exit."""
    global _session_moto
    with _session_moto_lock:
        if _session_moto is None:
            log = Path(os.environ.get("TMPDIR", "/tmp")) / f"lagoon-e2e-moto-{os.getpid()}.log"
            _session_moto = MotoS3(log)
            _session_moto.create_bucket(SESSION_BUCKET)
            atexit.register(_session_moto.stop)
        return _session_moto


def s3_prefix(root: Path) -> str:
    """The key prefix standing in for the storage folder `root` on S3."""
    return "e2e-" + hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16] + "/"


def backend_env(root: Path, cache_dir: Path) -> dict[str, str]:
    """Storage settings of a node over `root` on the selected backend: the folder itself, or
    (s3) the suite's bucket under a prefix named after the folder."""
    if BACKEND == "fs":
        return {"LAGOON_STORAGE__ROOT": str(root)}
    return session_moto().env(SESSION_BUCKET, s3_prefix(root), cache_dir)


def stored_keys(root: Path, under: str) -> list[str]:
    """Keys (relative to the store) of the objects nodes over `root` stored below `under`,
    e.g. "ns/x/segments/", on the selected backend."""
    if BACKEND == "fs":
        folder = Path(root) / under
        return sorted(str(p.relative_to(root)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
    prefix = s3_prefix(root)
    return [k[len(prefix):] for k in session_moto().keys(SESSION_BUCKET, prefix + under)]


def signal_and_reap(proc: subprocess.Popen, sig: int) -> None:
    """Signals a process we started (by its pid), SIGKILL if it outlives 15 s, and reaps it."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


class LagoonServer:
    """One `lagoon serve` process over a storage root. Can be killed and restarted on the same root."""

    def __init__(self, root: Path, log_dir: Path, extra_env: dict[str, str] | None = None):
        self.root = Path(root)
        self.log_dir = Path(log_dir)
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0
        self._log = None
        # On S3 the node's disk cache; kept across restarts like a real node's.
        self.cache_dir = self.log_dir / f"cache-{uuid.uuid4().hex[:8]}"

    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_path(self) -> Path:
        return self.log_dir / f"lagoon-{self.starts}.log"

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path().read_text(errors="replace").splitlines()
        except OSError:
            return "<no log>"
        return "\n".join(lines[-n:])

    def start(self, port: int | None = None) -> "LagoonServer":
        binary = lagoon_bin()
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.starts += 1
        listen = f"127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(backend_env(self.root, self.cache_dir))
        env["LAGOON_SERVER__LISTEN"] = listen
        env.update(self.extra_env)
        self._log = open(self.log_path(), "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--root", str(self.root), "--listen", listen],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.root.parent),
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(
                    f"lagoon serve exited with code {self.proc.returncode} before /readyz answered 200.\n"
                    f"--- log tail ({self.log_path()}) ---\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                r = requests.get(self.url + "/readyz", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)
        self.kill()
        pytest.fail(
            f"lagoon serve did not answer 200 on /readyz within {timeout}s (last: {last}).\n"
            f"--- log tail ({self.log_path()}) ---\n{self.log_tail()}",
            pytrace=False,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the process we started (by its pid) and reap it."""
        if self.proc is None:
            return
        signal_and_reap(self.proc, sig)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Graceful stop (SIGTERM), falling back to SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def restart(self, same_port: bool = False) -> "LagoonServer":
        port = self.port if same_port else None
        self.kill()
        return self.start(port)


class LagoonWorker:
    """One `lagoon worker` process (an indexing node, no HTTP) with the given environment on top
    of the test's; can be killed (by pid) and started again."""

    def __init__(self, log_dir: Path, extra_env: dict[str, str], discover_secs: int = 1):
        self.log_dir = Path(log_dir)
        self.extra_env = dict(extra_env)
        self.discover_secs = discover_secs
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._log = None

    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.starts}.log"

    def start(self) -> "LagoonWorker":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self._log = open(self.log_path(), "wb")
        self.proc = subprocess.Popen([str(lagoon_bin()), "worker", "--discover-secs", str(self.discover_secs)],
                                     env={**os.environ, **self.extra_env}, cwd=str(self.log_dir),
                                     stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            signal_and_reap(self.proc, sig)
        if self._log is not None:
            self._log.close()
            self._log = None


def make_client(url: str, **kw) -> turbopuffer.Turbopuffer:
    kw.setdefault("api_key", API_KEY)
    kw.setdefault("max_retries", 2)
    kw.setdefault("timeout", 60)
    return turbopuffer.Turbopuffer(base_url=url, **kw)


# ----------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def lagoon_server(tmp_path_factory):
    """Session-wide server. Yields the LagoonServer (or None when LAGOON_E2E_URL is set)."""
    if os.environ.get("LAGOON_E2E_URL"):
        yield None
        return
    base = tmp_path_factory.mktemp("lagoon-session")
    srv = LagoonServer(base / "root", base / "logs")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def base_url(lagoon_server) -> str:
    if lagoon_server is None:
        return os.environ["LAGOON_E2E_URL"].rstrip("/")
    return lagoon_server.url


@pytest.fixture(scope="session")
def client(base_url) -> turbopuffer.Turbopuffer:
    """The official client, a couple of retries (429 backpressure / transient 5xx)."""
    return make_client(base_url)


@pytest.fixture(scope="session")
def client_noretry(base_url) -> turbopuffer.Turbopuffer:
    """The official client with retries disabled: required to observe 409/429/5xx."""
    return make_client(base_url, max_retries=0)


@pytest.fixture
def ns_name(request) -> str:
    """A fresh namespace name for this test (names match [A-Za-z0-9-_.]{1,128})."""
    return unique_ns(request.node.name)


def unique_ns(hint: str = "t") -> str:
    clean = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in hint)[:60]
    return f"e2e-{clean}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ns(client, ns_name):
    """A namespace handle on a fresh (not yet created) namespace."""
    return client.namespace(ns_name)


@pytest.fixture
def fresh_server(tmp_path):
    """A server of this test's own over its own root (for crash / restart tests)."""
    srv = LagoonServer(tmp_path / "root", tmp_path / "logs")
    srv.start()
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def server_factory(tmp_path):
    """Start extra servers with custom env (all killed at the end of the test)."""
    started: list[LagoonServer] = []

    def factory(name: str = "extra", extra_env: dict[str, str] | None = None) -> LagoonServer:
        srv = LagoonServer(tmp_path / name / "root", tmp_path / name / "logs", extra_env)
        started.append(srv)
        return srv.start()

    yield factory
    for srv in started:
        srv.kill()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On failure, append the tail of the session server's log to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        srv = getattr(item.session, "_lagoon_session_server", None)
        if srv is not None:
            rep.sections.append(("lagoon server log (tail)", srv.log_tail(40)))


@pytest.fixture(scope="session", autouse=True)
def _remember_server(request, lagoon_server):
    request.session._lagoon_session_server = lagoon_server
    yield
