"""The netconsole receiver: UDP datagrams from the fleet's kernels, crashes cut out and ingested.

Runs in ``crashhub serve``'s event loop when ``netconsole_listen`` is set.  One stream per sender
address (ip, port) (``crashhub.channels.Stream``: records in order, gaps, the crash cutter).  A
sender is taken when its IP is the address a host's report last came from (the host inventory:
that host), or lies in ``netconsole_allow`` (named by its IP); any other datagram is dropped and
counted.  The text is no more than "this arrived from that address": UDP senders are not
authenticated, so the crash is ingested as channel ``netconsole``, source unverified.

The event loop only parses and keeps lines; a cut is judged (a full triage) and ingested in a
worker thread, at most ``MAX_INFLIGHT`` at a time, so a burst of crashes never stalls the socket.
"""


# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashhub.channels import Cut, Stream, StreamLimits, judge
from crashhub.errors import ConfigError, CrashhubError
from crashhub.ingest._arrival import Arrival, Pipeline
from crashhub.ingest._peers import in_networks, networks, peer_ip, split_listen

if TYPE_CHECKING:
    from crashhub.config import Settings

log = logging.getLogger("crashhub.netconsole")

MAX_INFLIGHT = 64  # cuts waiting for or in the worker; past it a cut is dropped and counted
REFRESH_EVERY = 60.0  # seconds between two reads of the host inventory's addresses
REFRESH_SOON = 5.0  # an unknown sender asks for a read this long after the last one at the earliest
LOG_EVERY = 300.0  # seconds between two counter lines in the hub's log (when anything changed)
RCVBUF = 8 << 20  # asked of the kernel (capped by net.core.rmem_max): a burst waits in the socket
# Datagrams read per wake-up of the event loop: asyncio's datagram transport reads one per poll,
# and the poll, not the datagram, was most of the receiver's time.
DRAIN = 512
BURST_SECONDS = 10.0  # netconsole_rate's bucket holds this many seconds' worth


@dataclass(slots=True)
class Counters:
    """What the receiver did since it started (``GET /api/v1/netconsole``, ``/metrics``)."""

    datagrams: int = 0  # every datagram received
    lines: int = 0  # log lines kept from them
    dropped_unknown: int = 0  # from an address no host report and no netconsole_allow network names
    rate_limited: int = 0  # over the sender's netconsole_rate
    refused: int = 0  # broke the format (a bad ncfrag, an oversized datagram)
    duplicates: int = 0  # a sequence number seen already
    gaps: int = 0  # runs of missing sequence numbers
    missing: int = 0  # messages those runs miss
    cuts: int = 0  # texts judged by triage (a report began in the stream)
    crashes: int = 0  # cuts with a fatal report: crashes cut and handed to ingest
    ingest_failed: int = 0  # of those, refused by ingest (logged)
    overloaded: int = 0  # cuts dropped: MAX_INFLIGHT waiting already
    senders_evicted: int = 0  # forgotten for netconsole_max_senders


@dataclass(slots=True)
class _Sender:
    stream: Stream
    host: str
    tokens: float
    stamp: float


