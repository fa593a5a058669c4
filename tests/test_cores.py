"""How a training run shares the cores between drawing captchas and training."""

import numpy as np
import pytest
import torch
from torch.utils.data import ConcatDataset

from captcha_break import device as device_module
from captcha_break.config import AUTO
from captcha_break.datasets import ArrayDataset, SyntheticDataset, loader_workers
from captcha_break.device import share_cores
from captcha_break.folders import Samples
from captcha_break.preprocess import InputSpec
from captcha_break.synth import SynthConfig
from captcha_break.train import TrainConfig, train

CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def cores(monkeypatch):
    def set_cores(n):
        monkeypatch.setattr(device_module, "usable_cores", lambda: n)

    return set_cores


def test_on_a_cpu_drawing_and_training_get_half_the_cores_each(cores):
    cores(2)
    assert share_cores(AUTO, AUTO, CPU, draws=True) == (1, 1)  # the bundled models' recipe
    cores(8)
    assert share_cores(AUTO, AUTO, CPU, draws=True) == (4, 4)
    cores(1)
    assert share_cores(AUTO, AUTO, CPU, draws=True) == (1, 1)


def test_on_a_gpu_all_cores_but_one_draw(cores):
    cores(16)
    assert share_cores(AUTO, AUTO, GPU, draws=True) == (15, 2)
    # Four training processes (torchrun) on the machine share its cores.
    assert share_cores(AUTO, AUTO, GPU, draws=True, processes=4) == (3, 2)


def test_data_that_is_only_read_leaves_every_core_to_training(cores):
    cores(8)
    assert share_cores(AUTO, AUTO, CPU, draws=False) == (2, 0)  # 0: torch's default, all cores


def test_the_training_loader_uses_workers_only_where_it_draws():
    spec = InputSpec(height=16, width=32, channels=1)
    arrays = ArrayDataset(Samples(np.zeros((4, 1, 16, 32), np.uint8), ["1", "2", "3", "4"]))
    stream = SyntheticDataset(SynthConfig.from_options("12", "1", (32, 16), "v07", ()), spec, 0, 4)
    assert loader_workers(arrays, 2) == 0  # read in memory: no process to start each epoch
    assert loader_workers(ConcatDataset([arrays, arrays]), 2) == 0  # labels and pseudo-labels
    assert loader_workers(stream, 2) == 2
    assert loader_workers(ConcatDataset([arrays, stream]), 2) == 2  # --mix-synthetic


def test_what_a_user_gave_is_kept(cores):
    cores(16)
    assert share_cores(3, AUTO, CPU, draws=True) == (3, 13)
    assert share_cores(AUTO, 5, GPU, draws=True) == (15, 5)
    assert share_cores(0, 0, CPU, draws=True) == (0, 0)


def test_a_run_records_the_workers_and_threads_it_chose(tmp_path, cores):
    cores(2)
    threads = torch.get_num_threads()
    config = TrainConfig(model="crnn_lite", out=str(tmp_path / "run"), epoch_size=32, val_size=16, batch_size=16,
                         epochs=1, schedule="onecycle", device="cpu")  # fmt: skip
    lines = []
    train(config, log=lines.append)
    assert torch.get_num_threads() == threads  # the caller's setting is back
    assert (config.workers, config.threads) == (1, 1)
    assert any("1 torch threads, 1 data workers" in line for line in lines)
    assert not any("reads the arrays in memory" in line for line in lines)  # it draws as it trains
    assert '"workers": 1' in (tmp_path / "run" / "config.json").read_text()
