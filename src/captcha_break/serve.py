"""HTTP service: FastAPI over a Recognizer, with concurrent requests batched together.

Decoding an upload and running the model are CPU work, so neither runs on the event loop:
images are decoded in worker threads, then a `MicroBatcher` (batcher.py) gathers the requests that
arrive within a couple of milliseconds into one model call (one batch of 16 costs far less
than 16 batches of one). Bad input gets a 4xx with a reason, never a 500 (bodies.py reads
the request bodies within their limits; connections.py closes connections too slow to send
their headers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import math
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .assets import DEFAULT_MODEL, WEB, ModelInfo, model_line
from .batcher import MicroBatcher
from .bodies import BodyTimeout, ImageBody, ImagesBody, TimedBody, images_from_request
from .connections import ENV_CONFIG, HeaderTimeoutProtocol
from .decode import ImageError, ImageTooLarge, max_pixels
from .options import option
from .recognizer import ReaderOptions, Recognizer

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_BATCH_IMAGES = 64
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@dataclass
class ServeConfig(ReaderOptions):
    """The service: the model, how it reads (ReaderOptions), and the limits that keep slow or
    malformed clients from holding it. A field with a command-line form is a `serve` option."""

    model: str = option(DEFAULT_MODEL, "the model served", cli=False)  # --model: the commands' shared option
    host: str = option("127.0.0.1", "address to listen on (127.0.0.1: this machine only)")
    port: int = option(8000, "port to listen on")
    workers: int = option(1, "server processes")
    log_level: str = option("info", "uvicorn's log level (warning: no line per request)", choices=LOG_LEVELS)
    api_key: str | None = option(
        None, "require this key in the X-API-Key header (default: $CAPTCHA_BREAK_API_KEY, which `ps` does not show)",
        env="CAPTCHA_BREAK_API_KEY",
    )  # fmt: skip
    max_body_bytes: int = option(MAX_BODY_BYTES, "largest request body, in bytes")
    max_batch_images: int = option(MAX_BATCH_IMAGES, "images of one request", cli=False)
    batch_wait_ms: float = option(2.0, "how long a request waits for others to share a model call", cli=False)
    # Slow or stalled clients: a connection must send its request headers within
    # header_timeout seconds, each part of the body within body_timeout and the whole body
    # within body_deadline (a trickle of a byte every few seconds never finishes); beyond
    # max_connections at once, new ones get 503 (uvicorn's limit_concurrency).
    header_timeout: float = option(10.0, "seconds a client has to send its request headers")
    body_timeout: float = option(10.0, "seconds a client may pause while sending a body (408)")
    body_deadline: float = option(30.0, "seconds a client has to send a whole body (408)")
    max_connections: int = option(256, "connections served at once; more get 503")
    # Images decoded at once: each costs memory up to the pixel limit (decode.py).
    max_decoding: int = option(max(2, os.cpu_count() or 2), "images decoded at once", cli=False)

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("--api-key is empty: give a key, or leave the option out to serve without one")
        if self.api_key is not None and self.api_key != self.api_key.strip():
            raise ValueError("--api-key starts or ends with spaces, which HTTP strips from headers: no client could send it")
        for name in ("max_body_bytes", "max_batch_images", "max_connections", "max_decoding", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")
        for name in ("header_timeout", "body_timeout", "body_deadline"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a number of seconds above 0, not {value}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be at least 1, not {self.threads}")
        if self.only_chars == "":
            raise ValueError("--only-chars is empty: give the site's characters, or leave it out")
        if not 0 < self.port < 65536:
            raise ValueError(f"--port {self.port}: a port is a number from 1 to 65535")


def model_summary(source: str, info: ModelInfo) -> dict:
    """What the service says of its model: its name (a bundled name, or the file's name: never
    the server's path), architecture, what it reads and the card's headline figures."""
    card = info.meta.get("card", {})
    lengths = info.label_lengths
    return {
        "name": Path(source).name,
        "architecture": info.name,
        "charset": info.charset.chars,
        "label_lengths": list(lengths) if lengths else None,
        "input": {"height": info.input.height, "width": info.input.width, "channels": info.input.channels},
        "figures": card.get("figures", []) or ([{"accuracy": card["accuracy"]}] if "accuracy" in card else []),
    }


class Problem(BaseModel):
    """Every 4xx answer: what was wrong, in one line."""

    detail: str


# The answers a client must handle, in the API's documentation (/docs) beside 200.
ERRORS = {
    400: {"model": Problem, "description": "not an image (or a bad batch item, named), bad base64 or JSON, empty body"},
    401: {"model": Problem, "description": "missing or wrong API key (the server runs with --api-key)"},
    408: {"model": Problem, "description": "the body stalled or did not arrive in time"},
    413: {"model": Problem, "description": "body over --max-body-bytes, image over the pixel limit, too many images"},
}


class PredictionOut(BaseModel):
    text: str = Field(description="what the model read")
    confidence: float = Field(description="probability of the whole string")
    char_probs: list[float] = Field(description="probability of each character of text")


class BatchOut(BaseModel):
    results: list[PredictionOut]


def _body_doc(json_model: type[BaseModel], field: str, many: bool) -> dict:
    """The three ways to send images, for the OpenAPI schema (/docs)."""
    file = {"type": "string", "format": "binary"}
    multipart = {"type": "object", "properties": {field: {"type": "array", "items": file} if many else file}, "required": [field]}
    content = {"multipart/form-data": {"schema": multipart}, "application/json": {"schema": json_model.model_json_schema()}}
    if not many:
        content["image/*"] = {"schema": file}
    return {"requestBody": {"required": True, "content": content}}


def _decoder(recognizer: Recognizer, at_once: int):
    """Request images -> model inputs (each image's arrays: Recognizer.inputs), decoded in
    worker threads, `at_once` at most (each costs memory up to the pixel limit)."""
    decoding = asyncio.Semaphore(at_once)

    def pixels(images: list[bytes]) -> list[list[np.ndarray]]:
        if len(images) == 1:
            return [recognizer.inputs(images[0])]
        arrays = []
        for i, data in enumerate(images):  # a batch names its bad item, as the Python API does
            try:
                arrays.append(recognizer.inputs(data))
            except ImageError as err:
                raise type(err)(f"item {i}: {err}") from err
        return arrays

    async def decode(images: list[bytes]) -> list[list[np.ndarray]]:
        async with decoding:
            return await run_in_threadpool(pixels, images)

    return decode


def _key_check(api_key: str | None):
    """The dependency that checks a request's API key (X-API-Key, or Authorization: Bearer)."""
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="needed when the server runs with --api-key")

    def check_key(
        key: str | None = Security(key_header),
        authorization: str | None = Header(None, description="`Bearer KEY`: the same key as X-API-Key, another way"),
    ) -> None:
        if api_key is None:
            return
        given = key or (authorization or "").removeprefix("Bearer ").strip()
        # Header values arrive decoded as Latin-1: their bytes are what the client sent (UTF-8).
        if not hmac.compare_digest(given.encode("latin-1", "replace"), api_key.encode()):
            raise HTTPException(401, "missing or wrong API key (send it as X-API-Key)")

    return check_key


def create_app(config: ServeConfig | None = None) -> FastAPI:
    config = config or ServeConfig()
    max_pixels()  # a bad CAPTCHA_BREAK_MAX_PIXELS stops the start, not every request
    recognizer = config.load(config.model)
    batcher = MicroBatcher(recognizer, config.max_batch_images, config.batch_wait_ms)
    decode = _decoder(recognizer, config.max_decoding)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    # FastAPIOffline serves /docs' scripts itself: the docs work with no internet.
    app = FastAPIOffline(title="captcha_break", version=recognizer.info.meta.get("version", "1"), lifespan=lifespan)
    keyed = [Depends(_key_check(config.api_key))]
    app.state.recognizer, app.state.config = recognizer, config
    app.add_middleware(TimedBody, timeout=config.body_timeout, deadline=config.body_deadline)

    @app.exception_handler(BodyTimeout)
    async def body_timeout(_request: Request, err: BodyTimeout):
        return JSONResponse({"detail": str(err)}, status_code=408, headers={"Connection": "close"})

    @app.exception_handler(ImageError)
    async def image_error(_request: Request, err: ImageError):
        status = 413 if isinstance(err, ImageTooLarge) else 400
        return JSONResponse({"detail": str(err)}, status_code=status)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo() -> str:
        """A page to try the model by hand: drop or paste an image (no external assets)."""
        return (WEB / "demo.html").read_text(encoding="utf-8")

    served = model_summary(config.model, recognizer.info)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": served["name"]}

    @app.get("/models", dependencies=keyed)
    async def models() -> list[dict]:
        return [served]

    @app.post(
        "/predict", dependencies=keyed, response_model=PredictionOut, openapi_extra=_body_doc(ImageBody, "file", many=False),
        responses=ERRORS,
        summary='Read one captcha: multipart field `file`, a raw image body, or JSON {"image": base64}',
    )  # fmt: skip
    async def predict(request: Request) -> dict:
        images = await images_from_request(request, config, many=False)
        [result] = await batcher.submit(await decode(images))
        return result.to_dict()

    @app.post(
        "/predict/batch", dependencies=keyed, response_model=BatchOut, openapi_extra=_body_doc(ImagesBody, "files", many=True),
        responses=ERRORS,
        summary='Read several: multipart fields `files`, or JSON {"images": [base64, ...]}',
    )  # fmt: skip
    async def predict_batch(request: Request) -> dict:
        images = await images_from_request(request, config, many=True)
        return {"results": [r.to_dict() for r in await batcher.submit(await decode(images))]}

    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` with several workers: the config travels in the environment."""
    data = json.loads(os.environ[ENV_CONFIG])
    return create_app(ServeConfig(**{**data, "providers": tuple(data["providers"])}))


def serve(config: ServeConfig) -> None:
    import uvicorn

    checked = config.load(config.model)  # fail here, not in a worker
    print(
        f"serving {model_line(config.model, checked.info)} on http://{config.host}:{config.port}/ (API docs: /docs)", flush=True
    )
    os.environ[ENV_CONFIG] = json.dumps(dataclasses.asdict(config))
    uvicorn.run(
        "captcha_break.serve:app_from_env", factory=True, host=config.host, port=config.port, workers=config.workers,
        log_level=config.log_level, http=HeaderTimeoutProtocol, limit_concurrency=config.max_connections,
        timeout_keep_alive=5,
    )  # fmt: skip
