import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import matplotlib_font
from PIL import Image, ImageDraw, ImageFont

from captcha_break.assets import ONNX_METADATA_KEY
from captcha_break.export import export_onnx
from captcha_break.preprocess import ImageError
from captcha_break.recognizer import Prediction, Recognizer
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig


def test_every_input_kind_gives_the_same_answer(tiny_model):
    recognizer = Recognizer.load(tiny_model["onnx"])
    path = sorted(tiny_model["images"].glob("*.png"))[0]
    image = Image.open(path)
    inputs = [str(path), path, path.read_bytes(), image, np.asarray(image)]
    results = [recognizer.predict(x) for x in inputs]
    assert all(isinstance(r, Prediction) for r in results)
    assert len({r.text for r in results}) == 1
    batch = recognizer.predict(inputs)
    assert isinstance(batch, list) and [r.text for r in batch] == [r.text for r in results]
    assert all(0 <= r.confidence <= 1 and len(r.char_probs) == len(r.text) for r in batch)
    assert recognizer.predict([]) == []


def test_bad_input_raises_image_error(tiny_model):
    recognizer = Recognizer.load(tiny_model["onnx"])
    with pytest.raises(ImageError):
        recognizer.predict(b"definitely not an image")


def test_predicting_never_imports_torch(tiny_model):
    code = (
        "import sys; from captcha_break import Recognizer; "
        f"r = Recognizer.load({str(tiny_model['onnx'])!r}); "
        f"print(r.predict({str(sorted(tiny_model['images'].glob('*.png'))[0])!r}).text); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_onnx_matches_torch_on_200_captchas(tiny_model):
    torch_r = Recognizer.load(tiny_model["pt"])
    onnx_r = Recognizer.load(tiny_model["onnx"])
    samples = fresh_samples(onnx_r.spec, 200, "onnx-check", SynthConfig(), workers=2)
    x = samples.pixels.astype(np.float32) / 255
    np.testing.assert_allclose(onnx_r.backend(x), torch_r.backend(x), atol=1e-4, rtol=1e-3)
    assert [d.text for d in onnx_r.predict_pixels(samples.pixels)] == [d.text for d in torch_r.predict_pixels(samples.pixels)]


def test_onnx_carries_its_own_description_and_int8_runs(tiny_model, tmp_path):
    r = Recognizer.load(tiny_model["onnx"])
    assert r.info.name == "crnn_fast" and r.info.input.shape == (1, 64, 128) and r.info.scheme.name == "ctc"
    int8 = Recognizer.load(export_onnx(tiny_model["pt"], tmp_path / "q.onnx", int8="dynamic"))
    assert (tmp_path / "q.onnx").stat().st_size < tiny_model["onnx"].stat().st_size
    assert isinstance(int8.predict(Image.new("RGB", (128, 64), "white")).text, str)
    x = np.random.default_rng(0).random((4, 1, 64, 128), dtype=np.float32)
    for fmt, share, atol in (("fp16", 0.6, 5e-3), ("int8", 0.35, 0.1)):
        small = Recognizer.load(export_onnx(tiny_model["pt"], tmp_path / f"{fmt}.onnx", weights=fmt))
        assert (tmp_path / f"{fmt}.onnx").stat().st_size < share * tiny_model["onnx"].stat().st_size
        np.testing.assert_allclose(small.backend(x), r.backend(x), atol=atol)
    # CTC models read other widths: the exported graph keeps the width dynamic.
    assert r.backend(np.zeros((2, 1, 64, 256), np.float32)).shape[:2] == (2, 32)


def test_static_int8_calibrates_on_the_runs_task_or_a_folder(tiny_model, tmp_path):
    fp32 = Recognizer.load(tiny_model["onnx"])
    samples = fresh_samples(fp32.spec, 64, "static-check", SynthConfig(), workers=0)
    x = samples.pixels.astype(np.float32) / 255
    for name, folder in (("task", None), ("folder", tiny_model["images"])):
        path = export_onnx(tiny_model["pt"], tmp_path / f"{name}.onnx", int8="static", calibration=folder)
        static = Recognizer.load(path)
        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert json.loads(props[ONNX_METADATA_KEY])["quantization"] == "int8-static"
        # int8 arithmetic: close to the fp32 logits, not equal to them
        diff = np.abs(static.backend(x) - fp32.backend(x))
        assert 0 < diff.mean() < 0.1 * np.abs(fp32.backend(x)).mean()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="no readable image"):
        export_onnx(tiny_model["pt"], tmp_path / "x.onnx", int8="static", calibration=tmp_path / "broken")
    with pytest.raises(ValueError, match="--int8 static"):
        export_onnx(tiny_model["pt"], tmp_path / "x.onnx", int8="dynamic", calibration=tiny_model["images"])
    with pytest.raises(ValueError, match="no folder of calibration images"):
        export_onnx(tiny_model["pt"], tmp_path / "x.onnx", int8="static", calibration=tmp_path / "missing")


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path):
    fake = tmp_path / "m.onnx"
    fake.write_bytes(b"nope")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        Recognizer.load(fake)
    with pytest.raises(FileNotFoundError):
        Recognizer.load(tmp_path / "missing.onnx")


