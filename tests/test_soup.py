"""train --soup N: fine-tunes of one base model, their weights averaged into the run's model."""

import json
import shutil

import pytest
import torch

from captcha_break.checkpoint import load_checkpoint
from captcha_break.cli import main
from captcha_break.runfolder import run_logs


@pytest.fixture(scope="module")
def soup(tmp_path_factory):
    root = tmp_path_factory.mktemp("soup")
    assert main(["generate", "--count", "40", "--seed", "soup", "--out", str(root / "data"), "--workers", "0"]) == 0
    assert _train(root, "run") == 0
    return root


def _train(root, out: str, *extra: str) -> int:
    return main(["train", "--data", str(root / "data"), "--out", str(root / out), "--init", "captcha4", "--soup", "2",
                 "--dry-run", "--batch-size", "8", "--workers", "0", *extra])  # fmt: skip


def test_the_model_is_the_mean_of_the_members_weights(soup):
    members = [load_checkpoint(soup / "run" / f"member_{k}" / "best.pt") for k in (1, 2)]
    assert [m.meta["train_config"]["seed"] for m in members] == [0, 1]
    model = load_checkpoint(soup / "run" / "best.pt")
    name = next(k for k, v in model.state_dict.items() if v.is_floating_point() and v.numel() > 100)
    assert not torch.equal(members[0].state_dict[name], members[1].state_dict[name])  # two different fine-tunes
    mean = (members[0].state_dict[name] + members[1].state_dict[name]) / 2
    assert torch.allclose(model.state_dict[name], mean)
    # reported on the test split every member held out
    report = json.loads((soup / "run" / "test_report.json").read_text())
    member_report = json.loads((soup / "run" / "member_1" / "test_report.json").read_text())
    assert report["count"] == member_report["count"] > 0


def test_plot_curves_of_a_soup_draws_each_members_log(soup, tmp_path, capsys):
    logs = run_logs(soup / "run")  # the members drawn over each other, not one after another
    assert list(logs) == ["member_1", "member_2"]
    assert logs["member_2"] == run_logs(soup / "run" / "member_2")[""] != []
    assert len(run_logs(soup / "run" / "log.csv")[""]) == len(logs["member_1"]) + len(logs["member_2"])
    out = tmp_path / "curves.png"
    assert main(["plot", "curves", str(soup / "run"), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert main(["plot", "curves", str(soup / "data"), "--out", str(tmp_path / "none.png")]) == 2
    assert "no log.csv in" in capsys.readouterr().err
    assert not (tmp_path / "none.png").exists()


def test_a_resumed_soup_keeps_its_finished_members(soup, capsys):
    (soup / "run" / "best.pt").unlink()  # stopped before the mean was written
    before = (soup / "run" / "member_1" / "best.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", "--data", str(soup / "data"), "--out", str(soup / "run"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "soup member 1 of 2 done" in out and "soup member 2 of 2 done" in out
    assert (soup / "run" / "member_1" / "best.pt").read_bytes() == before
    assert (soup / "run" / "best.pt").exists()


def test_a_member_stopped_midway_trains_again_from_its_checkpoint(soup, capsys):
    shutil.copytree(soup / "run", soup / "stopped")
    (soup / "stopped" / "member_2" / "member_done").unlink()
    capsys.readouterr()
    assert main(["train", "--data", str(soup / "data"), "--out", str(soup / "stopped"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "soup member 1 of 2 done" in out and "resuming" in out


def test_a_resumed_soup_takes_how_it_runs_from_the_new_command(soup, capsys):
    capsys.readouterr()
    assert main(["train", "--out", str(soup / "run"), "--resume", "--threads", "1", "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["soup"], config["threads"], config["init"]) == (2, 1, "captcha4")
    # ... but not what it learns: that would silently not apply
    assert main(["train", "--out", str(soup / "run"), "--resume", "--lr", "0.5", "--print-config"]) != 0
    assert "lr (the run's" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [(("--soup", "0"), "--soup 0"), (("--soup", "2", "--init", "none"), "--soup needs --init")],
)
def test_a_soup_that_cannot_be_is_refused(tmp_path, capsys, extra, message):
    assert main(["generate", "--count", "12", "--out", str(tmp_path / "data"), "--workers", "0"]) == 0
    args = ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--dry-run", "--workers", "0"]
    assert main([*args, *extra]) != 0
    assert message in capsys.readouterr().err
