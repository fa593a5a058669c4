"""Weight averaging (`captcha-break average`): the mean of runs of one model, or a clear refusal."""

import dataclasses

import pytest
import torch

from captcha_break.average import average_checkpoints, average_runs
from captcha_break.charset import Charset
from captcha_break.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from captcha_break.cli import main
from captcha_break.models import build_model, default_config
from captcha_break.preprocess import InputSpec
from captcha_break.runfolder import LOG_FIELDS, read_log, write_log


def checkpoint(seed: int, chars: str = "0123") -> Checkpoint:
    torch.manual_seed(seed)
    config = default_config("crnn_lite", len(chars) + 1, 4)
    model = build_model("crnn_lite", config)
    spec = InputSpec(config.height, config.width, config.convs.in_channels)
    meta = {"train_config": {"style": "v07"}, "epoch": 3, "accuracy": 0.5}
    return Checkpoint("crnn_lite", config, Charset(chars), spec, model.state_dict(), train_state={"x": 1}, meta=meta)


def run_folder(path, seed: int, epochs: int):
    save_checkpoint(checkpoint(seed), path / "best.pt")
    zeros = dict.fromkeys((f for f in LOG_FIELDS if f not in ("epoch", "elapsed")), 0.0)
    rows = [zeros | {"epoch": e, "elapsed": 10.0 * e} for e in range(1, epochs + 1)]
    write_log(rows, path / "log.csv")
    return path


def test_the_average_is_the_mean_of_the_weights_and_forgets_the_runs_figures():
    a, b, c = checkpoint(1), checkpoint(2), checkpoint(3)
    mean = average_checkpoints([a, b, c])
    weight = "classifier.weight"
    expected = (a.state_dict[weight] + b.state_dict[weight] + c.state_dict[weight]) / 3
    assert torch.allclose(mean.state_dict[weight], expected)
    assert not torch.equal(mean.state_dict[weight], a.state_dict[weight])
    assert mean.train_state is None and "accuracy" not in mean.meta and mean.meta["train_config"] == {"style": "v07"}
    mean.build()(torch.zeros(1, *mean.input.shape))  # a model that runs


@pytest.mark.parametrize(
    "other, why",
    [
        (checkpoint(2, chars="0124"), "the charsets differ"),
        (dataclasses.replace(checkpoint(2), input=InputSpec(64, 160, 1)), "the inputs differ"),
        (dataclasses.replace(checkpoint(2), model_name="crnn_fast"), "the models differ"),
    ],
)
def test_checkpoints_of_different_models_are_refused(other, why):
    with pytest.raises(ValueError, match=why):
        average_checkpoints([checkpoint(1), other])
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints([checkpoint(1)])


def test_runs_average_into_a_folder_with_all_their_epochs_on_one_clock(tmp_path, capsys):
    first = run_folder((tmp_path / "a"), 1, epochs=2)
    second = run_folder((tmp_path / "b"), 2, epochs=3)
    save_checkpoint(checkpoint(3), tmp_path / "parent.pt")  # a checkpoint alone: no log
    assert main(["average", str(first), str(second), str(tmp_path / "parent.pt"), "--out", str(tmp_path / "soup")]) == 0
    assert "the mean of 3 models' weights" in capsys.readouterr().out
    soup = load_checkpoint(tmp_path / "soup" / "best.pt")
    assert soup.meta["averaged_from"] == [str(first / "best.pt"), str(second / "best.pt"), str(tmp_path / "parent.pt")]
    log = read_log(tmp_path / "soup" / "log.csv")
    assert [r["epoch"] for r in log] == [1, 2, 3, 4, 5] and [r["elapsed"] for r in log] == [10, 20, 30, 40, 50]
    assert soup.meta["epoch"] == 5
    with pytest.raises(FileExistsError, match="already holds a model"):
        average_runs([first, second], tmp_path / "soup")


def test_a_runs_last_checkpoint_averages_by_the_weights_it_validates(tmp_path):
    """last.pt: with --ema the moving average (what the run validates and keeps), not the raw
    last step; and the run's log comes with it."""
    run = run_folder(tmp_path / "run", 1, epochs=2)
    (run / "config.json").write_text("{}")
    ema = checkpoint(5).state_dict
    save_checkpoint(dataclasses.replace(checkpoint(4), train_state={"ema": {"state": ema, "count": 7}}), run / "last.pt")
    save_checkpoint(checkpoint(6), tmp_path / "other.pt")
    average_runs([run / "last.pt", tmp_path / "other.pt"], tmp_path / "soup")
    soup = load_checkpoint(tmp_path / "soup" / "best.pt")
    weight = "classifier.weight"
    assert torch.allclose(soup.state_dict[weight], (ema[weight] + checkpoint(6).state_dict[weight]) / 2)
    assert [r["epoch"] for r in read_log(tmp_path / "soup" / "log.csv")] == [1, 2]
