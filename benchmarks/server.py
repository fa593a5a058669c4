"""HTTP service under concurrent load from a second process, on loopback only.

    python benchmarks/server.py [--model default] [--clients 16] [--seconds 10] [--workers 1]
    python benchmarks/server.py --abuse [--seconds 20]

Starts `captcha-break serve` as a subprocess on 127.0.0.1, then this process plays
`--clients` concurrent clients (asyncio + httpx) for a bounded time and request count:
single images to POST /predict, then batches of 16 to POST /predict/batch.

--abuse: the same single-image load with one request in five a bad one (junk, truncated
PNGs, a decompression bomb, JSON nested a thousand deep, an oversized body, an icon hiding
a huge PNG, a 2,000-page TIFF, two file fields, broken multipart...: bad_requests), while
the server's memory (RSS of all its processes) is sampled: good requests must see no error,
and memory must stay bounded. Then the same load without bad requests, for comparison.
(Slow and chunked bodies are tested in tests/test_hardening.py.)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from common import add_update_option, write_results
from PIL import Image

from captcha_break.synth import SynthConfig, draw

MAX_REQUESTS = 50_000  # a hard stop besides the time limit
VALID_KINDS = ("tiff-2000-pages",)  # costly but valid: counted as good requests (no error allowed)


def pngs(count: int) -> list[bytes]:
    out = []
    for i in range(count):
        buffer = io.BytesIO()
        draw(SynthConfig(), "bench-server", i)[0].save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _multipart(files: list[bytes], boundary: str = "bench") -> tuple[bytes, str]:
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{i}.png"\r\n'.encode()
        + b"Content-Type: image/png\r\n\r\n"
        + data
        + b"\r\n"
        for i, data in enumerate(files)
    )
    return parts + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def bad_requests() -> list[tuple[str, bytes, str]]:
    """(name, body, content type) of requests that must get a 4xx, never hurt the others:
    the kinds of the reliability reviews, cheap and costly to decode."""
    good = pngs(1)[0]
    one_pixel = Image.new("L", (1, 1))
    icon_inner = _encoded(Image.new("1", (3000, 3000)), "PNG")
    ico = (
        b"\0\0\1\0\1\0" + bytes([16, 16, 0, 0, 1, 0, 32, 0]) + len(icon_inner).to_bytes(4, "little") + (22).to_bytes(4, "little")
    )
    two_files, two_files_type = _multipart([good, good])
    return [
        ("junk", b"not an image at all" * 10, "image/png"),
        ("truncated", good[: len(good) // 2], "image/png"),
        ("bomb", _encoded(Image.new("1", (6320, 6320)), "PNG", transparency=0), "image/png"),  # 5 KB -> 40 Mpx
        ("nested-json", b"[" * 1000 + b"]" * 1000, "application/json"),
        ("oversized", b"x" * (5 * 1024 * 1024), "image/png"),
        ("bad-base64", b'{"image": "@@@@"}', "application/json"),
        ("empty", b"", "image/png"),
        ("ico-hiding-3000x3000", ico + icon_inner, "image/x-icon"),
        # 2,000 one-pixel pages: read from its first, it is one valid pixel, too small to be refused;
        # as the costly kind it stands for, it must not slow the others (it is answered 200).
        ("tiff-2000-pages", _encoded(one_pixel, "TIFF", save_all=True, append_images=[one_pixel] * 1999), "image/tiff"),
        ("two-file-fields", two_files, two_files_type),
        ("multipart-no-boundary", b"--x\r\n\r\n", "multipart/form-data"),
    ]


def processes(pid: int) -> list[int]:
    """A process and its descendants (the server and its uvicorn workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except OSError:
            pass
    return found


def _status_kb(pid: int, key: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(key)))


