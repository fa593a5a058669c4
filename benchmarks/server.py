"""HTTP service under concurrent load from a second process, on loopback only.

    python benchmarks/server.py [--model default] [--clients 16] [--seconds 10]

Starts `captcha-break serve` as a subprocess on 127.0.0.1, then this process plays
`--clients` concurrent clients (asyncio + httpx) for a bounded time and request count:
single images to POST /predict, then batches of 16 to POST /predict/batch.
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

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

from captcha_break.synth import SynthConfig, draw  # noqa: E402

MAX_REQUESTS = 50_000  # a hard stop besides the time limit


def pngs(count: int) -> list[bytes]:
    out = []
    for i in range(count):
        buffer = io.BytesIO()
        draw(SynthConfig(), "bench-server", i)[0].save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, make_request, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(c: httpx.AsyncClient, k: int) -> None:
        nonlocal errors
        i = k
        while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
            start = time.perf_counter()
            response = await make_request(c, i)
            latencies.append((time.perf_counter() - start) * 1000)
            errors += response.status_code != 200
            i += clients

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as c:
        started = time.perf_counter()
        await asyncio.gather(*(client(c, k) for k in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    images = pngs(64)
    encoded = [base64.b64encode(p).decode() for p in images]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "captcha_break", "serve", "--model", args.model, "--port", str(port)], stderr=subprocess.DEVNULL
    )
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
        one = asyncio.run(load(url, single, args.clients, args.seconds))
        many = asyncio.run(load(url, batch, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
    many["images_per_second"] = many["requests_per_second"] * args.batch
    table = [
        (f"single image: requests/s at {args.clients} clients", f"{one['requests_per_second']:.0f}"),
        ("single image: p50 / p99 latency", f"{one['p50_ms']:.1f} / {one['p99_ms']:.1f} ms"),
        (f"batches of {args.batch}: images/s", f"{many['images_per_second']:.0f}"),
        (f"batches of {args.batch}: p50 / p99 latency", f"{many['p50_ms']:.1f} / {many['p99_ms']:.1f} ms"),
        ("errors", str(one["errors"] + many["errors"])),
    ]
    write_results(
        "server",
        {"model": args.model, "clients": args.clients, "single": one, "batch": many},
        table,
        "HTTP service (one uvicorn worker, loopback)",
    )


if __name__ == "__main__":
    main()
