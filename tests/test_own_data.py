"""Training on a user's own labeled folders: augmentation, fine-tuning, the test report."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from captcha_break.augment import AugmentConfig, augment
from captcha_break.charset import Charset
from captcha_break.checkpoint import load_checkpoint
from captcha_break.finetune import choose_charset, load_pretrained
from captcha_break.models import build_model, default_config, with_channels
from captcha_break.preprocess import InputSpec, normalize, to_pixels
from captcha_break.train import TrainConfig, train


def test_augment_keeps_shape_and_range_and_varies_per_image():
    x = torch.rand(6, 1, 64, 128)
    g = torch.Generator().manual_seed(0)
    y = augment(x.clone(), AugmentConfig(), g)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.allclose(y, x)
    same = augment(x.clone(), AugmentConfig(), torch.Generator().manual_seed(0))
    assert torch.equal(y, same)  # reproducible from the generator
    twins = augment(x[:1].repeat(2, 1, 1, 1), AugmentConfig(), g)
    assert not torch.allclose(twins[0], twins[1])


@pytest.mark.parametrize("width", [128, 512])
def test_warps_slant_a_stroke_alike_whatever_the_width(width):
    # A vertical stroke in the middle; the warp's slant is how far its ink moves sideways
    # per pixel of height. A warp drawn in [-1, 1] coordinates would slant a 512x64 input
    # four times as much as a 128x64 one, turning characters into unreadable smears.
    x = torch.ones(64, 1, 64, width)
    x[..., 12:52, width // 2 - 2 : width // 2 + 2] = 0
    warp_only = AugmentConfig(blur_p=0, noise_std=0, contrast=0, brightness=0, erase_p=0)
    y = augment(x.clone(), warp_only, torch.Generator().manual_seed(0))
    ink = (1 - y[:, 0]).clamp(min=0)  # (B, H, W)
    cols = torch.arange(width, dtype=torch.float32)
    rows = ink.sum(2) > 1  # rows the stroke crosses, per image
    centre = (ink * cols).sum(2) / ink.sum(2).clamp(min=1e-6)
    slants = []
    for image_rows, image_centre in zip(rows, centre):
        r = image_rows.nonzero().flatten()
        slants.append(abs(image_centre[r[-1]] - image_centre[r[0]]) / (r[-1] - r[0]))
    assert 0.05 < max(slants) < 0.45, max(slants)  # warped, by the configured 0.3 (+ rotation)


def test_new_charset_keeps_rows_of_shared_characters(tiny_model):
    source = load_checkpoint(tiny_model["pt"])
    digits = Charset("0123456789")
    model = build_model("crnn_fast", default_config("crnn_fast", digits.num_classes, 4))
    fresh = load_pretrained(model, source, digits)
    assert fresh == ["classifier.weight", "classifier.bias"]
    old = source.state_dict["classifier.weight"]
    new = model.state_dict()["classifier.weight"]
    assert torch.equal(new[0], old[0])  # blank
    assert torch.equal(new[1:11], old[1:11])  # 0-9 sit at the same places in 0-9A-Z
    assert torch.equal(model.state_dict()["features.0.weight"], source.state_dict["features.0.weight"])
    assert choose_charset(source.charset, digits, None) == source.charset  # labels fit: keep it all


def test_grayscale_model_becomes_rgb_reading_colour_images_as_it_read_gray(tiny_model):
    source = load_checkpoint(tiny_model["pt"])
    gray = build_model(source.model_name, source.config).eval()
    gray.load_state_dict(source.state_dict)
    rgb_config = with_channels(source.config, 3)
    rgb = build_model(source.model_name, rgb_config).eval()
    assert load_pretrained(rgb, source, source.charset) == []  # nothing starts fresh
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 128, 3), dtype=np.uint8))
    spec = InputSpec(64, 128, 1)
    with torch.no_grad():  # the first convolution's output: later layers can hide differences
        as_gray = gray.features[0](torch.from_numpy(normalize(to_pixels(image, spec)))[None])
        as_rgb = rgb.features[0](torch.from_numpy(normalize(to_pixels(image, dataclasses.replace(spec, channels=3))))[None])
    # Pillow rounds luma to whole levels, so the two inputs differ by up to half a level.
    assert (as_gray - as_rgb).abs().max() < 0.01 * as_gray.abs().max()


def digits_subset(shared_datasets, tmp_path, n=320):
    folder = tmp_path / "digits"
    folder.mkdir()
    for path in sorted((shared_datasets / "digits_wave_4").iterdir())[:n]:
        shutil.copy(path, folder / path.name)
    return folder


def test_short_run_on_real_captchas_beats_chance_and_reports(shared_datasets, tmp_path):
    folder = digits_subset(shared_datasets, tmp_path)
    config = TrainConfig(model="cnn_fast", out=str(tmp_path / "run"), data=str(folder), batch_size=32, epochs=8,
                         patience=20, phase2_patience=0, schedule="onecycle", lr=3e-3, workers=0)  # fmt: skip
    messages = []
    result = train(config, log=messages.append)
    assert any(
        m.startswith("320 labeled images (labels from file names by --label-rule auto): 224 train, 32 validation, 64 test")
        for m in messages
    )
    report = json.loads((tmp_path / "run" / "test_report.json").read_text())
    assert report["count"] == 64
    # Chance is 10% per character; a model that learned anything does far better.
    assert report["char_accuracy"] > 0.3, report
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_augment_preview_shows_each_image_then_its_variants(shared_datasets, tmp_path):
    from captcha_break.augment import preview
    from captcha_break.cli import main
    from captcha_break.folders import load_folder
    from captcha_break.preprocess import InputSpec

    pixels = load_folder(shared_datasets / "digits_wave_4", InputSpec(), use_cache=False, limit=3).samples.pixels
    shown = preview(pixels, 4, seed=1)
    assert shown.shape == (15, 3, 64, 128) and shown.dtype == pixels.dtype
    assert (shown[::5] == pixels).all()  # row starts: the originals, untouched
    assert all((shown[i] != pixels[0]).any() for i in range(1, 5))
    out = tmp_path / "augment.png"
    assert main(["plot", "augment", str(shared_datasets / "digits_wave_4"), "--count", "3", "--out", str(out)]) == 0
    assert out.stat().st_size > 5000


def test_synthetic_captchas_mix_into_a_folders_epochs(shared_datasets, tmp_path):
    from captcha_break.sources import set_epoch, training_data

    folder = digits_subset(shared_datasets, tmp_path, n=40)
    config = TrainConfig(data=str(folder), mix_synthetic=12, val_split=0.1, test_split=0.1, workers=0)
    messages = []
    data = training_data(config, InputSpec(64, 128, 1), None, messages.append)
    assert len(data.train) == 32 + 12
    assert "mixing 12 fresh synthetic captchas into each epoch's 32 images" in messages
    mixed = [data.train[i] for i in range(32, 44)]
    assert all(len(label) == 4 and label.isdigit() for _, label in mixed)  # the folder's charset and length
    assert mixed[0][0].shape == (1, 64, 128)
    set_epoch(data.train, 1)
    assert [data.train[i][1] for i in range(32, 44)] != [label for _, label in mixed]  # fresh each epoch
