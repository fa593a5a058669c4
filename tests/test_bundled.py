"""The pretrained models shipped in the package: present, self-describing, accurate."""

import json
import math
import subprocess
import sys

import pytest

from captcha_break.assets import ASSETS, bundled_names
from captcha_break.evaluate import evaluate
from captcha_break.recognizer import Recognizer
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig

BUNDLED = bundled_names()
# ONNX file sizes: the CPU-speed issue's target for the models of the tutorial's task, the
# real-captchas issue's for the broad `general` one.
MAX_BYTES = {"general": 4_000_000}


def test_the_three_models_are_bundled():
    assert {"captcha4", "cnn_fast", "general"} <= set(BUNDLED)


@pytest.fixture(scope="module", params=BUNDLED)
def bundled_on_fresh_captchas(request):
    recognizer = Recognizer.load(request.param)
    # The captchas of the model's own task (the card says which), drawn with a seed no
    # training, validation or card set used: captchas the model never saw.
    synth = SynthConfig(**recognizer.info.meta["card"].get("synth", {}))
    samples = fresh_samples(recognizer.spec, 1000, "test-bundled", synth, workers=2, also=recognizer.views[1:])
    return recognizer, evaluate(recognizer, samples, progress=False).scores


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_has_its_card_log_and_checkpoint_beside_it(name):
    for suffix in (".onnx", ".pt", ".md", ".log.csv"):
        assert (ASSETS / f"{name}{suffix}").is_file(), f"{name}{suffix} missing from src/captcha_break/assets"
    assert (ASSETS / f"{name}.onnx").stat().st_size <= MAX_BYTES.get(name, 2_000_000)
    card = Recognizer.load(name).info.meta["card"]
    assert card["command"].startswith("captcha-break train ")
    assert f"{card['accuracy']:.2%}" in (ASSETS / f"{name}.md").read_text()


def test_bundled_models_read_fresh_captchas_as_their_cards_say(bundled_on_fresh_captchas):
    recognizer, scores = bundled_on_fresh_captchas
    assert scores.count == 1000
    # 1,000 captchas against the card's 10,000: within 3.5 standard errors of the difference.
    p = recognizer.info.meta["card"]["accuracy"]
    assert abs(scores.accuracy - p) < 3.5 * math.sqrt(p * (1 - p) * (1 / 1000 + 1 / 10_000)) + 0.002, scores


def test_predict_and_evaluate_use_the_bundled_default_without_torch(tmp_path):
    from captcha_break.synth import write_pngs

    [name] = write_pngs(SynthConfig(), tmp_path, 1, seed=77)
    code = (
        "import sys; from captcha_break.cli import main; "
        f"main(['predict', '--model', 'captcha4', {str(tmp_path / name)!r}]); main(['predict', {str(tmp_path / name)!r}]); "
        "main(['evaluate', '--count', '50', '--json', '--workers', '0']); "
        "assert 'torch' not in sys.modules, 'predicting imported torch'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].split("\t")[1] == name.split("_")[0]  # captcha4 reads its own task
    assert out[1].split("\t")[1] == Recognizer.load().predict(tmp_path / name).text  # the default: general
    assert json.loads(out[2])["count"] == 50
