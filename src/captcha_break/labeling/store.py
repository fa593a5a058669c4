"""The folder's labels.csv: kept in memory, written through (atomically) on every answer, with
per-page undo and a check that a stale tab does not overwrite another's answer."""

from __future__ import annotations

import csv
import io
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write
from ..labels import find_labels_file, read_labels_file


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
