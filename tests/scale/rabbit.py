"""A private RabbitMQ node on loopback for the Celery tests on an AMQP broker (issue 9).

Debian's ``rabbitmq-server`` package (3.10.8 in bookworm) is run straight from
``/usr/lib/rabbitmq/bin/rabbitmq-server``: the ``/usr/sbin`` wrapper ``su``s to the ``rabbitmq`` user and
writes to ``/var/lib/rabbitmq``, whereas this node runs as the test's own user (root in CI, anyone
else on a desk) with everything of its own under a temp directory:

- its node name ``crashhub-test-<port>@localhost``, AMQP port, distribution port, and an ``epmd`` of its
  own on a private port, started here as a child (``erl`` would otherwise start a daemonised one that
  outlives the test, or share the system's on 4369 with a node the package may have started);
- its Mnesia, logs, config, plugin list (none) and ``$HOME`` (where Erlang keeps its cookie), so it
  neither reads nor clashes with the package's own node, which may be running on 5672.

``guest``/``guest`` may log in from loopback only, which is where the tests connect from.

Lacking the package the fixtures skip, unless ``CRASHHUB_REQUIRE_ALL`` is set (``.ci/run`` sets it,
having installed the package): then a broker that cannot start is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from tests.need import missing

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # Debian's layout, without the su wrapper
START_TIMEOUT = 120.0  # a cold start takes ~6 s alone, far more on 2 cores shared with a busy suite


def give_up(reason: str) -> NoReturn:
    missing("RabbitMQ", reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _end(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    # The group may outlive its leader (beam.smp under the start script): take what is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


class RabbitNode:
    """One RabbitMQ node; ``stop()`` + ``start()`` restart it on the same ports with its data kept
    (durable queues and persistent messages survive, as on a real broker's restart)."""

    def __init__(self, server: Path, epmd: str, tmp: Path, conf: str = "", advanced: str = "") -> None:
        self.server, self.epmd_exe, self.tmp = server, epmd, tmp
        self.port, self.dist_port, self.epmd_port = _free_port(), _free_port(), _free_port()
        self.name = f"crashhub-test-{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.proc: subprocess.Popen[bytes] | None = None
        self.epmd: subprocess.Popen[bytes] | None = None
        for d in ("home", "mnesia", "log"):
            (tmp / d).mkdir(parents=True, exist_ok=True)
        # Debian's defaults otherwise (consumer_timeout 30 min among them): the tests see what a
        # deployment on the stock package sees.
        (tmp / "rabbitmq.conf").write_text("loopback_users.guest = true\n" + conf)
        (tmp / "advanced.config").write_text(advanced or "[].\n")
        (tmp / "enabled_plugins").write_text("[].\n")
        (tmp / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's

    def env(self) -> dict[str, str]:
        t = self.tmp
        return {
            **os.environ,
            "HOME": str(t / "home"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(t / "mnesia"),
            "RABBITMQ_LOG_BASE": str(t / "log"),
            "RABBITMQ_LOGS": "-",  # to the captured stdout, read back when a start fails
            "RABBITMQ_CONFIG_FILE": str(t / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(t / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(t / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(t / "enabled_plugins"),
            "RABBITMQ_ENABLED_PLUGINS": "",
        }

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl`` against this node (it finds it through the same environment)."""
        r = subprocess.run(
            [str(self.server.parent / "rabbitmqctl"), *args],
            env=self.env(),
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if r.returncode != 0:
            pytest.fail(f"rabbitmqctl {' '.join(args)}: exit {r.returncode}: {r.stderr[-800:]}")
        return r.stdout

    def vhost_url(self, vhost: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def log_tail(self, n: int = 1500) -> str:
        p = self.tmp / "server.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    def start(self) -> None:
        if self.epmd is None or self.epmd.poll() is not None:
            self.epmd = subprocess.Popen(
                [self.epmd_exe, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        with open(self.tmp / "server.log", "ab") as log:
            # Its own session: SIGTERM to the group reaches the start script, which stops the node
            # cleanly (rabbit_prelaunch's handler); SIGKILL to the group takes beam.smp too.
            self.proc = subprocess.Popen(
                [str(self.server)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env(),
                cwd=self.tmp,
                start_new_session=True,
            )
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                give_up(f"rabbitmq-server exited {self.proc.returncode}: {self.log_tail()}")
            if _listening(self.port):
                return
            time.sleep(0.1)
        self.stop()
        give_up(f"rabbitmq-server did not listen on {self.port} in {START_TIMEOUT:.0f}s: {self.log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        """A clean stop (SIGTERM to the start script, which stops the node), or with ``kill`` a crash
        (SIGKILL to beam.smp and all): durable queues keep their confirmed persistent messages either way."""
        if self.proc is not None:
            if kill and self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            _end(self.proc, 60)
            self.proc = None
        end = time.monotonic() + 30
        while _listening(self.port) and time.monotonic() < end:  # the same port is taken again next
            time.sleep(0.1)

    def close(self) -> None:
        self.stop()
        if self.epmd is not None:
            _end(self.epmd, 5)
            self.epmd = None


def start_node(tmp: Path, conf: str = "", advanced: str = "") -> RabbitNode:
    """A started node; ``conf`` is appended to its rabbitmq.conf, ``advanced`` is its advanced.config."""
    if not SERVER.is_file():
        give_up(f"rabbitmq-server is not installed ({SERVER} missing; Debian package rabbitmq-server)")
    epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
    if not Path(epmd).exists():
        give_up("epmd (Erlang, a dependency of rabbitmq-server) is not installed")
    node = RabbitNode(SERVER, epmd, tmp, conf, advanced)
    try:
        node.start()
    except BaseException:
        node.close()
        raise
    return node


# The fixtures' functions have names of their own so a test module can import them (that is how it
# uses them: conftest.py is shared) without its parameters shadowing the imported names.
@pytest.fixture(scope="session", name="rabbit")
def rabbit_fixture() -> Iterator[RabbitNode]:
    """The session's RabbitMQ node (its ``url`` is ``amqp://guest:guest@127.0.0.1:<port>//``)."""
    tmp = Path(tempfile.mkdtemp(prefix="crashhub-rabbit-"))
    try:
        node = start_node(tmp)
        try:
            yield node
        finally:
            node.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session", name="amqp_url")
def amqp_url_fixture(rabbit: RabbitNode) -> str:
    return rabbit.url


@pytest.fixture(name="amqp_vhost")
def amqp_vhost_fixture(rabbit: RabbitNode, request: pytest.FixtureRequest) -> Iterator[str]:
    """A virtual host of one test's own on the session's node (nothing a previous test left in a queue
    reaches this test's workers); yields its URL, ``amqp://guest:guest@127.0.0.1:<port>/<vhost>``."""
    name = "crashhub-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:60]
    rabbit.ctl("add_vhost", name)
    rabbit.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield rabbit.vhost_url(name)
    finally:
        if rabbit.proc is not None:
            rabbit.ctl("delete_vhost", name)


@pytest.fixture(name="own_rabbit")
def own_rabbit_fixture(tmp_path: Path) -> Iterator[RabbitNode]:
    """A node of one test's own, which the test may stop and start again."""
    node = start_node(tmp_path / "rabbit")
    try:
        yield node
    finally:
        node.close()