def test_a_padded_ctc_model_reads_a_wide_image_at_its_width_and_a_list_in_order():
    general = Recognizer.load("general")  # crnn_lite padded to 256x48: reads any width
    assert general.reads_any_width and general.spec.width == 256
    rng = np.random.default_rng(0)
    narrow, wide = (rng.integers(0, 255, (80, w, 3), dtype=np.uint8) for w in (200, 640))
    assert general.pixels(wide).shape == (3, 48, 384) and general.pixels(narrow).shape == (3, 48, 256)
    one_by_one = [general.predict(image) for image in (narrow, wide, narrow, wide)]
    together = general.predict([narrow, wide, narrow, wide])  # two widths, two batches, one order
    assert [(p.text, round(p.confidence, 4)) for p in together] == [(p.text, round(p.confidence, 4)) for p in one_by_one]
    default = Recognizer.load("captcha4")  # stretched to 128x64, as it was trained
    assert not default.reads_any_width and default.pixels(wide).shape == (1, 64, 128)  # gray


def test_evaluating_a_folder_reads_its_files_as_predict_does(tmp_path):
    """evaluate --data: a wide file is read at its own width, as `predict` reads it, not
    from the copy at the input size that the folder's cache holds."""
    from captcha_break.evaluate import read_samples
    from captcha_break.folders import load_folder

    general = Recognizer.load("general")
    rng = np.random.default_rng(1)
    for i, width in enumerate((200, 640, 900)):
        Image.fromarray(rng.integers(0, 255, (80, width, 3), dtype=np.uint8)).save(
            tmp_path / f"{('K3PA', 'Z8AB', 'M2QX')[i]}.png"
        )
    samples = load_folder(tmp_path, general.spec).samples
    read, _ = read_samples(general, samples, folder=tmp_path)
    expected = general.predict([tmp_path / name for name in samples.names])
    assert [p.text for p in read] == [p.text for p in expected]
    assert [round(p.confidence, 4) for p in read] == [round(p.confidence, 4) for p in expected]
    # The plain command's own test report reads them the same way.
    from captcha_break.report import write_report

    samples.labels = [p.text for p in expected]
    report = write_report("general", samples, tmp_path, log=lambda *_: None, folder=tmp_path)
    assert report["accuracy"] == 1.0


def test_general_reads_small_text_in_a_large_image_as_the_text_alone():
    """general reads padded and cropped (its file's read_fits): the text, 20 px high in a
    400x80 image crossed by a line to the edges, is read as its own tight image is, cut to the
    text rather than scaled to a third of the input's height."""
    font = ImageFont.truetype(str(matplotlib_font("DejaVuSans-Bold.ttf")), 26)
    tight = Image.new("RGB", (90, 30), "white")
    ImageDraw.Draw(tight).text((4, 1), "H4WX", font=font, fill=(40, 90, 200))
    large = Image.new("RGB", (400, 80), "white")
    large.paste(tight, (150, 25))
    ImageDraw.Draw(large).line((0, 70, 400, 60), fill=(60, 60, 60), width=1)
    general = Recognizer.load("general")
    assert [spec.fit for spec in general.views] == ["pad", "crop"]
    assert general.predict(large).text == general.predict(tight).text == "H4WX"


def _small_text_in_margins() -> Image.Image:
    """Dark digits 12 px high in a 200x80 white image: "crop" cuts it to them, "pad" does not."""
    image = Image.new("RGB", (200, 80), "white")
    font = ImageFont.truetype(str(matplotlib_font("DejaVuSans.ttf")), 12)
    ImageDraw.Draw(image).text((60, 34), "4821", fill="black", font=font)
    return image


def test_a_reader_of_both_fits_reads_each_image_both_ways_and_keeps_the_surer_reading():
    small, filled = _small_text_in_margins(), Image.new("RGB", (120, 40), "black")
    both = Recognizer.load("general", fit="both")
    assert [s.fit for s in both.views] == ["pad", "crop"]
    assert len(both.inputs(small)) == 2  # cut to its text: a second way
    assert len(both.inputs(filled)) == 1  # nothing to cut: crop is pad, read once
    readings = {fit: Recognizer.load("general", fit=fit).predict(small) for fit in ("pad", "crop")}
    surer = max(readings.values(), key=lambda p: p.confidence)
    got = both.predict(small)
    assert (got.text, round(got.confidence, 5)) == (surer.text, round(surer.confidence, 5))
    assert [p.text for p in both.predict([small, filled, small])] == [got.text, both.predict(filled).text, got.text]


def test_the_fits_a_model_is_read_in_come_from_its_file_unless_given(tiny_model):
    recognizer = Recognizer.load(tiny_model["onnx"])
    assert [s.fit for s in recognizer.views] == [recognizer.info.input.fit]
    recognizer.info.meta["read_fits"] = ["pad", "crop"]  # what bundle_model --read-fits writes
    assert [s.fit for s in Recognizer(recognizer.backend, recognizer.info).views] == ["pad", "crop"]
    assert [s.fit for s in Recognizer(recognizer.backend, recognizer.info, fit="stretch").views] == ["stretch"]
    with pytest.raises(ValueError, match="fit must be one of"):
        Recognizer(recognizer.backend, recognizer.info, fit="squash")


def test_drawn_captchas_are_evaluated_every_way_the_reader_reads_them():
    from captcha_break.evaluate import evaluate
    from captcha_break.synth import draw

    both = Recognizer.load("general", fit="both")
    synth = SynthConfig("0123456789", 3, 6, style="broad")
    samples = fresh_samples(both.spec, 24, "views-check", synth, workers=0, also=both.views[1:])
    assert any(others for others in samples.others)  # some were cut to their text: read twice
    images = [draw(synth, "views-check", i)[0] for i in range(24)]
    evaluated = evaluate(both, samples, progress=False).predictions
    fits = [i for i, image in enumerate(images) if both.pixels(image).shape[-1] == both.spec.width]  # drawn: never widened
    assert len(fits) > 12 and [evaluated[i] for i in fits] == [both.predict(images[i]).text for i in fits]
