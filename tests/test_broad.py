"""The broad synthetic style and the fonts it draws with."""

import hashlib
import random
import string
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from captcha_break import synth
from captcha_break.broad import _in_margins
from captcha_break.fonts import MAX_PER_SOURCE, _spread, broad_fonts, font_problem, installed_fonts
from captcha_break.preprocess import InputSpec
from captcha_break.synth import SynthConfig, _site_label, draw, draw_arrays, draw_arrays_cached

ALL = string.digits + string.ascii_letters


def png_digest(image) -> str:
    return hashlib.sha256(image.tobytes() + repr(image.size).encode()).hexdigest()


def test_broad_is_reproducible_and_varied():
    config = SynthConfig(chars=ALL, min_len=1, max_len=10, style="broad")
    first = [draw(config, 3, i) for i in range(40)]
    again = [draw(config, 3, i) for i in range(40)]
    assert [png_digest(im) for im, _ in first] == [png_digest(im) for im, _ in again]
    assert [label for _, label in first] == [label for _, label in again]
    labels = [label for _, label in first]
    assert len({len(label) for label in labels}) >= 6 and all(1 <= len(label) <= 10 for label in labels)
    assert any(c.islower() for label in labels for c in label) and any(c.isupper() for label in labels for c in label)
    sizes = {im.size for im, _ in first}
    assert len({h for _, h in sizes}) > 5  # many heights, widths following the text
    # Not all white on black: backgrounds and text colours vary.
    means = [np.asarray(im.convert("RGB")).reshape(-1, 3).mean(0) for im, _ in first]
    assert np.ptp([m[0] for m in means]) > 40


def test_broad_labels_come_from_site_alphabets_with_repeats():
    rng = random.Random(0)
    config = SynthConfig(chars=ALL, style="broad")
    labels = [_site_label(config, 4, rng) for _ in range(3000)]
    digits = sum(label.isdigit() for label in labels) / len(labels)
    assert 0.27 < digits < 0.36  # the digits-only sites' share, and few from the other alphabets
    no_lower = sum(not any(c.islower() for c in label) for label in labels) / len(labels)
    assert no_lower > 0.4  # digits-only + upper-case sites; the full charset alone gives 11%
    doubled = sum(any(a == b for a, b in zip(label, label[1:])) for label in labels) / len(labels)
    assert doubled > 0.1  # 62 characters drawn uniformly would double one in 5% of labels
    # Only ever the charset's characters; a charset without digits keeps its own alphabet.
    assert {c for label in labels for c in label} == set(ALL)
    assert {c for _ in range(200) for c in _site_label(SynthConfig(chars="ABC", style="broad"), 5, rng)} == set("ABC")
    # --focus still weighs its characters, in whichever alphabet holds them.
    focus = SynthConfig(chars=ALL, style="broad", focus="Z")
    focused = Counter("".join(_site_label(focus, 4, rng) for _ in range(3000)))
    assert focused["Z"] > 2 * focused["Y"]


def test_broad_uses_many_fonts_and_only_fonts_that_draw_the_charset():
    fonts = broad_fonts(ALL)
    assert len(fonts) >= 10  # matplotlib's DejaVu alone gives 8 (of a dozen), the PyPI fonts dozens
    assert all(font_problem(f, ALL) is None for f in fonts)
    assert not any("cmex10" in f or "STIXSiz" in f for f in fonts)
    assert len({src for _, src in installed_fonts(ALL)}) >= 2


def test_no_source_of_fonts_outweighs_the_others():
    per_source = Counter(source for _, source in installed_fonts(ALL))
    assert max(per_source.values()) <= MAX_PER_SOURCE
    family = [f"f{i}-{style}" for i in range(4) for style in ("bold", "bolditalic", "italic", "light")]
    assert _spread(family, 4) == ["f0-bold", "f1-bold", "f2-bold", "f3-bold"]  # through the families
    assert _spread(list("abc"), 4) == list("abc")


def test_a_familys_regular_face_is_never_left_out_for_its_other_weights():
    liberation = [f"liberation{family}-{style}" for family in ("mono", "sans", "sansnarrow", "serif")
                  for style in ("bold", "bolditalic", "italic", "regular")]  # fmt: skip
    chosen = _spread(liberation, 8)
    assert [stem for stem in chosen if stem.endswith("-regular")] == [
        f"liberation{f}-regular" for f in ("mono", "sans", "sansnarrow", "serif")
    ]
    assert len(chosen) == 8 and chosen == sorted(chosen)  # four more of the other faces, in name order
    assert _spread(["freemono", "freemonobold", "freeserif", "freeserifbold", "freeserifitalic"], 2) == ["freemono", "freeserif"]


