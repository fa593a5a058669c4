"""Reading many files: folders and globs expanded, images read in batches, results written
as they come (to stdout, or a .csv / .jsonl file), a file that fails named and skipped."""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tqdm import tqdm

from .decoding import Prediction
from .labels import IMAGE_SUFFIXES, image_files
from .preprocess import ImageError
from .recognizer import Recognizer

Writer = Callable[[str, Prediction], None]


def expand_inputs(items: list[str]) -> list[str]:
    """Files as given; folders -> their image files in name order; globs -> their matches.

    A name that is none of these stays in the list, so that reading it reports the error.
    """
    paths: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            inside = image_files(path)
            if not inside:
                raise FileNotFoundError(f"{item}: no images in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
            paths += [str(p) for p in inside]
        elif not path.exists() and glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise FileNotFoundError(f"no files match {item}")
            paths += matches
        else:
            paths.append(item)
    return paths


def predict_files(
    recognizer: Recognizer, paths: list[str], write: Writer, batch_size: int = 256, progress: bool | None = None
) -> int:
    """Read `paths` in batches, calling write(path, result) for each readable one; errors
    go to stderr. Returns the number of files that could not be read."""
    failed = 0
    # progress None: a bar only when stderr is a terminal (tqdm's rule)
    bar = tqdm(total=len(paths), unit="img", desc="predict", file=sys.stderr, disable=None if progress is None else not progress)
    for path, result in recognizer.read_files(paths, batch_size):
        if isinstance(result, ImageError):
            print(f"{path}: error: {result}", file=sys.stderr)
            failed += 1
        else:
            write(path, result)
        bar.update()
    bar.close()
    return failed


@contextlib.contextmanager
def result_writer(output: str | None, stdout_format: str = "tsv") -> Iterator[Writer]:
    """A writer to stdout (tsv: file, text, confidence; or jsonl), or to a .csv / .jsonl file."""
    if output is None:
        yield _stdout_writer(stdout_format)
        return
    suffix = Path(output).suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ValueError(f"--output must end in .csv or .jsonl, not {output}")
    with open(output, "w", newline="", encoding="utf-8") as f:
        if suffix == ".csv":
            rows = csv.writer(f)
            rows.writerow(["file", "text", "confidence"])
            yield lambda path, r: rows.writerow([path, r.text, f"{r.confidence:.4f}"])
        else:
            yield lambda path, r: f.write(json.dumps(_record(path, r)) + "\n")


def _record(path: str, result: Prediction) -> dict:
    return {"file": path, **result.to_dict()}


def _stdout_writer(form: str) -> Writer:
    if form == "jsonl":
        return lambda path, r: print(json.dumps(_record(path, r)))
    return lambda path, r: print(f"{_one_field(path)}\t{r.text}\t{r.confidence:.4f}")


def _one_field(path: str) -> str:
    """A file name as one TSV field: a tab or a line break in it would forge columns or rows."""
    return path.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
