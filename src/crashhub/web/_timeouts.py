"""Read timeouts for ``crashhub serve``: a client that stops sending mid-request is disconnected.

uvicorn closes an idle keep-alive connection, but a connection that has sent part of its request
line or headers (slowloris), or stops in the middle of a body, is kept open for as long as the client
likes, each holding a socket and, for a body, a request handler.  This HTTP protocol is uvicorn's
h11 one with two timers: the request's headers must be complete within ``header_timeout`` seconds of
the connection (or of the previous response), and while a body is read, no more than
``body_timeout`` seconds may pass without a byte of it.  Either expired: the connection is closed
(the handler sees a disconnect and stores nothing half-way).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("crashhub.web")


class TimedH11Protocol(H11Protocol):
    header_timeout = 30.0
    body_timeout = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._progress()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm(self.header_timeout, "headers")  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _progress(self) -> None:
        state = self.conn.their_state
        if state is h11.IDLE:
            return  # headers still incomplete: their timer runs on from the connection's start
        if state is h11.SEND_BODY:
            self._arm(self.body_timeout, "body")  # restarted by every piece of the body
        else:
            self._disarm()  # the request is read; a slow response is not the client's doing

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        if seconds > 0:
            self._read_timer = self.loop.call_later(seconds, self._expire, what, seconds)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _expire(self, what: str, seconds: float) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        peer = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.info("closing the connection of %s: request %s not received within %g s", peer, what, seconds)
        self.transport.close()


def protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with these timeouts."""
    attrs: dict[str, Any] = {"header_timeout": float(header_timeout), "body_timeout": float(body_timeout)}
    return type("CrashhubH11Protocol", (TimedH11Protocol,), attrs)
