"""Data-parallel training on CPU (gloo): the same weights as one process, and no hangs."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.multiprocessing as mp
from conftest import free_port

from captcha_break.checkpoint import load_checkpoint
from captcha_break.datasets import GlobalBatchSampler
from captcha_break.train import TrainConfig, train

# Both runs compute with one thread per process. Another thread count sums in another
# order, and BatchNorm's backward (a difference of near-equal sums) magnifies that
# rounding to about 1% of a gradient, which Adam then turns into +-lr steps.
TOLERANCE = 1e-6


def config(out, **kw) -> TrainConfig:
    # No augmentation: each process draws its own, so only the gradients' equivalence is compared.
    base = dict(model="crnn_fast", out=str(out), pregenerate=96, val_size=24, batch_size=16, epochs=2,
                schedule="onecycle", lr=3e-3, workers=0, seed=3, augment="off")  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _rank(rank: int, world: int, port: int, out: str, env: dict) -> None:
    os.environ.update(env)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    torch.set_num_threads(1)
    train(config(out, dist_timeout=60), log=lambda *_: None)


def _resume_rank(rank: int, world: int, port: int, out: str, env: dict) -> None:
    os.environ.update(env)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    torch.set_num_threads(1)
    train(TrainConfig(out=out, workers=0, dist_timeout=60), resume=True, log=lambda *_: None)


def weights(path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path).state_dict
    # BatchNorm running statistics are not trained weights; DDP keeps rank 0's.
    return {k: v for k, v in state.items() if "running_" not in k and "num_batches" not in k}


def test_global_batches_are_shared_without_overlap():
    parts = [list(GlobalBatchSampler(50, 8, r, 2, shuffle=True, seed=1)) for r in range(2)]
    whole = list(GlobalBatchSampler(50, 8, 0, 1, shuffle=True, seed=1))
    assert len(parts[0]) == len(parts[1]) == len(whole) == 6  # the same step count on every rank
    for step, batch in enumerate(whole):
        assert parts[0][step] + parts[1][step] == batch  # rank r = micro-batch r
    with pytest.raises(ValueError, match="divide evenly"):
        GlobalBatchSampler(50, 9, 0, 2)


def test_two_processes_train_the_same_weights_as_one(tmp_path):
    env = {"CAPTCHA_BREAK_CACHE": os.environ["CAPTCHA_BREAK_CACHE"]}
    mp.spawn(_rank, args=(2, free_port(), str(tmp_path / "ddp"), env), nprocs=2, join=True)
    # One process, the same global batch of 16 split into the two ranks' halves.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(config(tmp_path / "one", accumulate=2), log=lambda *_: None)
    finally:
        torch.set_num_threads(threads)
    ddp, one = weights(tmp_path / "ddp" / "last.pt"), weights(tmp_path / "one" / "last.pt")
    start = weights_at_start(tmp_path)
    assert ddp.keys() == one.keys()
    moved = max((ddp[k].float() - start[k].float()).abs().max().item() for k in ddp)
    assert moved > 1e-3  # it did train
    for k in ddp:
        torch.testing.assert_close(ddp[k], one[k], rtol=TOLERANCE, atol=TOLERANCE, msg=k)
    rows = (tmp_path / "ddp" / "log.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 epochs, written once (rank 0 only)


def weights_at_start(tmp_path) -> dict[str, torch.Tensor]:
    from captcha_break.models import build_model, default_config

    torch.manual_seed(3)
    model = build_model("crnn_fast", default_config("crnn_fast", 37, 4))
    return {k: v for k, v in model.state_dict().items() if "running_" not in k and "num_batches" not in k}


def test_a_killed_rank_fails_the_run_instead_of_hanging(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "captcha_break", "train", "--model", "crnn_fast", "--out", str(tmp_path / "run"),
           "--epoch-size", "100000", "--val-size", "16", "--batch-size", "8", "--workers", "0",
           "--dist-timeout", "20"]  # fmt: skip
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        line = procs[0].stdout.readline()  # rank 0 reports the world once the group is up
        assert line.startswith("distributed: 2 processes (gloo); global batch 8 = 2 x 4 per process"), line
        time.sleep(3)  # well into the first epoch
        procs[1].send_signal(signal.SIGKILL)
        started = time.time()
        _, err = procs[0].communicate(timeout=120)
    finally:
        for p in procs:
            p.kill()
    assert time.time() - started < 60
    assert procs[0].returncode == 1
    assert "the distributed run failed" in err and "--resume" in err


def test_an_interrupted_run_resumes_under_two_processes(tmp_path):
    run = tmp_path / "run"
    cfg = config(run, schedule="plateau", epochs=3, patience=9, phase2_patience=0)

    def stop_after_one(message):
        if message.startswith("epoch 1 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=stop_after_one)
    env = {"CAPTCHA_BREAK_CACHE": os.environ["CAPTCHA_BREAK_CACHE"]}
    mp.spawn(_resume_rank, args=(2, free_port(), str(run), env), nprocs=2, join=True)
    state = load_checkpoint(run / "last.pt").train_state["run"]
    assert state["epoch"] == 3 and state["phase"] == 2  # epochs 2 and 3 ran, then the recipe ended
    epochs = [line.split(",")[0] for line in (run / "log.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3"]  # one row per epoch: rank 0 alone writes
