"""One labeling session: the folder's images, the model's guesses, the rules an answer must
pass (charset, case, length), the queues the page works through and its progress."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException
from pydantic import BaseModel

from ..charset import Charset, LabelError
from ..decoding import Prediction
from ..labels import IMAGE_SUFFIXES, image_files
from ..preprocess import ImageError
from ..recognizer import Recognizer
from .store import LabelStore

UNREAD = Prediction("", 0.0, [])  # the guess shown for a file the model could not read


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