def request_memory(url: str, pid: int, requests: list[tuple[str, bytes, str]]) -> dict[str, float]:
    """{kind: MB of peak memory above the process's resident memory before it}, one request
    at a time: Linux resets a process's peak (VmHWM) through /proc/PID/clear_refs, so the
    peak of each request is exact, not a sample."""
    peaks = {}
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, body, kind in requests:
            pids = processes(pid)
            before = {p: _status_kb(p, "VmRSS") for p in pids}
            for p in pids:
                Path(f"/proc/{p}/clear_refs").write_text("5")
            client.post("/predict", content=body, headers={"content-type": kind})
            peaks[name] = max(_status_kb(p, "VmHWM") - before[p] for p in pids) / 1024
    return peaks


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Linux /proc), in MB."""
    total = 0
    for p in processes(pid):
        try:
            total += _status_kb(p, "VmRSS")
        except (OSError, StopIteration, ValueError):  # a process that has just ended
            continue
    return total / 1024


async def sample_rss(pid: int, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(rss_mb(pid))
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except asyncio.TimeoutError:
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, make_request, clients: int, seconds: float, pid: int | None = None) -> dict:
    """Requests from `clients` concurrent clients for `seconds`; make_request returns a
    response, or (response, is_bad) for a request that must fail with a 4xx."""
    latencies: list[float] = []
    errors = bad_count = bad_wrong = 0
    rss: list[float] = []
    stop = asyncio.Event()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(c: httpx.AsyncClient, k: int) -> None:
        nonlocal errors, bad_count, bad_wrong
        i = k
        while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
            start = time.perf_counter()
            try:
                answer = await make_request(c, i)
                response, bad = answer if isinstance(answer, tuple) else (answer, False)
                status = response.status_code
            except httpx.HTTPError:
                bad, status = False, 0  # a dropped connection counts against a good request
            if bad:
                bad_count += 1
                bad_wrong += not 400 <= status < 500
            else:
                latencies.append((time.perf_counter() - start) * 1000)
                errors += status != 200
            i += clients

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as c:
        sampler = asyncio.create_task(sample_rss(pid, rss, stop)) if pid else None
        started = time.perf_counter()
        await asyncio.gather(*(client(c, k) for k in range(clients)))
        elapsed = time.perf_counter() - started
        stop.set()
        if sampler:
            await sampler
    latencies.sort()
    result = {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }
    if bad_count:
        result.update(bad_requests=bad_count, bad_not_4xx=bad_wrong)
    if rss:
        result.update(rss_max_mb=max(rss), rss_start_mb=rss[0])
    return result


class RawClient:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams, for the single-image load:
    an order of magnitude less CPU per request than httpx, so that on a 2-core machine the
    load generator takes less of the cores it shares with the server."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, content_type: str) -> int:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        length, close = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            close |= name.lower() == "connection" and "close" in value.lower()
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
        return int(status_line.split()[1])


async def raw_load(port: int, images: list[bytes], clients: int, seconds: float) -> dict:
    """The single-image load with RawClient: requests/s and latency percentiles."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        http, i = RawClient(port), k
        while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
            start = time.perf_counter()
            try:
                status = await http.post("/predict", images[i % len(images)], "image/png")
            except (OSError, asyncio.IncompleteReadError):
                status, http = 0, RawClient(port)
            latencies.append((time.perf_counter() - start) * 1000)
            errors += status != 200
            i += clients

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "errors": errors, "requests_per_second": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99)]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="general", help="the model served (default: the default model)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--threads", type=int, default=None, help="inference threads per server process")
    parser.add_argument("--abuse", action="store_true", help="mix in bad requests and watch the memory (see above)")
    add_update_option(parser)
    args = parser.parse_args()
    images = pngs(64)
    encoded = [base64.b64encode(p).decode() for p in images]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "captcha_break", "serve", "--model", args.model, "--port", str(port),
         "--workers", str(args.workers), "--log-level", "warning", *(["--threads", str(args.threads)] if args.threads else [])],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)

        async def single(c, i):
            return await c.post("/predict", content=images[i % len(images)], headers={"content-type": "image/png"})

        async def batch(c, i):
            start = (i * args.batch) % len(encoded)
            return await c.post("/predict/batch", json={"images": (encoded * 2)[start : start + args.batch]})

        asyncio.run(load(url, single, 4, 2))  # warm up
        if args.abuse:
            abuse_run(url, single, args, server.pid)
            return
        one = asyncio.run(load(url, single, args.clients, args.seconds, server.pid))
        raw = asyncio.run(raw_load(port, images, args.clients, args.seconds))
        many = asyncio.run(load(url, batch, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
    many["images_per_second"] = many["requests_per_second"] * args.batch
    table = [
        (f"single image: requests/s at {args.clients} clients", f"{one['requests_per_second']:.0f}"),
        ("single image: p50 / p99 latency", f"{one['p50_ms']:.1f} / {one['p99_ms']:.1f} ms"),
        (f"single image, lean client: requests/s at {args.clients} clients", f"{raw['requests_per_second']:.0f}"),
        ("single image, lean client: p50 / p99 latency", f"{raw['p50_ms']:.1f} / {raw['p99_ms']:.1f} ms"),
        (f"batches of {args.batch}: images/s", f"{many['images_per_second']:.0f}"),
        (f"batches of {args.batch}: p50 / p99 latency", f"{many['p50_ms']:.1f} / {many['p99_ms']:.1f} ms"),
        ("errors", str(one["errors"] + raw["errors"] + many["errors"])),
    ]
    write_results(
        "server",
        {
            "model": args.model,
            "clients": args.clients,
            "workers": args.workers,
            "single": one,
            "single_lean_client": raw,
            "batch": many,
        },
        table,
        f"HTTP service ({args.workers} uvicorn worker(s), loopback)",
    )


def abuse_run(url: str, single, args, pid: int) -> None:
    bad = bad_requests()
    # Inputs under the limits that cost the most to read: a large image (boxed to a small
    # copy before the model sees it) and a wide one, beside every bad kind.
    heavy = [
        ("under-limit-1990x2000", _encoded(Image.new("L", (1990, 2000), 255), "PNG"), "image/png"),
        ("wide-5000x50", _encoded(Image.new("L", (5000, 50), 255), "PNG"), "image/png"),
        ("good", pngs(1)[0], "image/png"),
    ]
    memory = request_memory(url, pid, heavy + bad)
    worst = max(memory, key=memory.get)

    async def mixed(c, i):
        if i % 5 == 4:  # one request in five
            name, body, kind = bad[(i // 5) % len(bad)]
            response = await c.post("/predict", content=body, headers={"content-type": kind})
            return response, name not in VALID_KINDS
        return await single(c, i)

    abused = asyncio.run(load(url, mixed, args.clients, args.seconds, pid))
    clean = asyncio.run(load(url, single, args.clients, args.seconds, pid))
    table = [
        (f"good requests under abuse: requests/s at {args.clients} clients", f"{abused['requests_per_second']:.0f}"),
        ("good requests under abuse: p50 / p99 latency", f"{abused['p50_ms']:.1f} / {abused['p99_ms']:.1f} ms"),
        ("good requests under abuse: errors", f"{abused['errors']} of {abused['requests']}"),
        ("bad requests not answered with a 4xx", f"{abused['bad_not_4xx']} of {abused['bad_requests']}"),
        ("server memory under abuse (RSS, all processes)", f"{abused['rss_start_mb']:.0f} -> max {abused['rss_max_mb']:.0f} MB"),
        ("without bad requests: requests/s", f"{clean['requests_per_second']:.0f}"),
        ("without bad requests: p50 / p99 latency", f"{clean['p50_ms']:.1f} / {clean['p99_ms']:.1f} ms"),
        ("without bad requests: memory", f"max {clean['rss_max_mb']:.0f} MB"),
        ("memory of one request above the server's idle (peak, each kind alone)", f"max {memory[worst]:.0f} MB ({worst})"),
    ]
    write_results(
        "server_abuse",
        {"model": args.model, "clients": args.clients, "workers": args.workers, "seconds": args.seconds,
         "bad_kinds": [name for name, _, _ in bad], "abused": abused, "clean": clean, "request_memory_mb": memory},
        table,
        f"HTTP service under abuse: 1 request in 5 bad ({args.workers} worker(s), {args.clients} clients, loopback)",
    )  # fmt: skip


if __name__ == "__main__":
    main()
