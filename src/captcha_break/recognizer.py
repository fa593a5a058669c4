"""Read captchas with a trained model: the one inference path for the CLI, API and server.

`Recognizer.load` takes a bundled model's name (`general` by default), an exported `.onnx` file (run by
ONNX Runtime, no torch needed) or a training checkpoint `.pt` (torch imported on demand):
backends.py. Every backend maps a float32 batch (B, C, H, W) to logits (B, T, classes); preprocessing
and decoding are shared, so all backends give the same strings for the same images.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .assets import DEFAULT_MODEL, ModelInfo, resolve
from .backends import Backend, onnx_backend, torch_backend
from .config import FITS, PADDED_FITS
from .decode import as_image
from .decoding import Prediction, fold_case, greedy_decode, restrict, softmax, upper
from .options import checked, option, parse_length
from .preprocess import ImageError, InputSpec, normalize, to_pixels, to_views

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray


# Recognizer's only_length by default: the label lengths the model was trained on. A site
# whose captchas always have 4 characters never gets a reading of 3 or 5 from its model:
# such a reading becomes the likeliest one of an allowed length.
TRAINED = "trained"
MODEL_FIT = "model"
READ_FITS = (MODEL_FIT, *FITS, "both")
ANY = "any"
Lengths = int | tuple[int, int] | str | None


def parse_only_length(text: str) -> tuple[int, int] | str:
    """--only-length: N, MIN-MAX, "any", or "trained" (the model's own label lengths)."""
    return text if text in (ANY, TRAINED) else parse_length(text)


@dataclass
class ReaderOptions:
    """How a model reads, as `Recognizer.load` takes it: the options of predict, evaluate,
    label and serve, defined once (their command-line form too)."""

    threads: int | None = option(None, "inference threads (default: all cores)")
    fold_case: bool = option(
        False, "read case-insensitively: a letter's two cases count as one, the text comes out in upper case"
    )
    only_chars: str | None = option(
        None, "read only these characters, e.g. 0123456789 for a digits-only site (default: all the model knows)",
        metavar="CHARS",
    )  # fmt: skip
    only_length: Lengths = option(
        TRAINED, "read only texts of this many characters, e.g. 4 for a site whose captchas always have 4: a reading of "
        "another length becomes the likeliest one of that length (any: any length)", metavar="N|MIN-MAX|any",
        parse=checked(parse_only_length),
    )  # fmt: skip
    fit: str = option(
        MODEL_FIT, "how an image becomes the model's input: pad, crop (to the text, then pad), stretch, both (padded "
        "and cropped, the surer reading kept) or model (as its file says; general reads both ways)", choices=READ_FITS,
    )  # fmt: skip
    providers: tuple[str, ...] = option(
        ("cpu",), "ONNX Runtime execution provider, in order of preference (cpu, cuda, tensorrt, coreml, openvino, dml; "
        "repeatable)", flag="--provider", repeat=True, metavar="NAME",
    )  # fmt: skip

    def reader_options(self) -> ReaderOptions:
        """These options alone (of a config that adds its own, like the service's)."""
        return ReaderOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ReaderOptions)})

    def load(self, source: str | os.PathLike = DEFAULT_MODEL) -> Recognizer:
        return Recognizer.load(source, **dataclasses.asdict(self.reader_options()))


