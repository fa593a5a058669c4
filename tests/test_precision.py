"""Training precision: bf16 autocast where the hardware has it, losses in fp32."""

import pytest
import torch

from captcha_break.device import autocast, cpu_has_bf16, pick_precision
from captcha_break.train import TrainConfig, train


def test_auto_precision_follows_the_cpu():
    cpu = torch.device("cpu")
    assert pick_precision("auto", cpu) == ("bf16" if cpu_has_bf16() else "fp32")
    assert pick_precision("fp32", cpu) == "fp32"
    assert pick_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="precision"):
        pick_precision("fp8", cpu)


@pytest.mark.parametrize("precision,dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_autocast_runs_the_forward_pass_in_the_chosen_precision(precision, dtype):
    layer = torch.nn.Linear(8, 4)
    with autocast(precision, torch.device("cpu")):
        out = layer(torch.rand(2, 8))
    assert out.dtype == dtype


def test_a_bf16_run_learns_and_records_its_precision(tmp_path):
    config = TrainConfig(
        model="crnn_fast", out=str(tmp_path / "run"), pregenerate=64, val_size=32, batch_size=16, epochs=4,
        patience=10, phase2_patience=0, workers=0, lr=2e-3, precision="bf16",
    )  # fmt: skip
    lines = []
    result = train(config, log=lines.append)
    losses = [r.train_loss for r in result.history]
    assert losses[-1] < 0.8 * losses[0]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert any("precision bf16" in line for line in lines)
    saved = torch.load(result.best_path, weights_only=True)
    assert saved["meta"]["train_config"]["precision"] == "bf16"
    # The weights stay fp32: autocast only lowers the arithmetic.
    assert all(v.dtype in (torch.float32, torch.int64) for v in saved["state_dict"].values())
