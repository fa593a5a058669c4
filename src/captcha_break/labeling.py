"""Labeling a folder of captchas in the browser, with the model's guesses pre-filled.

`captcha-break label DIR` serves a page (web/label.html) on loopback that shows the
folder's images one at a time with the model's reading; Enter accepts it, typing replaces
it. Every answer is written to DIR/labels.csv at once, atomically (a temporary file
renamed over the old one), so killing the server loses nothing confirmed; a restart picks
up where it stopped. `train --data DIR` reads the same labels.csv.

labels.csv rows are `file,label`; an image marked unreadable has an empty label, which
`train` skips ("marked unreadable").
"""

from __future__ import annotations

import csv
import hmac
import io
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel

from .atomic import atomic_write
from .charset import Charset, LabelError
from .decoding import Prediction
from .labels import IMAGE_SUFFIXES, find_labels_file, image_files, read_labels_file
from .preprocess import ImageError
from .recognizer import Recognizer

WEB = Path(__file__).parent / "web"
ORDERS = ("confidence", "name")


UNREAD = Prediction("", 0.0, [])  # the guess shown for a file the model could not read


@dataclass
class LabelStore:
    """The folder's labels.csv, kept in memory and written through on every change."""

    folder: Path
    labels: dict[str, str] = field(default_factory=dict)  # file -> label ("" = unreadable)
    # (page, file, previous label, label set) for undo: each page takes back only its own answers.
    history: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, folder: Path) -> LabelStore:
        found = find_labels_file(folder)
        if found is not None and found.name != "labels.csv":
            raise ValueError(f"{found} holds the labels: label writes labels.csv, convert it first so nothing is lost")
        for stale in folder.glob(".labels.*.tmp"):  # a write a kill interrupted: the old file is whole
            stale.unlink(missing_ok=True)
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".labels.", suffix=".tmp"):
                pass
        except OSError as err:
            raise ValueError(f"cannot write labels to {folder}: {err.strerror or err}") from None
        return cls(folder, read_labels_file(found) if found else {})

    @property
    def path(self) -> Path:
        return self.folder / "labels.csv"

    def set(self, name: str, label: str, page: str = "", seen: str | None | bool = False) -> None:
        """Save `label` for `name`. `seen`: the label the page showed (None: unlabeled); where
        the file has another one now (another tab or server saved it since), nothing is
        written and Stale says what it holds. False: no check."""
        with self.lock:
            if seen is not False and self.labels.get(name) != seen:
                raise Stale(name, self.labels.get(name))
            self.history.append((page, name, self.labels.get(name), label))
            self.labels[name] = label
            self._write()

    def undo(self, page: str = "") -> tuple[str, str | None, str] | None:
        """Take back this page's last answer; returns (file, the label it has again, the
        label taken back) or None. An answer changed since by another page stays."""
        with self.lock:
            mine = [i for i, entry in enumerate(self.history) if entry[0] == page]
            if not mine:
                return None
            _, name, before, given = self.history.pop(mine[-1])
            if self.labels.get(name) != given:
                raise Stale(name, self.labels.get(name))
            if before is None:
                self.labels.pop(name, None)
            else:
                self.labels[name] = before
            self._write()
            return name, before, given

    def _write(self) -> None:
        buffer = io.StringIO()
        rows = csv.writer(buffer, lineterminator="\n")
        rows.writerow(["file", "label"])
        rows.writerows(sorted(self.labels.items()))
        with atomic_write(self.path, keep_mode=True) as f:  # a whole old or a whole new version
            f.write(buffer.getvalue())


class Stale(Exception):
    """A file's label changed since the page showed it."""

    def __init__(self, name: str, now: str | None):
        now_text = "no label" if now is None else "marked unreadable" if now == "" else f"the label {now!r}"
        super().__init__(f"{name} was changed elsewhere (another tab or labeler) and now has {now_text}: reload the page")
        self.name, self.now = name, now


