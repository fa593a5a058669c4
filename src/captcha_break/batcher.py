"""Micro-batching: single-image requests that arrive within a couple of milliseconds run
as one model call, which costs far less than one call each (the service's throughput)."""

from __future__ import annotations

import asyncio

import numpy as np
from starlette.concurrency import run_in_threadpool

from .decoding import Prediction
from .recognizer import Recognizer


class MicroBatcher:
    """Collects single-image requests for up to `wait_ms` and runs them as one batch."""

    def __init__(self, recognizer: Recognizer, max_batch: int = 64, wait_ms: float = 2.0):
        self.recognizer, self.max_batch, self.wait = recognizer, max_batch, wait_ms / 1000
        self.queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future]] = asyncio.Queue()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def submit(self, pixels: list[list[np.ndarray]]) -> list[Prediction]:
        """N images' uint8 (C, H, W) arrays (Recognizer.inputs) -> N results; they may share a
        batch with other requests' images."""
        loop = asyncio.get_running_loop()
        futures = []
        for image in pixels:
            future = loop.create_future()
            await self.queue.put((image, future))
            futures.append(future)
        return list(await asyncio.gather(*futures))

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            deadline = asyncio.get_running_loop().time() + self.wait
            while len(items) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                try:
                    items.append(self.queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(self.queue.get(), timeout))
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
            await self._infer(items)

    async def _infer(self, items: list[tuple[list[np.ndarray], asyncio.Future]]) -> None:
        try:
            results = await run_in_threadpool(self.recognizer.predict_arrays, [p for p, _ in items])
        except Exception as err:  # noqa: BLE001 - handed to every waiting request
            for _, future in items:
                if not future.done():
                    future.set_exception(err)
            return
        for (_, future), result in zip(items, results):
            if not future.done():
                future.set_result(result)
