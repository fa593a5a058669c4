import io

import numpy as np
import pytest
from PIL import Image

from captcha_break.decode import open_image
from captcha_break.preprocess import ImageError, InputSpec, normalize, reading_spec, text_box, to_pixels, to_views

SPEC = InputSpec(64, 128, 3)


def encoded(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def test_rgba_transparent_background_becomes_white():
    image = Image.new("RGBA", (50, 20), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (10, 5, 20, 15))
    pixels = to_pixels(encoded(image, "PNG"), InputSpec(20, 50, 3))
    assert pixels[:, 0, 0].tolist() == [255, 255, 255]
    assert pixels[:, 10, 15].tolist() == [200, 0, 0]


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "LA", "I;16", "1"])
def test_modes_pillow_reads(mode):
    image = Image.new("RGB", (60, 30), (255, 255, 255)).convert(mode)
    pixels = to_pixels(encoded(image, "PNG"), SPEC)
    assert pixels.shape == (3, 64, 128) and pixels.dtype == np.uint8


def test_palette_with_transparency_is_white():
    image = Image.new("P", (40, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    data = encoded(image, "PNG", transparency=0)
    assert to_pixels(data, InputSpec(20, 40, 1))[0, 0, 0] == 255


def test_jpeg_and_gif_first_frame():
    jpeg = encoded(Image.new("RGB", (128, 64), (10, 20, 30)), "JPEG")
    assert abs(int(to_pixels(jpeg, SPEC)[2, 5, 5]) - 30) < 4
    frames = [Image.new("RGB", (40, 20), c) for c in ((0, 0, 255), (255, 0, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    first = to_pixels(buffer.getvalue(), InputSpec(20, 40, 3))
    assert first[2, 5, 5] > 200 and first[0, 5, 5] < 50


def test_arrays_and_grayscale_spec():
    array = np.full((64, 128, 3), 255, np.uint8)
    assert normalize(to_pixels(array, InputSpec(32, 64, 1))).shape == (1, 32, 64)
    assert normalize(to_pixels(array.astype(np.float32) / 255, SPEC)).max() == pytest.approx(1.0)
    with pytest.raises(ImageError):
        to_pixels(np.zeros((4, 4, 5)), SPEC)


def test_bad_inputs_have_clear_errors(tmp_path):
    good = encoded(Image.new("RGB", (128, 64), "white"), "PNG")
    cases = {
        "not an image": b"hello, this is text",
        "corrupt or truncated": good[: len(good) // 2],
        "empty file": b"",
    }
    for reason, data in cases.items():
        path = tmp_path / "x.png"
        path.write_bytes(data)
        with pytest.raises(ImageError, match=reason):
            open_image(path)
    with pytest.raises(ImageError, match="no file at"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="not a regular file"):
        open_image(tmp_path)  # a folder


def test_huge_images_are_refused_before_decoding():
    # A PNG header that claims 20000 x 20000 pixels: refused from the header alone.
    huge = encoded(Image.new("1", (20000, 20000)), "PNG")
    with pytest.raises(ImageError, match="too large"):
        open_image(huge)


def test_pad_fit_keeps_the_aspect_ratio_and_pads_with_the_background():
    spec = InputSpec(height=32, width=128, channels=3, fit="pad")
    dark = np.zeros((40, 60, 3), np.uint8)  # a dark captcha, 60 wide at height 40
    dark[10:30, 20:40] = 255  # one bright character
    out = to_pixels(dark, spec)
    assert out.shape == (3, 32, 128)
    assert out[:, :, 48:].max() == 0  # 60 * 32/40 = 48 columns of image, then dark padding
    assert out[:, 10:22, 18:30].min() > 200  # the character kept its square shape
    wide = to_pixels(np.full((20, 400, 3), 255, np.uint8), spec)  # too wide even scaled: squeezed
    assert wide.shape == (3, 32, 128) and wide.min() == 255
    with pytest.raises(ValueError, match="fit"):
        InputSpec(fit="trim")


def test_a_wide_image_is_read_at_its_own_width_up_to_twice_the_inputs():
    spec = InputSpec(height=48, width=256, channels=3, fit="pad")
    assert reading_spec(spec, (200, 80)) == spec  # 120 px at height 48: fits, padded
    assert reading_spec(spec, (640, 80)).width == 384  # 384 px at height 48, not squeezed into 256
    assert reading_spec(spec, (650, 80)).width == 400  # 390, in steps of 16
    assert reading_spec(spec, (4000, 80)).width == 512  # at most twice the input
    assert reading_spec(InputSpec(48, 256, 3, fit="stretch"), (640, 80)).width == 256  # stretched: as trained
    wide = np.zeros((80, 640, 3), np.uint8)
    wide[20:60, 300:340] = 255  # a square character
    out = to_pixels(wide, reading_spec(spec, (640, 80)))
    assert out.shape == (3, 48, 384) and out[:, 14:34, 182:202].min() > 200  # square still, not squeezed


def small_text_with_a_line() -> Image.Image:
    """A 400x80 white image: pale "text" (two blocks) in a 20-px band, and a 1-px line
    from edge to edge below it, as variable_upper's captchas draw them."""
    image = np.full((80, 400, 3), 255, np.uint8)
    image[30:50, 150:170] = (255, 235, 255)  # pale: 20 from white, in green only
    image[30:50, 200:230] = (40, 40, 200)
    image[65, :] = (0, 0, 0)
    return Image.fromarray(image)


def test_the_text_box_holds_the_text_not_the_lines_across_it():
    left, top, right, bottom = text_box(small_text_with_a_line())
    assert 140 <= left <= 150 and 230 <= right <= 240  # the text and a margin; the line is 400 px long
    assert 25 <= top <= 30 and 50 <= bottom <= 56
    assert text_box(Image.new("RGB", (60, 30), "white")) == (0, 0, 60, 30)  # nothing there: all of it
    filled = np.zeros((40, 100, 3), np.uint8)
    filled[2:38, 2:98] = 255
    assert text_box(Image.fromarray(filled)) == (0, 0, 100, 40)  # text to the edges: nothing cut


def test_the_text_box_finds_dark_text_on_a_busy_pale_background():
    # Pastel checks over the whole image stand out from its border too; the text, far
    # darker, is boxed on its own.
    yy, xx = np.mgrid[0:90, 0:200]
    image = np.where(((xx // 6 + yy // 6) % 2)[..., None] == 1, (200, 210, 235), (240, 240, 250)).astype(np.uint8)
    image[15:40, 40:160] = (20, 20, 20)
    left, top, right, bottom = text_box(Image.fromarray(image))
    assert 30 <= left <= 40 and 160 <= right <= 170
    assert 5 <= top <= 15 and 40 <= bottom <= 50
    busy = np.where(((xx // 6 + yy // 6) % 2)[..., None] == 1, (0, 0, 0), (255, 255, 255)).astype(np.uint8)
    assert text_box(Image.fromarray(busy)) == (0, 0, 200, 90)  # strong everywhere: clutter, no box


def test_crop_fit_scales_the_text_to_the_input_height():
    image = small_text_with_a_line()
    padded = to_pixels(image, InputSpec(48, 256, 3, fit="pad"))
    cropped = to_pixels(image, InputSpec(48, 256, 3, fit="crop"))
    assert cropped.shape == padded.shape == (3, 48, 256)
    dark_rows = lambda pixels: int((pixels[2] < 220).any(axis=1).sum())  # the dark blue block's rows  # noqa: E731
    assert dark_rows(padded) < 15 and dark_rows(cropped) > 25  # 12 of 48 rows before, about two thirds after
    filled = np.full((40, 100, 3), 255, np.uint8)
    filled[8:34, 10:90] = 0  # text over 70% of the height: not cut, whatever the filter sees
    assert (to_pixels(filled, InputSpec(48, 256, 3, fit="crop")) == to_pixels(filled, InputSpec(48, 256, 3, fit="pad"))).all()
    # Read at any width, a wide text keeps its width after the crop: 100x8 of text -> 48 rows high, not 10.
    wide = np.full((80, 900, 3), 255, np.uint8)
    wide[36:44, 50:850] = 0
    out = to_pixels(wide, InputSpec(48, 256, 3, fit="crop"), widen=True)
    assert out.shape == (3, 48, 512)


def test_views_are_to_pixels_in_each_fit_and_a_crop_that_cuts_nothing_is_not_repeated():
    specs = [InputSpec(48, 256, 3, fit=fit) for fit in ("pad", "crop", "stretch")]
    image = small_text_with_a_line()
    views = to_views(image, specs)
    assert len(views) == 3 and all((v == to_pixels(image, s)).all() for v, s in zip(views, specs))
    filled = np.full((40, 100, 3), 255, np.uint8)
    filled[8:34, 10:90] = 0  # nothing to cut: crop is pad
    assert len(to_views(filled, specs)) == 2 and len(to_views(filled, specs[1:])) == 2  # crop first: kept once
    assert len(to_views(filled, specs[:2])) == 1