class Recognizer:
    """fold_case: read case-insensitively (upper case out), for sites that ignore case.
    only_chars: read only these characters (a site's alphabet, e.g. "0123456789").
    only_length: read only texts of this many characters: N or (MIN, MAX); "trained" (the
    default): the label lengths the model was trained on, where its file records them;
    None or "any": any length.
    fit: how an image becomes the model's input (READ_FITS); with several ways, every image
    is read each way and the surest reading kept."""

    def __init__(
        self,
        backend: Backend,
        info: ModelInfo,
        batch_size: int = 256,
        fold_case: bool = False,
        only_chars: str | None = None,
        only_length: Lengths = TRAINED,
        fit: str = MODEL_FIT,
    ):
        self.backend, self.info, self.batch_size, self.fold_case = backend, info, batch_size, fold_case
        self.views = _reading_views(info, fit)
        self.only_chars = (upper(only_chars) if fold_case and only_chars else only_chars) or None
        self.only_length = _allowed_lengths(info.label_lengths if only_length == TRAINED else only_length)
        if self.only_chars:  # a character the model cannot read is an error now, not at the first image
            probs = np.zeros((1, 1, info.charset.num_classes), np.float32)
            self._decode(probs)

    @classmethod
    def load(
        cls,
        source: str | os.PathLike = DEFAULT_MODEL,
        threads: int | None = None,
        device: str = "auto",
        fold_case: bool = False,
        providers: Sequence[str] = ("cpu",),
        only_chars: str | None = None,
        only_length: Lengths = TRAINED,
        fit: str = MODEL_FIT,
    ) -> Recognizer:
        """providers: ONNX Runtime's execution providers, in order of preference, by full
        name or short name (cpu, cuda, tensorrt, coreml, openvino, dml); CPU is always
        the last resort. device: for .pt checkpoints (torch): auto, cpu, cuda."""
        path = resolve(source, "onnx")  # a bundled name -> its ONNX file
        if path.suffix == ".onnx":
            backend, info = onnx_backend(path, threads, providers)
        else:
            backend, info = torch_backend(path, threads, device)
        info.path = str(path)
        return cls(backend, info, fold_case=fold_case, only_chars=only_chars, only_length=only_length, fit=fit)

    def in_fit(self, fit: str) -> Recognizer:
        """This reader, its model loaded once, reading in `fit` (READ_FITS) instead."""
        return Recognizer(self.backend, self.info, self.batch_size, self.fold_case, self.only_chars, self.only_length, fit)

    @property
    def spec(self) -> InputSpec:
        """The input an image is read at (the first way, where it is read several)."""
        return self.views[0]

    @property
    def reads_any_width(self) -> bool:
        """Whether an image wider than the padded input is read at its own width
        (preprocess.reading_spec): a model with a time axis along the width, padded."""
        return self.spec.fit in PADDED_FITS and self.info.scheme.variable_width

    def predict(self, x: ImageInput | Sequence[ImageInput]) -> Prediction | list[Prediction]:
        """One image -> one Prediction; a list -> a list, run in batches.

        Accepts paths, raw bytes, PIL images and NumPy arrays (H, W[, C]); raises
        preprocess.ImageError for anything that is not a usable image.
        """
        single = not isinstance(x, (list, tuple))
        # Each image becomes its small array before the next is opened: a batch of large
        # files never sits decoded in memory at once.
        arrays = [self.inputs(self._image(item, None if single else i)) for i, item in enumerate([x] if single else x)]
        results = self.predict_arrays(arrays)
        return results[0] if single else results

    def pixels(self, item: ImageInput) -> np.ndarray:
        """One image as the uint8 (C, H, W) array this model reads it as: at its input size,
        or wider for a wide image where the model reads any width (preprocess.reading_spec)."""
        return to_pixels(item, self.spec, widen=self.reads_any_width)

    def inputs(self, item: ImageInput) -> list[np.ndarray]:
        """One image as every array this reader reads it as (`pixels` for each of its ways, a
        way that gives the same array as another left out)."""
        return to_views(item, self.views, widen=self.reads_any_width)

    def predict_arrays(self, arrays: Sequence[np.ndarray | list[np.ndarray]]) -> list[Prediction]:
        """One reading per image, from its array (`pixels`) or its arrays (`inputs`: the surest
        reading kept), of one width or several: each width is run as its own batches."""
        if isinstance(arrays, np.ndarray):  # (N, C, H, W): one width already
            return self.predict_pixels(arrays)
        owners = [i for i, item in enumerate(arrays) for _ in ([item] if isinstance(item, np.ndarray) else item)]
        views = [view for item in arrays for view in ([item] if isinstance(item, np.ndarray) else item)]
        readings: list[Prediction | None] = [None] * len(views)
        for shape in dict.fromkeys(a.shape for a in views):
            indices = [i for i, a in enumerate(views) if a.shape == shape]
            for i, prediction in zip(indices, self.predict_pixels(np.stack([views[i] for i in indices]))):
                readings[i] = prediction
        results: list[Prediction | None] = [None] * len(arrays)
        for owner, reading in zip(owners, readings):
            if results[owner] is None or reading.confidence > results[owner].confidence:
                results[owner] = reading
        return results

    def predict_each(self, items: Sequence[ImageInput]) -> list[Prediction | ImageError]:
        """`predict` on a list where an unreadable item does not fail the others: its
        ImageError stands in its place."""
        arrays: dict[int, list[np.ndarray]] = {}
        errors: dict[int, ImageError] = {}
        for i, item in enumerate(items):
            try:
                arrays[i] = self.inputs(item)  # decoded, resized, and the full image let go
            except ImageError as err:
                errors[i] = err
        read = dict(zip(arrays, self.predict_arrays(list(arrays.values()))))
        return [read[i] if i in read else errors[i] for i in range(len(items))]

    def read_files(self, paths: Sequence, chunk: int = 256) -> Iterator[tuple[object, Prediction | ImageError]]:
        """(path, its Prediction or ImageError) for each of `paths`, `chunk` decoded at a time,
        so that a folder of any size is read without holding its images all at once."""
        for start in range(0, len(paths), chunk):
            part = paths[start : start + chunk]
            yield from zip(part, self.predict_each(part))

    def _image(self, item: ImageInput, index: int | None) -> Image.Image:
        """One input, opened; in a list, an error names the item's index."""
        try:
            return as_image(item)
        except ImageError as err:
            if index is None:
                raise
            raise type(err)(f"item {index}: {err}") from err

    def predict_pixels(self, pixels: np.ndarray) -> list[Prediction]:
        """uint8 (N, C, H, W) already at the model's input size -> decoded strings."""
        decoded: list[Prediction] = []
        for start in range(0, len(pixels), self.batch_size):
            logits = self.backend(normalize(pixels[start : start + self.batch_size]))
            decoded += self._decode(softmax(logits.astype(np.float32)))
        return decoded

    def _decode(self, probs: np.ndarray) -> list[Prediction]:
        charset = self.info.charset
        if self.fold_case:
            probs, charset = fold_case(probs, charset)
        if self.only_chars:
            probs, charset = restrict(probs, charset, self.only_chars)
        return greedy_decode(probs, charset, self.info.scheme, self.only_length)


def _reading_views(info: ModelInfo, fit: str) -> tuple[InputSpec, ...]:
    """The inputs an image is read at: one per fit (READ_FITS)."""
    if fit not in READ_FITS:
        raise ValueError(f"fit must be one of {', '.join(READ_FITS)}, not {fit!r}")
    fits = info.read_fits if fit == MODEL_FIT else ("pad", "crop") if fit == "both" else (fit,)
    return tuple(dataclasses.replace(info.input, fit=f) for f in fits)


def _allowed_lengths(length: int | tuple[int, int] | str | None) -> tuple[int, int] | None:
    """N or (MIN, MAX) -> (MIN, MAX), checked; None or "any" -> None (any length)."""
    if length is None or length == ANY:
        return None
    bounds = (length, length) if isinstance(length, int) else tuple(length) if isinstance(length, (tuple, list)) else ()
    if len(bounds) != 2 or not all(isinstance(b, int) for b in bounds) or not 1 <= bounds[0] <= bounds[1]:
        raise ValueError(f"only_length must be N >= 1 or (MIN, MAX) with 1 <= MIN <= MAX, not {length!r}")
    return bounds
