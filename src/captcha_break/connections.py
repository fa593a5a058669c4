"""The servers' connections: a port checked before listening, and uvicorn's h11 protocol with
a deadline for a request's headers."""

from __future__ import annotations

import functools
import json
import os
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

ENV_CONFIG = "CAPTCHA_BREAK_SERVE"  # the service's config, as JSON, for uvicorn's worker processes


@functools.cache
def _header_timeout() -> float:
    """Read once per process, not on every connection."""
    return float(json.loads(os.environ.get(ENV_CONFIG, "{}")).get("header_timeout", 10.0))


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that do not send their headers in time.

    uvicorn only times out idle keep-alive connections; a client that opens a connection
    and sends half a request line would hold it (and its memory) for ever. A module-level
    class, so that uvicorn can hand it to worker processes; the timeout comes with the
    rest of the config in the environment.
    """

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._timeout = _header_timeout()
        self._arm()

    def _arm(self) -> None:
        self._waiting_cycle = self.cycle
        self._header_timer = self.loop.call_later(self._timeout, self._check_headers)

    def _check_headers(self) -> None:
        # Still no new request begun, and not in the middle of one: too slow.
        if self.cycle is self._waiting_cycle and self.conn.their_state is h11.IDLE:
            self.transport.close()
        elif not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc) -> None:
        self._header_timer.cancel()
        super().connection_lost(exc)


def check_port(host: str, port: int) -> None:
    """Refuse a port that is out of range or taken, in one line (uvicorn would say it late)."""
    if not 0 < port < 65536:
        raise ValueError(f"--port {port}: a port is a number from 1 to 65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closing port is free
        try:
            probe.bind((host, port))
        except OSError as err:
            raise ValueError(f"cannot listen on {host}:{port} ({err.strerror}): pass another --port") from None
