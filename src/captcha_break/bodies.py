"""Request bodies from slow and malformed clients: each body read within a byte limit and a
deadline, and the images taken out of its form (multipart, JSON with base64, or raw).

The byte limit is counted as the body arrives, whatever Content-Length says (a chunked body
beside one can lie); the deadline covers the whole body, not each read (a byte every few
seconds would never finish otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Protocol

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field, ValidationError


class Limits(Protocol):
    max_body_bytes: int
    max_batch_images: int


class BodyTimeout(Exception):
    """The client stopped sending its body."""


class ImageBody(BaseModel):
    """POST /predict as JSON."""

    image: str = Field(description="the image file's bytes in base64 (a data: URL works too)")


class ImagesBody(BaseModel):
    """POST /predict/batch as JSON."""

    images: list[str] = Field(description="image files in base64")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (Content-Length or not)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def images_from_request(request: Request, limits: Limits, many: bool) -> list[bytes]:
    """The image files of a request, as raw bytes, multipart (`file` / `files`), JSON (base64)
    or raw, within `limits`; every malformed request a 4xx that says why."""
    content_type = request.headers.get("content-type", "").lower()  # media types ignore case
    if content_type.startswith("multipart/form-data"):
        images = await _multipart_images(request, limits, "files" if many else "file")
    else:
        body = await read_body(request, limits.max_body_bytes)
        if not body:
            raise HTTPException(400, "empty body: send an image")
        images = _json_images(body, many) if content_type.startswith("application/json") else [body]
    if not images:
        raise HTTPException(400, "no image in the request")
    if len(images) > 1 and not many:
        raise HTTPException(400, f"{len(images)} images: /predict reads one, /predict/batch several")
    if len(images) > limits.max_batch_images:
        raise HTTPException(413, f"{len(images)} images is over the limit of {limits.max_batch_images} per request")
    if any(not image for image in images):
        raise HTTPException(400, "empty image")
    return images


async def _multipart_images(request: Request, limits: Limits, field: str) -> list[bytes]:
    declared = request.headers.get("content-length")
    if not declared or not declared.isdigit():
        raise HTTPException(411, "multipart uploads need a Content-Length")
    # Counted as it arrives, like a raw body: the declared length alone can lie (a chunked
    # body beside a Content-Length). Starlette's form parser then reads the body kept here.
    request._body = await read_body(request, limits.max_body_bytes)
    form = await request.form(max_files=limits.max_batch_images, max_fields=limits.max_batch_images)
    uploads = form.getlist(field) or ([form["file"]] if field == "files" and "file" in form else [])
    if not uploads:
        raise HTTPException(400, f"multipart form needs a `{field}` field with the image")
    if any(isinstance(u, str) for u in uploads):
        raise HTTPException(400, f"`{field}` must be a file upload")
    return [await u.read() for u in uploads]


def _json_images(body: bytes, many: bool) -> list[bytes]:
    model = ImagesBody if many else ImageBody
    try:
        payload = model.model_validate_json(body)
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(p) for p in problem.get("loc", ())) or "body"
        if problem["type"] == "json_invalid":
            raise HTTPException(400, f"body is not valid JSON: {problem['msg']}") from None
        shape = '{"images": [base64, ...]}' if many else '{"image": base64}'
        raise HTTPException(400, f"JSON body needs {shape}: {where}: {problem['msg']} (base64 strings)") from None
    except RecursionError:  # nested thousands deep: no request of ours looks like that
        raise HTTPException(400, "body is not valid JSON: nested too deep") from None
    return [_b64(v) for v in (payload.images if many else [payload.image])]


def _b64(text: str) -> bytes:
    if "," in text[:100] and text.startswith("data:"):
        text = text.split(",", 1)[1]  # a data: URL, as browsers make them
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise HTTPException(400, f"bad base64: {err}") from err


class TimedBody:
    """ASGI middleware: a request whose next body part takes over `timeout` s, or whose whole
    body takes over `deadline` s, fails (408). Once the body is in, receiving is untimed
    (it then only waits for the client to go)."""

    def __init__(self, app, timeout: float, deadline: float = 30.0):
        self.app, self.timeout, self.deadline = app, timeout, deadline

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        ends = loop.time() + self.deadline
        body_done = False

        async def timed_receive():
            nonlocal body_done
            if body_done:
                return await receive()
            wait = min(self.timeout, ends - loop.time())
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.0))
            except asyncio.TimeoutError:
                late = wait < self.timeout
                raise BodyTimeout(
                    f"the body did not arrive within {self.deadline:g} s" if late else f"the body stalled for {self.timeout:g} s"
                ) from None
            body_done = message.get("type") != "http.request" or not message.get("more_body", False)
            return message

        return await self.app(scope, timed_receive, send)