class Answer(BaseModel):
    file: str
    label: str
    page: str = ""  # the page (tab) that answers: undo takes back only its own answers
    check_seen: bool = False  # refuse if the file's label is no longer `seen`
    seen: str | None = None  # the label the page showed (None: unlabeled)
    confirm: bool = False  # save a label of an unusual length anyway


class FileRef(BaseModel):
    file: str
    page: str = ""
    check_seen: bool = False
    seen: str | None = None


class PageRef(BaseModel):
    page: str = ""


# Longer than any captcha: a stuck key or a paste, refused even when confirmed.
MAX_LABEL = 32


@dataclass
class LabelingSession:
    folder: Path
    store: LabelStore
    images: list[str]  # file names, in name order
    guesses: dict[str, Prediction | ImageError]  # ImageError: not an image the model could read
    charset: Charset | None = None
    fold_case: bool = False
    lengths: tuple[int, int] | None = None  # --length; None: the lengths of the labels so far
    left_out: list[str] = field(default_factory=list)  # files the page does not show, with why
    answered: int = 0  # this session's answers
    answer_times: list[float] = field(default_factory=list)  # when they came, for the rate
    # The queue a page works through, fixed when it opened (per mode): pages of it stay
    # put while answers move files out of "unlabeled". A reload takes a new snapshot.
    snapshots: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def snapshot(self, mode: str, order: str, key: str) -> list[str]:
        if mode not in self.snapshots or self.snapshots[mode][0] != key:
            self.snapshots[mode] = (key, self.queue(mode, order))
        return self.snapshots[mode][1]

    def queue(self, mode: str, order: str) -> list[str]:
        """The files to show: unlabeled ones, all, or those whose label the model reads otherwise."""
        if mode == "unlabeled":
            files = [f for f in self.images if f not in self.store.labels]
        elif mode == "review":
            files = [f for f in self.images if self.store.labels.get(f) and self._guess(f).text != self.store.labels[f]]
        elif mode == "all":
            files = list(self.images)
        else:
            raise HTTPException(400, f"mode must be unlabeled, review or all, not {mode!r}")
        if order == "confidence":
            files.sort(key=lambda f: self._guess(f).confidence)  # stable: name order among equals
        return files

    def _guess(self, name: str) -> Prediction:
        guess = self.guesses[name]
        return UNREAD if isinstance(guess, ImageError) else guess

    def item(self, name: str) -> dict:
        guess = self._guess(name)
        return {
            "file": name,
            "label": self.store.labels.get(name),
            "guess": guess.text,
            "confidence": guess.confidence,
            "char_probs": guess.char_probs,
            "readable": not isinstance(self.guesses[name], ImageError),
        }

    def progress(self) -> dict:
        labels = self.store.labels
        done = sum(1 for f in self.images if f in labels)
        # The rate of this sitting: from the first answer of the last RATE_WINDOW seconds, so
        # that it neither starts at the server's start nor decays during a pause.
        now = time.monotonic()
        recent = [t for t in self.answer_times if now - t < RATE_WINDOW]
        minutes = (now - recent[0]) / 60 if len(recent) > 1 else 0.0
        return {
            "total": len(self.images),
            "labeled": sum(1 for f in self.images if labels.get(f)),
            "unreadable": sum(1 for f in self.images if labels.get(f) == ""),
            "done": done,
            "per_minute": (len(recent) - 1) / minutes if minutes > 0.05 else 0.0,
        }

    def check(self, name: str) -> None:
        if name not in self.guesses:
            raise HTTPException(404, f"no image {name!r} in {self.folder}")

    def clean(self, label: str, confirm: bool = False) -> str:
        """The label as it will be saved, or an HTTP error saying why not: 400 for one that
        cannot be saved, 409 with `confirm` for one of an unusual length (the page asks)."""
        label = label.strip()
        if self.fold_case:
            label = label.upper()
        label = self._in_charsets_case(label)
        if not label:
            raise HTTPException(400, "an empty label: mark the image unreadable instead")
        if not label.isprintable():
            raise HTTPException(400, "the label holds control characters (a tab or a line break): type it again")
        if len(label) > MAX_LABEL:
            raise HTTPException(400, f"a label of {len(label)} characters: captchas have at most {MAX_LABEL}")
        if self.charset is not None:
            try:
                self.charset.check(label)
            except LabelError as err:
                raise HTTPException(400, str(err)) from err
        expected = self.expected_lengths()
        if expected and not confirm and not expected[0] <= len(label) <= expected[1]:
            span = f"{expected[0]}" if expected[0] == expected[1] else f"{expected[0]}-{expected[1]}"
            source = "--length" if self.lengths else "the labels so far"
            raise HTTPException(
                409, {"confirm": f"{span} characters expected ({source}), {label!r} has {len(label)}: save anyway?"}
            )
        return label

    def _in_charsets_case(self, label: str) -> str:
        """Typed in the case the charset does not have: the case it has (xt60 -> XT60)."""
        if self.charset is None:
            return label
        chars = self.charset.chars
        if not any(c.islower() for c in chars) and all(c.upper() in chars for c in label if c.islower()):
            return label.upper()
        if not any(c.isupper() for c in chars) and all(c.lower() in chars for c in label if c.isupper()):
            return label.lower()
        return label

    def expected_lengths(self) -> tuple[int, int] | None:
        """--length, else the range of the labels so far once there are a few of them."""
        if self.lengths:
            return self.lengths
        sizes = [len(label) for label in self.store.labels.values() if label]
        return (min(sizes), max(sizes)) if len(sizes) >= LENGTH_EVIDENCE else None


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


