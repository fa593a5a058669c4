"""The labeling page and its HTTP API."""

from __future__ import annotations

import time

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from ..assets import WEB
from .guard import Guard
from .session import Answer, FileRef, LabelingSession, PageRef
from .store import Stale

ORDERS = ("confidence", "name")


def create_label_app(
    session: LabelingSession, order: str = "confidence", token: str | None = None, hosts: tuple[str, ...] = ()
) -> FastAPI:
    """The page and its API. token: needed on every request (query `token=` once, then a
    cookie), for a server reachable beyond this machine; hosts: the Host headers answered
    (empty: any), so that a web page cannot reach a loopback server by DNS rebinding."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
    app = FastAPI(title="captcha_break labeling", docs_url=None, redoc_url=None)
    app.add_middleware(Guard, token=token, hosts=hosts)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (WEB / "label.html").read_text(encoding="utf-8")

    @app.get("/api/queue")
    def queue(mode: str = "unlabeled", offset: int = 0, limit: int = 50, snapshot: str = "") -> dict:
        files = session.snapshot(mode, order, snapshot) if snapshot else session.queue(mode, order)
        limit = max(1, min(limit, 500))
        return {"count": len(files), "items": [session.item(f) for f in files[offset : offset + limit]]}

    @app.get("/api/image/{name}")
    def image(name: str) -> FileResponse:
        session.check(name)  # only the folder's own images: no path escapes
        path = session.folder / name
        if path.resolve().parent != session.folder.resolve() or not path.resolve().is_file():  # swapped for a link since
            raise HTTPException(404, f"{name} is no longer a regular file of {session.folder}")
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    @app.exception_handler(Stale)
    def stale(_request, err: Stale):
        return JSONResponse({"detail": str(err), "file": err.name, "label": err.now}, status_code=409)

    @app.post("/api/label")
    def label(answer: Answer) -> dict:
        session.check(answer.file)
        seen = answer.seen if answer.check_seen else False
        session.store.set(answer.file, session.clean(answer.label, answer.confirm), answer.page, seen)
        session.answered += 1
        session.answer_times.append(time.monotonic())
        return {**session.progress(), "label": session.store.labels[answer.file]}

    @app.post("/api/unreadable")
    def unreadable(ref: FileRef) -> dict:
        session.check(ref.file)
        session.store.set(ref.file, "", ref.page, ref.seen if ref.check_seen else False)
        session.answered += 1
        session.answer_times.append(time.monotonic())
        return session.progress()

    @app.post("/api/undo")
    def undo(ref: PageRef | None = None) -> dict:
        undone = session.store.undo(ref.page if ref else "")
        if undone is None:
            raise HTTPException(409, "nothing of this page's to undo")
        session.answered = max(0, session.answered - 1)
        name, before, given = undone
        taken = "unreadable" if given == "" else given
        return {"file": name, "label": before, "undid": f"undid {name} = {taken}", **session.progress()}

    @app.get("/api/progress")
    def progress() -> dict:
        return {**session.progress(), "order": order}

    return app
