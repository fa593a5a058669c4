import csv
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from captcha_break.assets import resolve
from captcha_break.checkpoint import load_checkpoint, save_checkpoint
from captcha_break.recognizer import Recognizer
from captcha_break.train import TrainConfig, budget, loop, train


def tiny(tmp_path, **kw) -> TrainConfig:
    # The same 64 captchas every epoch: loss must fall if the training step works.
    base = dict(
        model="crnn_fast",
        out=str(tmp_path / "run"),
        pregenerate=64,
        val_size=32,
        batch_size=16,
        epochs=4,
        patience=10,
        workers=0,
        lr=2e-3,
    )
    return TrainConfig(**{**base, **kw})


def start_accuracy(lines: list[str]) -> float:
    """What the run logged its starting weights read of the validation set."""
    [before] = [line for line in lines if line.startswith("before training")]
    return float(before.split(" read ")[1].split("%")[0]) / 100


def log_rows(run) -> list[dict]:
    with open(run / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_time_budget_plan_follows_the_epochs_and_anneals_in_time(tmp_path, monkeypatch):
    """The probe promises far more than the epochs deliver: the run re-plans after its first
    epochs, ends by its plan inside the budget, and its rate has annealed by the last one.
    The run's clock is simulated, each epoch 0.5 s wobbling by up to 20% (as epochs do), so
    that the test checks the plan, not how busy the machine is."""
    monkeypatch.setattr(budget, "probe_seconds_per_image", lambda *a, **k: 1e-7)
    now = [0.0]
    monkeypatch.setattr(budget, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    wobble = iter(np.random.default_rng(0).uniform(0.8, 1.2, size=1000))
    train_epoch = loop.Loop._train_epoch

    def timed_epoch(self):
        now[0] += 0.5 * float(next(wobble))
        return train_epoch(self)

    monkeypatch.setattr(loop.Loop, "_train_epoch", timed_epoch)
    lines = []
    config = tiny(tmp_path, epochs=200, schedule="onecycle", time_budget=10.0)
    result = train(config, log=lines.append)
    assert any(line.startswith("re-planned") for line in lines)
    assert 1 <= len(result.history) < 200 and not any("budget of" in line for line in lines)  # not cut
    assert result.history[-1].lr < config.lr / 20  # annealed, not stopped at a high rate
    saved = load_checkpoint(tmp_path / "run" / "last.pt").meta["train_config"]["epochs"]
    assert saved == len(result.history)  # what a --resume would continue


@pytest.mark.parametrize("model", ["crnn_fast", "cnn_fast"])
def test_a_few_epochs_lower_the_loss(tmp_path, model):
    result = train(tiny(tmp_path, model=model, phase2_patience=0), log=lambda *_: None)
    losses = [r.train_loss for r in result.history]
    assert len(losses) == 4
    assert losses[-1] < 0.8 * losses[0]


def test_checkpoints_describe_themselves(tmp_path):
    config = tiny(tmp_path, epochs=1, phase2_patience=0)
    result = train(config, log=lambda *_: None)
    raw = torch.load(result.best_path, weights_only=True)  # no pickled classes
    assert raw["model_name"] == "crnn_fast" and raw["charset"] == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    best = load_checkpoint(result.best_path)
    assert best.input.shape == (1, 64, 128)
    assert best.train_state is None and best.meta["train_config"]["batch_size"] == 16
    # The checkpoint alone rebuilds a working recognizer.
    assert isinstance(Recognizer.load(result.best_path).predict(torch.rand(64, 128).numpy()).text, str)


def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    config = tiny(tmp_path, epochs=3, phase2_patience=0)

    def stop_after_two(message):
        if message.startswith("epoch 2 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, log=stop_after_two)
    run = tmp_path / "run"
    assert [r["epoch"] for r in log_rows(run)] == ["1", "2"]
    assert load_checkpoint(run / "last.pt").train_state["run"]["epoch"] == 2
    with pytest.raises(FileExistsError):
        train(config, log=lambda *_: None)  # never silently overwrite a run
    result = train(TrainConfig(out=str(run)), resume=True, log=lambda *_: None)
    assert [r.epoch for r in result.history] == [3]
    assert [r["epoch"] for r in log_rows(run)] == ["1", "2", "3"]


def test_kill_9_loses_at_most_the_running_epoch(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "captcha_break", "train", "--model", "crnn_fast", "--out", str(run), "--pregenerate", "64",
           "--val-size", "16", "--batch-size", "16", "--epochs", "4", "--patience", "9", "--phase2-patience", "1",
           "--workers", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "last.pt").exists():
            time.sleep(0.05)
        time.sleep(0.3)  # land the kill somewhere inside a later epoch
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = load_checkpoint(run / "last.pt").train_state["run"]["epoch"]  # intact after the kill
    assert 1 <= done < 5
    result = subprocess.run([*cmd[:4], "--out", str(run), "--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"resuming {run} after epoch {done}" in result.stdout
    epochs = [int(r["epoch"]) for r in log_rows(run)]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 5  # 4 + the lowered-lr phase
    assert not list(run.glob("*.tmp"))


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    result = train(tiny(tmp_path, epochs=1, phase2_patience=0), log=lambda *_: None)
    before = result.best_path.read_bytes()
    ckpt = load_checkpoint(result.best_path)

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(ckpt, result.best_path)
    assert result.best_path.read_bytes() == before
    assert not list(result.best_path.parent.glob("*.tmp"))


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_checkpoint(bad)


def test_tensorboard_events_beside_the_log(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny(tmp_path, epochs=2, phase2_patience=0), log=lambda *_: None)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    assert {"train_loss", "val_loss", "accuracy", "lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("val_loss")] == [1, 2]
    assert events.Tags()["images"] == ["validation"]


def test_augmentation_by_data_source():
    from captcha_break.augment import LIGHT_AUGMENT, augmentation_for

    assert augmentation_for(TrainConfig()) is None  # fresh captchas every epoch need none
    assert augmentation_for(TrainConfig(pregenerate=1000)) is LIGHT_AUGMENT  # a reused set: a little
    assert augmentation_for(TrainConfig(data="folder")).erase_p > 0  # real images: the full set
    assert augmentation_for(TrainConfig(data="folder", augment="off")) is None


def test_fine_tuning_can_keep_the_convolutions_slower(tmp_path, tiny_model):
    config = tiny(tmp_path, init=str(tiny_model["pt"]), feature_lr_scale=0.25, schedule="onecycle", epochs=2)
    lines = []
    train(config, log=lines.append)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["train_state"]["optimizer"]
    features, rest = state["param_groups"]
    assert features["lr"] == pytest.approx(0.25 * rest["lr"]) and features["scale"] == 0.25
    assert train(tiny(tmp_path / "again", epochs=1)).best_path.exists()  # without --init: one group, as before


def test_weight_averaging_is_what_gets_validated_saved_and_resumed(tmp_path):
    config = tiny(tmp_path, epochs=2, schedule="onecycle", ema=0.9)  # onecycle: no reload of the best weights
    result = train(config, log=lambda *_: None)
    assert result.history[-1].train_loss < result.history[0].train_loss
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    best = torch.load(result.best_path, weights_only=True)
    ema = last["train_state"]["ema"]
    assert ema["count"] == 2 * (64 // 16)  # one update per step
    name = "classifier.weight"
    assert not torch.equal(ema["state"][name], last["state_dict"][name])  # the average is not the last step
    assert best["meta"]["epoch"] == 2  # onecycle keeps its last, annealed epoch
    assert torch.equal(best["state_dict"][name], ema["state"][name])  # best.pt holds the average


@pytest.mark.parametrize("schedule", ["plateau", "onecycle"])
def test_the_kept_weights_are_the_best_by_validation_loss_or_onecycles_last(tmp_path, schedule):
    result = train(tiny(tmp_path, epochs=3, phase2_patience=0, schedule=schedule), log=lambda *_: None)
    kept = load_checkpoint(result.best_path).meta
    losses = [r.val_loss for r in result.history]
    if schedule == "onecycle":
        assert kept["epoch"] == len(losses)
    else:
        assert kept["val_loss"] == pytest.approx(min(losses)) and kept["epoch"] == 1 + losses.index(min(losses))


def test_weight_averaging_resumes_with_its_average(tmp_path):
    def stop_after_one(message):
        if message.startswith("epoch 1 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path, epochs=3, schedule="onecycle", ema=0.9), log=stop_after_one)
    train(TrainConfig(out=str(tmp_path / "run")), resume=True, log=lambda *_: None)
    ema = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["train_state"]["ema"]
    assert ema["count"] == 3 * 4  # the average went on from epoch 1's, not from scratch


def test_fine_tuning_never_hands_back_a_model_worse_than_its_start(tmp_path):
    # The bundled default reads nearly every captcha of its own task; a rate of 10 wrecks it
    # within a step. The run is killed after its first epoch and resumed: the comparison
    # with the starting weights survives the resume.
    def stop_after_one(message):
        lines.append(message)
        if message.startswith("epoch 1 "):
            raise KeyboardInterrupt

    lines = []
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path, init="captcha4", lr=10.0, epochs=2, schedule="onecycle"), log=stop_after_one)
    result = train(TrainConfig(out=str(tmp_path / "run")), resume=True, log=lines.append)
    start = start_accuracy(lines)
    assert start >= 0.8
    assert max(r.accuracy for r in result.history) < start  # what training made of it reads less
    best = load_checkpoint(result.best_path)
    assert best.meta["epoch"] == 0 and best.meta["accuracy"] == pytest.approx(start)
    default = load_checkpoint(resolve("captcha4", "pt")).state_dict
    assert all(torch.allclose(best.state_dict[k].float(), v.float()) for k, v in default.items())
    assert any(line.startswith("kept the starting weights") for line in lines)


def test_fine_tuning_keeps_the_trained_weights_only_when_they_read_more():
    from captcha_break.train import keeps_start

    assert not keeps_start((0.50, 0.80), (0.52, 0.70))  # more whole captchas
    assert not keeps_start((0.50, 0.80), (0.50, 0.81))  # as many, more characters
    assert keeps_start((0.50, 0.80), (0.50, 0.80))  # a tie: nothing shows the fine-tune is better
    assert keeps_start((1.00, 1.00), (1.00, 1.00))  # 4 validation images both read whole (the newcomer's case)
    assert keeps_start((0.50, 0.80), (0.49, 0.99))


def test_a_fine_tune_says_when_its_validation_set_is_too_small_to_judge(tmp_path, tiny_model):
    lines = []
    result = train(tiny(tmp_path, init=str(tiny_model["pt"]), epochs=4, lr=3e-3, schedule="onecycle"), log=lines.append)
    assert any("32 validation images are too few" in line for line in lines)
    kept_start = any(line.startswith("kept the starting weights") for line in lines)
    assert load_checkpoint(result.best_path).meta["epoch"] == (0 if kept_start else 4)


def test_a_second_run_cannot_write_a_run_folder_in_use(tmp_path, capsys):
    from captcha_break.cli import main
    from captcha_break.runfolder import hold_run

    run = tmp_path / "run"
    run.mkdir()
    with hold_run(run):  # a training run holds the folder
        assert main(["train", "--model", "crnn_fast", "--out", str(run), "--epochs", "1", "--workers", "0"]) == 2
        assert f"in use by another training run (process {os.getpid()})" in capsys.readouterr().err
        assert not (run / "last.pt").exists() and not (run / "config.json").exists()
    train(tiny(tmp_path, epochs=1), log=lambda *_: None)  # released: the folder trains
    assert (run / "last.pt").exists()
