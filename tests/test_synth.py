import hashlib
import io
import random
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageDraw

from captcha_break.fonts import find_fonts
from captcha_break.options import parse_length
from captcha_break.preprocess import InputSpec
from captcha_break.styles import _generator, _seeded
from captcha_break.synth import SynthConfig, draw, draw_arrays, write_pngs


def png_digest(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return hashlib.sha256(buffer.getvalue()).hexdigest()


@pytest.mark.parametrize("style", ["v07", "v03", "mixed", "lines"])
def test_same_seed_gives_identical_images(style):
    config = SynthConfig(style=style)
    first = [png_digest(draw(config, 7, i)[0]) for i in range(4)]
    again = [png_digest(draw(config, 7, i)[0]) for i in range(4)]
    other = [png_digest(draw(config, 8, i)[0]) for i in range(4)]
    assert first == again
    assert len(set(first)) == 4
    assert set(first).isdisjoint(other)


def test_files_are_byte_identical_across_runs_and_worker_counts(tmp_path):
    config = SynthConfig()
    one = write_pngs(config, tmp_path / "a", 80, seed=3, workers=0)
    two = write_pngs(config, tmp_path / "b", 80, seed=3, workers=2)
    assert one == two
    for name in one:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    label, index = one[17].removesuffix(".png").split("_")
    assert index == "000017" and len(label) == 4


def test_seeding_does_not_leak_into_the_captcha_library():
    import secrets

    import captcha.image

    draw(SynthConfig(), 1, 0)
    assert captcha.image.secrets is secrets


def test_length_range_charset_and_size():
    config = SynthConfig(chars="AB", min_len=4, max_len=6, width=170, height=80)
    images_labels = [draw(config, 0, i) for i in range(30)]
    assert {len(label) for _, label in images_labels} == {4, 5, 6}
    assert all(set(label) <= {"A", "B"} for _, label in images_labels)
    assert all(image.size == (170, 80) for image, _ in images_labels)


def test_draw_arrays_matches_the_model_input():
    pixels, labels = draw_arrays(SynthConfig(), InputSpec(32, 64, 1), seed=0, count=5)
    assert pixels.shape == (5, 1, 32, 64) and pixels.dtype.name == "uint8"
    assert labels == [draw(SynthConfig(), 0, i)[1] for i in range(5)]


@pytest.mark.parametrize("text,expected", [("4", (4, 4)), ("4-6", (4, 6)), (" 2 - 3 ", (2, 3))])
def test_parse_length(text, expected):
    assert parse_length(text) == expected


@pytest.mark.parametrize("text", ["0", "6-4", "a", "4-", ""])
def test_parse_length_rejects(text):
    with pytest.raises(ValueError):
        parse_length(text)


def test_fonts_change_the_drawing_and_stay_reproducible(font_folder):
    serif = SynthConfig(fonts=(str(font_folder / "DejaVuSerif.ttf"),))
    library = [png_digest(draw(SynthConfig(), 4, i)[0]) for i in range(3)]
    drawn = [png_digest(draw(serif, 4, i)[0]) for i in range(3)]
    assert [draw(serif, 4, i)[1] for i in range(3)] == [draw(SynthConfig(), 4, i)[1] for i in range(3)]
    assert set(drawn).isdisjoint(library)  # same labels and randomness, another font
    assert drawn == [png_digest(draw(serif, 4, i)[0]) for i in range(3)]


def test_find_fonts_expands_folders_and_rejects_bad_fonts(tmp_path, font_folder):
    found = find_fonts([str(font_folder)])
    assert len(found) == 5 and all(f.endswith((".ttf", ".otf", ".ttc")) for f in found)
    assert found == tuple(sorted(found))
    with pytest.raises(ValueError, match="no font files"):
        find_fonts([str(tmp_path)])
    fake = tmp_path / "fake.ttf"
    fake.write_bytes(b"not a font")
    with pytest.raises(ValueError, match="cannot use font .*fake.ttf"):
        SynthConfig(fonts=find_fonts([str(fake)]))
    with pytest.raises(ValueError, match="cannot use font"):
        SynthConfig(fonts=[str(tmp_path / "missing.ttf")])


def test_fonts_without_the_characters_glyphs_are_rejected(symbol_font, font_folder):
    with pytest.raises(ValueError, match="STIXSizOneSymReg.ttf has no glyph for '0123"):
        SynthConfig(fonts=(str(symbol_font),))
    serif = str(font_folder / "DejaVuSerif.ttf")
    assert SynthConfig(chars="AZ09", fonts=(serif,)).fonts == (serif,)


def test_lines_style_is_as_wide_as_its_text_in_one_font_and_many_colours(font_folder):
    config = SynthConfig(min_len=4, max_len=8, height=80, style="lines", fonts=find_fonts([str(font_folder)]))
    drawn = [draw(config, 5, i) for i in range(40)]
    assert {len(label) for _, label in drawn} == set(range(4, 9))
    assert all(image.height == 80 and image.mode == "RGB" for image, _ in drawn)
    widths = {n: [image.width for image, label in drawn if len(label) == n] for n in (4, 8)}
    assert max(widths[4]) < 640 and sum(widths[8]) / len(widths[8]) > sum(widths[4]) / len(widths[4])
    pixels = np.asarray(drawn[0][0]).reshape(-1, 3).astype(int)
    ink = pixels[pixels.sum(axis=1) < 600]  # not the white background
    colourful = ink[np.ptp(ink, axis=1) > 40]
    assert len(np.unique(colourful // 32, axis=0)) > 3  # characters in different colours


def test_focus_draws_its_characters_three_times_as_often():
    focused = SynthConfig(focus="0O")
    counts = Counter("".join(draw(focused, 5, i)[1] for i in range(600)))
    others = sum(counts[c] for c in focused.chars if c not in "0O") / 34
    assert 2.4 < counts["0"] / others < 3.6 and 2.4 < counts["O"] / others < 3.6
    with pytest.raises(ValueError, match="not all in the charset"):
        SynthConfig(chars="0123456789", focus="O")


def test_the_focus_weight_sets_how_often():
    heavy = SynthConfig(focus="0O", focus_weight=8)
    counts = Counter("".join(draw(heavy, 5, i)[1] for i in range(600)))
    others = sum(counts[c] for c in heavy.chars if c not in "0O") / 34
    assert 6 < counts["0"] / others < 10 and 6 < counts["O"] / others < 10
    with pytest.raises(ValueError, match="focus weight"):
        SynthConfig(focus="0O", focus_weight=0)


def test_training_focus_leaves_validation_uniform():
    from captcha_break.charset import DEFAULT_CHARS, Charset
    from captcha_break.config import TrainConfig
    from captcha_break.sources import training_data

    spec = InputSpec(32, 64, 1)
    plain = TrainConfig(epoch_size=400, val_size=400, workers=0)
    focused = TrainConfig(epoch_size=400, val_size=400, workers=0, focus="0O")
    heavy = TrainConfig(epoch_size=400, val_size=400, workers=0, focus="0O", focus_weight=8)
    a, b, c = (training_data(c, spec, Charset(DEFAULT_CHARS), print) for c in (plain, focused, heavy))
    assert a.val.labels == b.val.labels == c.val.labels  # the same uniform validation stream
    share = {
        name: Counter("".join(d.train[i][1] for i in range(400))) for name, d in (("plain", a), ("focused", b), ("heavy", c))
    }
    pair = {name: counts["0"] + counts["O"] for name, counts in share.items()}
    assert pair["heavy"] > 1.5 * pair["focused"] > 3 * pair["plain"]


def test_v03_boxes_characters_as_captcha_03_did():
    # Captcha 0.3 sized each character's box with draw.textsize: under Pillow 9.5 that is
    # 25x45, 30x53 and 34x61 px for DroidSansMono's "0" at its three font sizes (0.7 draws
    # a pixel larger each way). The glyph is squeezed into that box, whatever the warp.
    generator = _generator(128, 64, "v03", ())
    pen = ImageDraw.Draw(Image.new("RGB", (128, 64)))
    sizes = set()
    with _seeded(random.Random(0)):
        for _ in range(40):
            sizes.add(generator._draw_character("0", pen, (0, 0, 0, 255)).size)
    assert sizes == {(25, 45), (30, 53), (34, 61)}
