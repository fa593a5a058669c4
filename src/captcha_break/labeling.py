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
import io
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel

from .charset import Charset, LabelError
from .labels import IMAGE_SUFFIXES, find_labels_file, image_files, read_labels_file
from .preprocess import ImageError
from .recognizer import Recognizer

WEB = Path(__file__).parent / "web"
ORDERS = ("confidence", "name")


@dataclass
class Guess:
    text: str
    confidence: float
    char_probs: list[float]


@dataclass
class LabelStore:
    """The folder's labels.csv, kept in memory and written through on every change."""

    folder: Path
    labels: dict[str, str] = field(default_factory=dict)  # file -> label ("" = unreadable)
    history: list[tuple[str, str | None]] = field(default_factory=list)  # (file, previous label) for undo
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, folder: Path) -> LabelStore:
        found = find_labels_file(folder)
        if found is not None and found.name != "labels.csv":
            raise ValueError(f"{found} holds the labels: label writes labels.csv, convert it first so nothing is lost")
        return cls(folder, read_labels_file(found) if found else {})

    @property
    def path(self) -> Path:
        return self.folder / "labels.csv"

    def set(self, name: str, label: str) -> None:
        with self.lock:
            self.history.append((name, self.labels.get(name)))
            self.labels[name] = label
            self._write()

    def undo(self) -> tuple[str, str | None] | None:
        """Take back the last answer; returns (file, the label it had before) or None."""
        with self.lock:
            if not self.history:
                return None
            name, before = self.history.pop()
            if before is None:
                self.labels.pop(name, None)
            else:
                self.labels[name] = before
            self._write()
            return name, before

    def _write(self) -> None:
        buffer = io.StringIO()
        rows = csv.writer(buffer, lineterminator="\n")
        rows.writerow(["file", "label"])
        rows.writerows(sorted(self.labels.items()))
        # Atomic: the file on disk is always a whole old or a whole new version.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".labels.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(buffer.getvalue())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class Answer(BaseModel):
    file: str
    label: str


class FileRef(BaseModel):
    file: str


@dataclass
class LabelingSession:
    folder: Path
    store: LabelStore
    images: list[str]  # file names, in name order
    guesses: dict[str, Guess]
    charset: Charset | None = None
    fold_case: bool = False
    started: float = field(default_factory=time.monotonic)
    answered: int = 0  # this session's answers, for the rate
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
            files = [f for f in self.images if self.store.labels.get(f) and self.guesses[f].text != self.store.labels[f]]
        elif mode == "all":
            files = list(self.images)
        else:
            raise HTTPException(400, f"mode must be unlabeled, review or all, not {mode!r}")
        if order == "confidence":
            files.sort(key=lambda f: self.guesses[f].confidence)  # stable: name order among equals
        return files

    def item(self, name: str) -> dict:
        guess = self.guesses[name]
        return {
            "file": name,
            "label": self.store.labels.get(name),
            "guess": guess.text,
            "confidence": guess.confidence,
            "char_probs": guess.char_probs,
        }

    def progress(self) -> dict:
        labels = self.store.labels
        done = sum(1 for f in self.images if f in labels)
        minutes = (time.monotonic() - self.started) / 60
        return {
            "total": len(self.images),
            "labeled": sum(1 for f in self.images if labels.get(f)),
            "unreadable": sum(1 for f in self.images if labels.get(f) == ""),
            "done": done,
            "per_minute": self.answered / minutes if minutes > 0.05 else 0.0,
        }

    def check(self, name: str) -> None:
        if name not in self.guesses:
            raise HTTPException(404, f"no image {name!r} in {self.folder}")

    def clean(self, label: str) -> str:
        label = label.strip()
        if self.fold_case:
            label = label.upper()
        if not label:
            raise HTTPException(400, "an empty label: mark the image unreadable instead")
        if self.charset is not None:
            try:
                self.charset.check(label)
            except LabelError as err:
                raise HTTPException(400, str(err)) from err
        return label


def read_guesses(recognizer: Recognizer, folder: Path, names: list[str], batch: int = 256) -> dict[str, Guess]:
    """The model's reading of every image (an unreadable file gets an empty guess)."""
    guesses: dict[str, Guess] = {}
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        for name, d in zip(chunk, recognizer.predict_each([folder / name for name in chunk])):
            guesses[name] = Guess("", 0.0, []) if isinstance(d, ImageError) else Guess(d.text, d.confidence, d.char_probs)
    return guesses


def open_session(
    folder: str | Path, recognizer: Recognizer, chars: str | None = None, fold_case: bool = False
) -> LabelingSession:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder at {folder}")
    names = [p.name for p in image_files(folder)]
    if not names:
        raise ValueError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    store = LabelStore.open(folder)
    guesses = read_guesses(recognizer, folder, names)
    return LabelingSession(folder, store, names, guesses, Charset(chars) if chars else None, fold_case)


def create_label_app(session: LabelingSession, order: str = "confidence") -> FastAPI:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
    app = FastAPI(title="captcha_break labeling", docs_url=None, redoc_url=None)

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
        return FileResponse(session.folder / name, headers={"Cache-Control": "no-store"})

    @app.post("/api/label")
    def label(answer: Answer) -> dict:
        session.check(answer.file)
        session.store.set(answer.file, session.clean(answer.label))
        session.answered += 1
        return session.progress()

    @app.post("/api/unreadable")
    def unreadable(ref: FileRef) -> dict:
        session.check(ref.file)
        session.store.set(ref.file, "")
        session.answered += 1
        return session.progress()

    @app.post("/api/undo")
    def undo() -> dict:
        undone = session.store.undo()
        if undone is None:
            raise HTTPException(409, "nothing to undo")
        session.answered = max(0, session.answered - 1)
        return {"file": undone[0], "label": undone[1], **session.progress()}

    @app.get("/api/progress")
    def progress() -> dict:
        return {**session.progress(), "order": order}

    return app