def test_caps_only_and_symbol_fonts_are_refused_for_mixed_case(symbol_font, font_folder):
    assert "no glyph" in font_problem(str(symbol_font), ALL)
    assert font_problem(str(font_folder / "DejaVuSans.ttf"), ALL) is None


def test_broad_arrays_fit_any_input_spec():
    config = SynthConfig(chars="0123456789", min_len=4, max_len=6, style="broad")
    pixels, labels = draw_arrays(config, InputSpec(48, 256, 3, fit="pad"), seed=0, count=6)
    assert pixels.shape == (6, 3, 48, 256) and all(4 <= len(label) <= 6 for label in labels)


def test_a_stopped_pregeneration_resumes_from_its_chunks(monkeypatch):
    monkeypatch.setattr(synth, "CHUNK", 8)
    config, spec = SynthConfig(), InputSpec(32, 64, 1)
    expected, expected_labels = draw_arrays(config, spec, "s", 20)
    real = synth.draw_arrays
    calls = []

    def flaky(*args, **kwargs):
        calls.append(kwargs.get("start", 0))
        if len(calls) == 2:
            raise KeyboardInterrupt  # stopped while drawing the second chunk
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "draw_arrays", flaky)
    with pytest.raises(KeyboardInterrupt):
        draw_arrays_cached(config, spec, "s", 20)
    calls.clear()
    monkeypatch.setattr(synth, "draw_arrays", lambda *a, **k: (calls.append(k.get("start", 0)), real(*a, **k))[1])
    pixels, labels = draw_arrays_cached(config, spec, "s", 20)
    assert calls == [8, 16]  # the first chunk was not drawn again
    assert np.array_equal(pixels, expected) and labels == expected_labels


def test_small_text_in_wide_margins_keeps_every_stroke():
    text = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    text.paste((200, 0, 0, 255), (5, 5, 35, 15))
    for seed in range(20):
        placed = _in_margins(text, random.Random(seed))
        assert placed.width >= text.width and placed.height > text.height
        alpha = np.asarray(placed)[..., 3]
        assert (alpha == 255).sum() == 30 * 10  # the whole text, nothing cut off, nothing added


def test_broad_draws_light_on_dark_and_text_in_margins():
    config = SynthConfig(chars=ALL, min_len=4, max_len=4, style="broad")
    images = [draw(config, 5, i)[0].convert("L") for i in range(120)]
    dark = [im for im in images if np.median(np.asarray(im)) < 90]
    assert len(dark) >= 10  # dark backgrounds, the library's style inverted among them
    # Four characters in margins make some images much taller for their width than others.
    aspects = [im.width / im.height for im in images]
    assert min(aspects) < 1.3 and max(aspects) > 3


def test_the_sites_style_adds_small_one_bit_speckled_and_stamped_captchas_reproducibly():
    from captcha_break.families import FAMILIES, draw_small_binarized, draw_speckled, draw_stamped

    chars = string.digits + string.ascii_letters
    fonts = broad_fonts(chars)
    small = np.asarray(draw_small_binarized("00472", fonts, random.Random(1)))
    assert small.shape[0] <= 26 and set(np.unique(small)) <= {0, 255}  # 1-bit, no antialiasing
    speckled = np.asarray(draw_speckled("abXy7", fonts, random.Random(2)).convert("L"))
    assert speckled.shape[0] >= 40 and (speckled < 128).mean() > 0.03  # ink well past the glyphs'
    stamped = np.asarray(draw_stamped("gM8bLj", fonts, random.Random(3)))
    assert set(np.unique(stamped)) <= {0, 255} and 0.1 < (stamped == 0).mean() < 0.6  # 1-bit, dense ink
    assert np.array_equal(stamped, np.asarray(draw_stamped("gM8bLj", fonts, random.Random(3))))
    for family in FAMILIES:  # every look: its own random stream fixes it, and it draws ink
        drawn = np.asarray(family("16CWaQ", fonts, random.Random(4)).convert("L"))
        assert np.array_equal(drawn, np.asarray(family("16CWaQ", fonts, random.Random(4)).convert("L"))), family.__name__
        assert drawn.shape[1] > drawn.shape[0] and (drawn < 100).mean() > 0.01, family.__name__
    config = SynthConfig(chars, 1, 10, style="sites")
    first = [np.asarray(draw(config, "s", i)[0]) for i in range(40)]
    assert all(np.array_equal(a, np.asarray(draw(config, "s", i)[0])) for i, a in enumerate(first))
    one_bit = [a for a in first if set(np.unique(a)) <= {0, 255} and a.shape[0] <= 26]
    assert one_bit and len(one_bit) < 20  # the families are a share of the mix, not all of it
