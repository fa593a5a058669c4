import pytest
import torch

from captcha_break.datasets import Batch
from captcha_break.replay import ReplayBuffer
from captcha_break.train import TrainConfig, train


def batch(labels: list[str], value0: int = 0) -> Batch:
    """One image per label, image i filled with (value0 + i) / 255: each says which it is."""
    n, width = len(labels), max(len(label) for label in labels)
    images = torch.stack([torch.full((1, 4, 6), (value0 + i) / 255) for i in range(n)])
    targets = torch.tensor([[ord(c) - 47 for c in label] + [0] * (width - len(label)) for label in labels])
    return Batch(images.contiguous(memory_format=torch.channels_last), targets, torch.tensor([len(x) for x in labels]), labels)


def test_the_first_batch_trains_alone_then_later_ones_bring_earlier_captchas():
    replay = ReplayBuffer(factor=2, capacity=100, label_width=5)
    first = batch(["12", "345", "6"])
    assert replay.mix(first) is first  # nothing drawn earlier yet
    assert len(replay.images) == 3  # grown as captchas come, not the capacity's memory up front
    second = batch(["77", "88"], value0=10)
    mixed = replay.mix(second)
    assert len(mixed.labels) == 2 + 2 and mixed.images.shape == (4, 1, 4, 6)
    assert mixed.labels[:2] == ["77", "88"] and torch.equal(mixed.images[:2], second.images)
    assert set(mixed.labels[2:]) <= {"12", "345", "6"}  # only what was stored before this batch
    assert len(replay.images) == 6 and replay.labels[3:] == ["77", "88"]  # doubled, the first three kept in place
    assert torch.equal(replay.images[:3].float() / 255, first.images)
    assert mixed.targets.shape == (4, 5)  # padded to the run's longest label
    for image, target, length, label in zip(mixed.images[2:], mixed.targets[2:], mixed.lengths[2:], mixed.labels[2:]):
        i = ["12", "345", "6"].index(label)
        assert torch.equal(image, first.images[i])  # stored as uint8: the same pixels come back
        assert target[: len(label)].tolist() == first.targets[i, : len(label)].tolist() and int(length) == len(label)
        assert not target[len(label) :].any()


def test_a_full_buffer_overwrites_its_oldest_captchas():
    replay = ReplayBuffer(factor=2, capacity=3, label_width=2)
    for k, labels in enumerate((["11", "12"], ["21", "22"], ["31", "32"])):
        replay.mix(batch(labels, value0=10 * k))
    assert replay.filled == 3 and sorted(replay.labels) == ["22", "31", "32"]
    mixed = replay.mix(batch(["41"]))
    assert mixed.labels[1] in {"22", "31", "32"}
    assert len(replay.mix(batch(["51", "52", "53", "54"])).labels) == 4 + 3  # never more than it holds


def test_a_replay_factor_below_one_is_refused():
    with pytest.raises(ValueError, match="--replay must be at least 1"):  # as the options are read, before any drawing
        TrainConfig(out="run", replay=0.5)
    with pytest.raises(ValueError, match="--replay-size"):
        TrainConfig(out="run", replay=2, replay_size=0)


def test_a_replaying_run_trains_and_counts_its_fresh_captchas(tmp_path):
    config = TrainConfig(
        model="crnn_fast", out=str(tmp_path / "run"), pregenerate=64, val_size=32, batch_size=16, epochs=2, workers=0,
        lr=2e-3, replay=3, replay_size=40, schedule="onecycle",
    )  # fmt: skip
    result = train(config, log=lambda *_: None)
    assert result.best_path.exists()
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert all(record.images_per_second > 0 for record in result.history)
