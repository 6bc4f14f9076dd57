"""End-to-end fixtures: run the real `lagoon serve` binary and drive it with the official
turbopuffer Python client (pip turbopuffer==3.1.0).

Environment knobs:
  LAGOON_BIN              path of the server binary (default <repo>/.build/debug/lagoon)
  LAGOON_E2E_URL          use an already running server instead of starting one (crash tests
                          still start their own)
  LAGOON_E2E_API_KEY      API key the client sends (default "test")
  LAGOON_E2E_READY_TIMEOUT  seconds to wait for GET /readyz (default 30)
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
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
        env["LAGOON_STORAGE__ROOT"] = str(self.root)
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
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
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


def make_client(url: str, **kw) -> turbopuffer.Turbopuffer:
    kw.setdefault("max_retries", 2)
    kw.setdefault("timeout", 60)
    return turbopuffer.Turbopuffer(api_key=API_KEY, base_url=url, **kw)


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