class NetconsoleReceiver:
    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        *,
        addresses: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.allow = networks(settings.netconsole_allow)
        self.limits = StreamLimits(
            max_bytes=settings.netconsole_sender_bytes, quiet=settings.netconsole_quiet
        )
        self.max_senders = max(1, settings.netconsole_max_senders)
        self.rate = float(max(0, settings.netconsole_rate))
        self.burst = max(1.0, self.rate * BURST_SECONDS)
        self._read_addresses = addresses or pipeline.hub.store.hosts.host_addresses
        self._addresses: dict[str, str] = {}
        self._refreshed = 0.0
        self._refreshing = False
        self.counters = Counters()
        self._senders: OrderedDict[tuple[str, int], _Sender] = OrderedDict()
        self._waiting: set[tuple[str, int]] = set()
        self._unknown: dict[str, float] = {}  # ip -> when it was last refused (skips the lookups)
        self._gone = Counters()  # stream counters of evicted senders
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crashhub-netconsole")
        self._inflight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.address: tuple[str, int] | None = None  # where it listens (the port when 0 was asked)

    # ------------------------------------------------------------------ life
    @staticmethod
    def describe(settings: Settings) -> str:
        """What the settings ask for, in words; ConfigError naming the setting when they are wrong."""
        host, port = split_listen(settings.netconsole_listen)
        nets = networks(settings.netconsole_allow)
        allow = ", ".join(str(n) for n in nets) or "no network"
        return f"udp {host}:{port}, senders: host-report addresses and {allow}"

    async def start(self) -> None:
        host, port = split_listen(self.settings.netconsole_listen)
        self._loop = asyncio.get_running_loop()
        await self.refresh()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            raise ConfigError(f"cannot listen on udp {host}:{port}: {e.strerror or e}",
                              "netconsole_listen") from None
        self._sock = sock
        self.address = sock.getsockname()[:2]
        self._loop.add_reader(sock.fileno(), self._drain)
        self._tasks.append(self._loop.create_task(self._ticker()))
        log.info("netconsole: listening on udp %s:%s (allow %s; %d host addresses known)",
                 host, self.address[1] if self.address else port,
                 self.settings.netconsole_allow or "none", len(self._addresses))

    async def close(self) -> None:
        """Stop listening; every sender's pending crash is judged and ingested before this returns."""
        for t in self._tasks:
            t.cancel()
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        now = time.time()
        for key in list(self._senders):
            self._forget(key, now)
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)
        log.info("netconsole: stopped: %s", self.counters_line())

    async def refresh(self) -> None:
        """Read the host inventory's addresses again (in a thread: it is a database query)."""
        if self._refreshing:
            return
        self._refreshing = True
        try:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(None, self._read_addresses)
        except CrashhubError as e:
            log.warning("netconsole: host addresses not read: %s", e)
            return
        finally:
            self._refreshing = False
            self._refreshed = time.monotonic()
        self._addresses = found
        self._unknown.clear()
        for (ip, _port), s in self._senders.items():  # a host's address moved: its senders follow
            s.host = self._host_of(ip) or s.host

    def learn(self, address: str, host: str) -> None:
        """A host's report just came from ``address`` (on this node): take its senders from now on,
        without waiting for the next read of the inventory (which other nodes wait for)."""
        for a in [a for a, h in self._addresses.items() if h == host and a != address]:
            del self._addresses[a]  # the host moved: its old address names it no more
        old = self._addresses.get(address)
        if old is not None and old != host:
            del self._addresses[address]  # two hosts behind one address: it names neither
        else:
            self._addresses[address] = host
        self._unknown.clear()  # keyed by the socket's spelling of the address: start afresh

    # ------------------------------------------------------------------ datagrams
    def _drain(self) -> None:
        """The socket is readable: read what waits (at most DRAIN datagrams, then the loop's turn)."""
        if self._sock is None:
            return
        recv = self._sock.recvfrom
        now = time.time()  # one clock read a wake-up: the datagrams of one read arrived together
        take = self.datagram_received
        for _ in range(DRAIN):
            try:
                data, addr = recv(2048)  # netconsole sends at most 1000 bytes; longer is refused
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.debug("netconsole: socket error: %s", e)
                return
            take(data, addr, now)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int], now: float | None = None) -> None:
        c = self.counters
        c.datagrams += 1
        key: tuple[str, int] = addr[:2]
        if now is None:
            now = time.time()
        s = self._senders.get(key)
        if s is None:
            s = self._admit(key, now)
            if s is None:
                c.dropped_unknown += 1
                return
        else:
            self._senders.move_to_end(key)
        if self.rate:
            s.tokens = min(self.burst, s.tokens + (now - s.stamp) * self.rate)
            s.stamp = now
            if s.tokens < 1.0:
                c.rate_limited += 1
                return
            s.tokens -= 1.0
        cuts = s.stream.feed(data, now)
        if s.stream.waiting:
            self._waiting.add(key)
        for cut in cuts:
            self._judge(s, cut)

    def _host_of(self, ip: str) -> str | None:
        host = self._addresses.get(ip)
        if host is None and in_networks(ip, self.allow):
            host = ip
        return host

    def _admit(self, key: tuple[str, int], now: float) -> _Sender | None:
        seen = self._unknown.get(key[0])
        if seen is not None and now - seen < REFRESH_SOON:
            return None  # refused a moment ago: a flood of strangers costs one lookup each 5 s
        ip = peer_ip(key[0]) or key[0]
        host = self._host_of(ip)
        if host is None:
            if len(self._unknown) > 4 * self.max_senders:
                self._unknown.clear()
            self._unknown[key[0]] = now
            if time.monotonic() - self._refreshed > REFRESH_SOON and self._loop is not None:
                # A host that reported a moment ago is known after the next read.
                self._tasks.append(self._loop.create_task(self.refresh()))
                self._tasks = [t for t in self._tasks if not t.done()]
            return None
        while len(self._senders) >= self.max_senders:
            self._forget(next(iter(self._senders)), now)
            self.counters.senders_evicted += 1
        sender = f"[{ip}]:{key[1]}" if ":" in ip else f"{ip}:{key[1]}"
        s = _Sender(Stream(sender, self.limits), host, self.burst, now)
        self._senders[key] = s
        return s

    def _forget(self, key: tuple[str, int], now: float) -> None:
        s = self._senders.pop(key)
        self._waiting.discard(key)
        for cut in s.stream.close(now):
            self._judge(s, cut)
        st = s.stream.stats
        g = self._gone
        g.lines += st.lines
        g.refused += st.refused
        g.duplicates += st.duplicates
        g.gaps += st.gaps
        g.missing += st.missing

    # ------------------------------------------------------------------ judging, off the loop
    def _judge(self, s: _Sender, cut: Cut) -> None:
        if self._inflight >= MAX_INFLIGHT or self._loop is None:
            self.counters.overloaded += 1
            log.warning("netconsole: %s: a cut was dropped, %d wait already", cut.crash.sender,
                        self._inflight)
            return
        self.counters.cuts += 1
        self._inflight += 1
        fut = self._loop.run_in_executor(self._pool, self._work, s.host, cut)
        stream = s.stream

        def done(f: asyncio.Future[bool]) -> None:
            self._inflight -= 1
            fatal = not f.cancelled() and f.exception() is None and f.result()
            stream.settle(cut, bool(fatal))

        fut.add_done_callback(done)

    def _work(self, host: str, cut: Cut) -> bool:
        """Triage the cut; a fatal report makes it a crash, ingested.  In the worker thread."""
        crash = judge(cut)
        if crash is None:
            return False
        self.counters.crashes += 1
        a = Arrival(
            log=crash.text.encode("utf-8"),
            log_name="netconsole.log",
            host=host,
            host_source="netconsole",
            source="netconsole",
            channel="netconsole",
            strict_dump=False,
            notes=crash.notes(),
        )
        try:
            self.pipeline.ingest(a)
        except CrashhubError as e:
            self.counters.ingest_failed += 1
            log.warning("netconsole: the crash cut from %s (host %s) was not ingested: %s",
                        crash.sender, host, e)
        except Exception:
            self.counters.ingest_failed += 1
            log.exception("netconsole: ingest of the crash cut from %s failed", crash.sender)
        return True

    # ------------------------------------------------------------------ time
    async def _ticker(self) -> None:
        step = max(0.05, min(1.0, self.settings.netconsole_quiet / 4))
        last_log, logged = time.monotonic(), ""
        while True:
            await asyncio.sleep(step)
            now = time.time()
            for key in list(self._waiting):
                s = self._senders.get(key)
                if s is None or not s.stream.waiting:
                    self._waiting.discard(key)
                    continue
                for cut in s.stream.tick(now):
                    self._judge(s, cut)
            mono = time.monotonic()
            if mono - self._refreshed > REFRESH_EVERY:
                await self.refresh()
            if mono - last_log > LOG_EVERY:
                line = self.counters_line()
                if line != logged:
                    log.info("netconsole: %s", line)
                last_log, logged = mono, line

    # ------------------------------------------------------------------ what an admin sees
    def snapshot(self) -> dict[str, int]:
        """The counters, the live senders' stream counters added in."""
        out = dataclasses.asdict(self.counters)
        g = self._gone
        totals = {"lines": g.lines, "refused": g.refused, "duplicates": g.duplicates, "gaps": g.gaps,
                  "missing": g.missing}
        for s in self._senders.values():
            st = s.stream.stats
            totals["lines"] += st.lines
            totals["refused"] += st.refused
            totals["duplicates"] += st.duplicates
            totals["gaps"] += st.gaps
            totals["missing"] += st.missing
        out.update(totals)
        out["senders"] = len(self._senders)
        out["kept_bytes"] = sum(s.stream.kept_bytes for s in self._senders.values())
        return out

    def senders(self, limit: int = 100) -> list[dict[str, str | int | bool | None]]:
        """The senders heard from most recently, newest first."""
        out: list[dict[str, str | int | bool | None]] = []
        for s in reversed(self._senders.values()):
            if len(out) >= limit:
                break
            st = s.stream.stats
            out.append({"sender": s.stream.sender, "host": s.host, "extended": s.stream.extended,
                        "release": s.stream.release, "datagrams": st.datagrams, "lines": st.lines,
                        "gaps": st.gaps, "missing": st.missing, "kept_bytes": s.stream.kept_bytes})
        return out

    def counters_line(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.snapshot().items())
