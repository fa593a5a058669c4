import pytest
import torch

from captcha_break.models import build_model, config_from_dict, config_to_dict, default_config, model_names, scheme_of

CTC_MODELS = [name for name in model_names() if scheme_of(name) == "ctc"]


@pytest.mark.parametrize("name", model_names())
def test_every_registered_model_gives_logits_per_step(name):
    config = default_config(name, num_classes=11, max_len=5)
    model = build_model(name, config).eval()
    x = torch.rand(3, config.convs.in_channels, config.height, config.width)
    logits = model(x)
    assert logits.shape[0] == 3 and logits.shape[2] == 11
    if model.scheme == "positions":
        assert logits.shape[1] == 5
    else:
        assert logits.shape[1] >= 2 * 5  # CTC needs room for blanks between repeats
    assert config_from_dict(name, config_to_dict(config)) == config


@pytest.mark.parametrize("name", CTC_MODELS)
def test_ctc_models_read_other_widths(name):
    config = default_config(name, 37, 4)
    model = build_model(name, config).eval()
    channels = config.convs.in_channels
    assert model(torch.rand(1, channels, 64, 256)).shape[1] == 2 * model(torch.rand(1, channels, 64, 128)).shape[1]


def test_the_gru_free_ctc_model_learns_a_batch_by_heart():
    # Its context comes from 1-D convolutions alone: they must carry what CTC needs to
    # align a label to the steps (a model that cannot would stay near the blank).
    from captcha_break.charset import Charset
    from captcha_break.decoding import greedy_decode, softmax
    from captcha_break.losses import compute_loss

    torch.manual_seed(0)
    charset = Charset("0123456789")
    config = default_config("ctc_lite", charset.num_classes, 4)
    model = build_model("ctc_lite", config).train()
    x = torch.rand(8, config.convs.in_channels, config.height, config.width)
    labels = ["0123", "4567", "8901", "1111", "2020", "9876", "5432", "3377"]
    targets, lengths = map(torch.from_numpy, charset.encode(labels))
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(60):
        optimizer.zero_grad()
        loss = compute_loss(model(x), targets, lengths, model.scheme)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        probs = softmax(model.eval()(x).numpy())
    assert [p.text for p in greedy_decode(probs, charset, model.scheme)] == labels


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
