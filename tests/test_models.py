import pytest
import torch

from captcha_break.models import build_model, config_from_dict, config_to_dict, default_config, model_names


@pytest.mark.parametrize("name", model_names())
def test_every_registered_model_gives_logits_per_step(name):
    config = default_config(name, num_classes=11, max_len=5)
    model = build_model(name, config).eval()
    x = torch.rand(3, config.convs.in_channels, config.height, config.width)
    logits = model(x)
    assert logits.shape[0] == 3 and logits.shape[2] == 11
    if model.scheme.name == "positions":
        assert logits.shape[1] == 5
    else:
        assert logits.shape[1] >= 2 * 5  # CTC needs room for blanks between repeats
    assert config_from_dict(name, config_to_dict(config)) == config


def test_crnn_reads_other_widths():
    config = default_config("crnn_fast", 37, 4)
    model = build_model("crnn_fast", config).eval()
    assert model(torch.rand(1, 1, 64, 256)).shape[1] == 2 * model(torch.rand(1, 1, 64, 128)).shape[1]


def test_tutorial_models_match_the_tutorial_sizes():
    # The tutorial's files: 10.7 MB (CNN) and 12.8 MB (CRNN) of float32 weights.
    sizes = {}
    for name in ("cnn", "crnn"):
        model = build_model(name, default_config(name, 37, 4))
        sizes[name] = sum(p.numel() for p in model.parameters()) * 4 / 1e6
    assert 10.0 < sizes["cnn"] < 11.0
    assert 12.0 < sizes["crnn"] < 13.0


def test_unknown_model_names_are_listed():
    with pytest.raises(ValueError, match="crnn"):
        default_config("resnet", 37, 4)
