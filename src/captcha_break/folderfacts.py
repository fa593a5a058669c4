"""What a folder of labeled captchas looks like, as the plain command reads it (plain.py):
the images' shapes, where their text sits, whether colour carries anything, the labels'
characters and lengths. A sample of the images is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .charset import Charset
from .decode import flatten_onto_white
from .labels import scan_folder
from .preprocess import crop_to_text, text_box


@dataclass(frozen=True)
class FolderFacts:
    """What the choices are made from."""

    count: int
    aspects: list[float]  # width / height of each image (a sample of them)
    text_heights: list[float]  # the height of the text's box / the image's, of the same images
    text_aspects: list[float]  # width / height of the images cropped to their text (fit "crop")
    colourful: float  # share of sampled images with coloured text or background
    chars: str
    max_len: int

    @classmethod
    def read(cls, folder: str | Path, rule: str = "auto", fold_case: bool = False, sample: int = 400) -> FolderFacts:
        files = scan_folder(folder, rule, fold_case)
        if not files.items:
            raise ValueError(f"{folder}: no labeled images")
        labels = [label for _, label in files.items]
        step = max(1, len(files.items) // sample)
        aspects, colours, text_heights, text_aspects = [], [], [], []
        for path, _ in files.items[::step]:
            try:
                with Image.open(path) as image:
                    width, height = image.size
                    colours.append(_is_colourful(image))
                    rgb = flatten_onto_white(image)
            except (OSError, ValueError):
                continue  # load_folder reports unreadable files; here they just don't count
            box = text_box(rgb)
            cropped = crop_to_text(rgb, box)
            aspects.append(width / height)
            text_heights.append((box[3] - box[1]) / height)
            text_aspects.append(cropped.width / cropped.height)
        if not aspects:
            raise ValueError(f"{folder}: none of the sampled images could be read")
        return cls(
            count=len(labels),
            aspects=aspects,
            text_heights=text_heights,
            text_aspects=text_aspects,
            colourful=float(np.mean(colours)),
            chars=Charset.from_labels(labels).chars,
            max_len=max(map(len, labels)),
        )


def _is_colourful(image: Image.Image) -> bool:
    """Whether colour carries anything: some pixels of clearly coloured ink or background.

    Chroma (max - min of R, G, B) at the 99th percentile, not the mean: thin coloured
    strokes on white are a few percent of an image (a mean calls them gray), and unlike
    HSV saturation, chroma stays small for the noise of near-black pixels.
    """
    rgba = image.convert("RGBA")
    rgba.thumbnail((96, 96))
    rgb = np.asarray(Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")).astype(np.int16)
    return float(np.percentile(rgb.max(axis=-1) - rgb.min(axis=-1), 99)) > 40
