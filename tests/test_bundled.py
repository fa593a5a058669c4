"""The pretrained models shipped in the package: present, self-describing, accurate."""

import json
import subprocess
import sys

import pytest

from captcha_break.assets import ASSETS
from captcha_break.evaluate import evaluate
from captcha_break.recognizer import Recognizer
from captcha_break.sources import fresh_samples
from captcha_break.synth import SynthConfig

BUNDLED = ["default", "cnn_fast"]


@pytest.fixture(scope="module", params=BUNDLED)
def bundled_on_fresh_captchas(request):
    recognizer = Recognizer.load(request.param)
    # A seed no training, validation or card set used: captchas the model never saw.
    samples = fresh_samples(recognizer.spec, 1000, "test-bundled", SynthConfig(), workers=2)
    return recognizer, evaluate(recognizer, samples, progress=False).scores


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_ships_with_its_card_log_and_checkpoint(name):
    for suffix in (".onnx", ".pt", ".md", ".log.csv"):
        assert (ASSETS / f"{name}{suffix}").is_file(), f"{name}{suffix} missing from the package"
    assert (ASSETS / f"{name}.onnx").stat().st_size <= 2_000_000  # the size target of the CPU-speed issue
    card = Recognizer.load(name).info.meta["card"]
    assert card["command"].startswith("captcha-break train ")
    assert f"{card['accuracy']:.2%}" in (ASSETS / f"{name}.md").read_text()


def test_bundled_models_read_fresh_captchas_as_their_cards_say(bundled_on_fresh_captchas):
    recognizer, scores = bundled_on_fresh_captchas
    assert scores.count == 1000
    # 1,000 captchas against the card's 10,000: within 2 points (about 3.5 standard errors).
    assert abs(scores.accuracy - recognizer.info.meta["card"]["accuracy"]) < 0.02, scores


def test_predict_and_evaluate_use_the_bundled_default_without_torch(tmp_path):
    from captcha_break.synth import write_pngs

    [name] = write_pngs(SynthConfig(), tmp_path, 1, seed=77)
    code = (
        "import sys; from captcha_break.cli import main; "
        f"main(['predict', {str(tmp_path / name)!r}]); "
        "main(['evaluate', '--count', '50', '--json', '--workers', '0']); "
        "assert 'torch' not in sys.modules, 'predicting imported torch'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].split("\t")[1] == name.split("_")[0]
    assert json.loads(out[1])["count"] == 50