# The labels-per-minute rate counts the answers of the last this many seconds.
RATE_WINDOW = 300

# Labels needed before their lengths count as the rule (without --length).
LENGTH_EVIDENCE = 5


def read_guesses(recognizer: Recognizer, folder: Path, names: list[str], batch: int = 256) -> dict[str, Prediction | ImageError]:
    """The model's reading of every image (its ImageError for a file it could not read)."""
    from tqdm import tqdm

    guesses = {}
    bar = tqdm(total=len(names), unit="img", desc="reading the guesses", leave=False, disable=None)  # a terminal only
    for name, (_, guess) in zip(names, recognizer.read_files([folder / name for name in names], batch)):
        guesses[name] = guess
        bar.update()
    bar.close()
    return guesses


def servable_images(folder: Path) -> tuple[list[str], list[str]]:
    """(names the page can show, names left out with why): regular files in the folder
    itself (a link out of it, a pipe or a device is never opened), named in UTF-8 (a name
    from a zip or a scrape that is not cannot travel as JSON)."""
    names, left_out = [], []
    root = folder.resolve()
    for path in image_files(folder):
        try:
            path.name.encode("utf-8")
        except UnicodeEncodeError:
            left_out.append(f"{os.fsencode(path.name)!r}: a name that is not UTF-8 (rename it)")
            continue
        real = path.resolve()
        if real.parent != root or not real.is_file():
            left_out.append(f"{path.name}: not a regular file of this folder (a link out of it, a pipe or a device)")
            continue
        names.append(path.name)
    return names, left_out


def open_session(
    folder: str | Path,
    recognizer: Recognizer,
    chars: str | None = None,
    fold_case: bool = False,
    lengths: tuple[int, int] | None = None,
) -> LabelingSession:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder at {folder}")
    names, left_out = servable_images(folder)
    if not names:
        raise ValueError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    store = LabelStore.open(folder)
    guesses = read_guesses(recognizer, folder, names)
    charset = Charset(chars) if chars else None
    return LabelingSession(folder, store, names, guesses, charset, fold_case, lengths, left_out=left_out)


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
