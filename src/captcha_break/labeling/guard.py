"""Who may reach the labeling server (`access`), and what every request to it passes first:
its Host header, its token (off loopback) and its body size."""

from __future__ import annotations

import hmac
import sys

from fastapi import HTTPException
from fastapi.responses import JSONResponse

# A request body the page never sends more of: an answer is a file name and a label.
MAX_BODY = 64 * 1024


class Guard:
    """ASGI middleware: the Host header checked, the token required where one is set, and
    bodies over MAX_BODY refused before they are read whole."""

    def __init__(self, app, token: str | None, hosts: tuple[str, ...]):
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._problem(scope, headers)
        if problem:
            status, detail = problem
            return await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
        if self.token and f"token={self.token}" in scope.get("query_string", b"").decode("latin-1"):

            async def send_cookie(message):  # the page's own requests then carry the token
                if message["type"] == "http.response.start":
                    cookie = f"label_token={self.token}; HttpOnly; SameSite=Strict; Path=/"
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
                await send(message)

            return await self.app(scope, _limited(receive), send_cookie)
        return await self.app(scope, _limited(receive), send)

    def _problem(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        if self.hosts and headers.get("host", "") not in self.hosts:
            return 400, "unexpected Host header: open the address the label command printed"
        if self.token:
            given = {headers.get("x-label-token", "")}
            given |= {part.split("=", 1)[1] for part in headers.get("cookie", "").split("; ") if part.startswith("label_token=")}
            given |= {
                part[6:] for part in scope.get("query_string", b"").decode("latin-1").split("&") if part.startswith("token=")
            }
            if not any(hmac.compare_digest(g.encode(), self.token.encode()) for g in given if g):
                return 401, "this labeling server needs its token: open the address with ?token= that it printed"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return 413, f"a body of {declared} bytes: answers are under {MAX_BODY} bytes"
        return None


def _limited(receive):
    """`receive` refusing a body that grows past MAX_BODY (a chunked one declares nothing)."""
    seen = 0

    async def limited():
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > MAX_BODY:
            raise HTTPException(413, f"answers are under {MAX_BODY} bytes")
        return message

    return limited


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def access(host: str, port: int) -> tuple[str | None, tuple[str, ...], str]:
    """(token, Host headers answered, the address to open) for the labeling server: on
    loopback no token but only loopback names (no DNS rebinding); elsewhere a token, as
    Jupyter prints one, and a warning that the page is reachable from other machines."""
    import secrets

    if host in LOOPBACK:
        names = ("127.0.0.1", "localhost", "[::1]")
        return None, tuple(f"{name}:{port}" for name in names), f"http://{host if ':' not in host else '[::1]'}:{port}/"
    token = secrets.token_urlsafe(16)
    print(f"warning: --host {host} makes the page reachable from other machines; it needs the token below", file=sys.stderr)
    return token, (), f"http://{host}:{port}/?token={token}"
