"""A corpus of bad and odd inputs, made on the fly (nothing binary is committed).

Each case is (name, bytes, expected): expected is None for an input that must be read
(odd but valid: palette, CMYK, 16-bit, animated, tiny, very wide), else (HTTP status,
a fragment of the error message). The same corpus goes through the command line, the
Python API and the HTTP service (test_hardening.py).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from captcha_break.synth import SynthConfig, draw


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def captcha(seed: int = 0) -> Image.Image:
    return draw(SynthConfig(), "bad-inputs", seed)[0]


def gray16(image: Image.Image) -> Image.Image:
    """The 8-bit grayscale picture at 16 bits (values x 257), as a 16-bit PNG stores it."""
    values = np.asarray(image.convert("L")).astype(np.uint16) * 257
    return Image.fromarray(values)  # uint16 -> mode I;16


def corrupt_crc(png: bytes) -> bytes:
    """The PNG with one byte of its image data changed, so its CRC no longer matches."""
    data = bytearray(png)
    at = data.index(b"IDAT") + 8
    data[at] ^= 0xFF
    return bytes(data)


def bomb_1bit() -> bytes:
    """A few KB that decode to 6320x6320 pixels: a 1-bit PNG with transparency."""
    return encode(Image.new("1", (6320, 6320)), transparency=0)


def animated_gif() -> bytes:
    frames = [captcha(1), captcha(2).rotate(180)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def many_page_tiff(pages: int) -> bytes:
    """A TIFF of `pages` one-pixel grayscale pages, each a chain link of 7 tags pointing to one
    shared pixel: 90 bytes a page, and costly to count page by page. Written by hand (Pillow
    appends pages in quadratic time)."""
    tags = 7
    ifd_size = 2 + tags * 12 + 4
    pixel = 8 + pages * ifd_size  # the one byte after the last page
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for page in range(pages):
        following = 8 + (page + 1) * ifd_size if page + 1 < pages else 0
        entries = [
            (256, 3, 1, 1),
            (257, 3, 1, 1),
            (258, 3, 1, 8),
            (262, 3, 1, 1),
            (273, 4, 1, pixel),
            (278, 3, 1, 1),
            (279, 4, 1, 1),
        ]
        out += (
            struct.pack("<H", tags) + b"".join(struct.pack("<HHII", *entry) for entry in entries) + struct.pack("<I", following)
        )
    return bytes(out + b"\x80")


def icon_hiding_a_big_png() -> bytes:
    """An ICO whose directory says 16x16 around a PNG of 3000x3000 (a bomb under the header)."""
    inner = encode(Image.new("1", (3000, 3000)))
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(inner), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + inner


def jpeg_stating(width: int, height: int) -> bytes:
    """A 16x16 JPEG whose header (SOF0) states another size: libjpeg fills the rest with gray."""
    data = bytearray(encode(Image.new("L", (16, 16), 128), "JPEG"))
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def corpus() -> list[tuple[str, bytes, tuple[int, str] | None]]:
    png = encode(captcha())
    return [
        ("palette", encode(captcha().convert("P")), None),
        ("rgba", encode(captcha().convert("RGBA")), None),
        ("gray16", encode(gray16(captcha())), None),
        ("cmyk-jpeg", encode(captcha().convert("CMYK"), "JPEG"), None),
        ("animated-gif", animated_gif(), None),
        ("one-pixel", encode(Image.new("RGB", (1, 1), "white")), None),
        ("5000x50", encode(Image.new("L", (5000, 50), 255)), None),
        ("empty", b"", (400, "empty")),
        ("text", b"hello, this is not an image", (400, "not an image")),
        (
            "svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
            (400, "not an image"),
        ),
        ("truncated-png", png[: len(png) // 2], (400, "truncated")),
        ("crc-corrupted-png", corrupt_crc(png), (400, "corrupt")),
        ("header-only-png", png[:33] + png_chunk(b"IEND", b""), (400, "corrupt")),
        ("jpeg-stating-65500x61", jpeg_stating(65500, 61), (400, "corrupt")),
        ("truncated-jpeg", (jpeg := encode(captcha(), "JPEG"))[: len(jpeg) // 2], (400, "truncated")),
        ("bomb-1bit-6320", bomb_1bit(), (413, "too large")),
        ("tiff-3000-pages", many_page_tiff(3000), None),  # read from its first page, pages never counted
        ("ico-hiding-3000x3000", icon_hiding_a_big_png(), (400, "ICO files are not read")),
    ]
