"""The plain command run as a user runs it, on labeled sets, for the benchmarks that measure
it (own_data.py, unseen_fonts.py, label_noise.py): label subsets, a test split kept apart,
figures recorded beside each run so that a stopped benchmark resumes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import results_dir, write_results

from captcha_break.folders import holdout_split, split_indices
from captcha_break.labels import scan_folder

BUDGET = "30m"
TARGETS = {"digits_wave_4": 0.995, "henan_digits_4": 0.995, "variable_upper": 0.90}
OTHER_SITES = 0.98  # the bar for any other real site
TEST_SPLIT = 0.2  # the plain command's (TrainConfig.test_split)


def captcha_break(*args: str) -> float:
    """Run a captcha-break command as a user would; its wall seconds."""
    print("$ captcha-break " + " ".join(args), flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "captcha_break", *args], check=True)
    return time.perf_counter() - start


def split(folder: Path) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(the 80% to draw labels from, the 20% test split), by the plain command's own rule."""
    items = scan_folder(folder).items
    train, val, test = holdout_split(len(items), 0.1, TEST_SPLIT)
    return [items[i] for i in sorted([*train, *val])], [items[i] for i in test]


def labeled_copy(items: list[tuple[Path, str]], folder: Path) -> Path:
    """A folder of links to `items` with a labels.csv: a subset without copying images."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,label"]
    for path, label in items:
        link = folder / path.name
        if not link.exists():
            os.symlink(path.resolve(), link)
        rows.append(f"{path.name},{label}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def run_folder(runs: Path, name: str, count: str) -> Path:
    """Where the command trains one point of the curve."""
    return runs / name / "all" if count == "all" else runs / name / f"labels_{count}" / "run"


def finished(out: Path, entry: dict) -> dict:
    """Record a run's figures beside it, so that --resume can reuse them."""
    (out / "benchmark.json").write_text(json.dumps(entry, indent=2) + "\n")
    return entry


def run_all(name: str, folder: Path, runs: Path, result: str, extra: tuple[str, ...] = ()) -> dict:
    out = run_folder(runs, name, "all")
    seconds = captcha_break("train", "--data", str(folder), "--out", str(out), "--time-budget", BUDGET, *extra)
    report = json.loads((out / "test_report.json").read_text())
    keep_gallery(out, result, name)
    return finished(out, {"labels": "all", "train_minutes": seconds / 60, "test_accuracy": report["accuracy"],
                          "test_cer": report["cer"], "test_count": report["count"],
                          "accuracy_by_length": report.get("accuracy_by_length")})  # fmt: skip


def keep_gallery(out: Path, result: str, name: str) -> None:
    """The misread test images of an all-labels run: what limits its figure."""
    gallery = out / "test_errors.png"
    if gallery.exists():
        shutil.copyfile(gallery, results_dir() / f"{result}_errors_{name}.png")


def run_subset(name: str, folder: Path, runs: Path, count: int) -> dict:
    pool, test = split(folder)
    chosen = [pool[i] for i in sorted(split_indices(len(pool), (count / len(pool),), seed=0)[1])] if count < len(pool) else pool
    base = runs / name / f"labels_{count}"
    data = labeled_copy(chosen, base / "data")
    tests = labeled_copy(test, runs / name / "test")
    out = run_folder(runs, name, str(count))
    seconds = captcha_break("train", "--data", str(data), "--out", str(out), "--time-budget", BUDGET, "--test-split", "0")
    scores = evaluated(str(out / "best.pt"), tests)
    (out / "test_report.json").write_text(json.dumps(scores))
    return finished(out, {"labels": len(chosen), "train_minutes": seconds / 60, "test_accuracy": scores["accuracy"],
                          "test_cer": scores["cer"], "test_count": scores["count"]})  # fmt: skip


def evaluated(model: str, data: Path) -> dict:
    """`captcha-break evaluate --model MODEL --data DATA --json`, as a user would run it."""
    out = subprocess.run([sys.executable, "-m", "captcha_break", "evaluate", "--model", model, "--data", str(data), "--json"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout  # fmt: skip
    return json.loads(out)


def run_sets(datasets: Path, names: list[str], labels: list[str], runs_dir: Path, result: str, title: str,
             extra=lambda name: (), resume: bool = False) -> None:  # fmt: skip
    """Run the plain command on each set under `datasets` for each label count, and write
    the figures to `result`.json / .md after each run (a run of some sets keeps the others'
    figures). extra(name): more options for a set's all-labels run. resume: reuse the runs
    that finished (RUN/benchmark.json) and start the others again."""
    previous = results_dir() / f"{result}.json"
    results = json.loads(previous.read_text())["datasets"] if previous.exists() else {}
    results = {name: entry for name, entry in results.items() if "runs" in entry}  # figures of this script's format
    for name in names:
        runs = results.setdefault(name, {"target": TARGETS.get(name, OTHER_SITES), "runs": {}})["runs"]
        for count in labels:
            out = run_folder(runs_dir, name, count)
            if resume and (out / "benchmark.json").exists():
                print(f"reusing {out}: it finished", flush=True)
                runs[count] = json.loads((out / "benchmark.json").read_text())
                if count == "all":
                    keep_gallery(out, result, name)
                continue
            if resume and out.exists():
                print(f"starting {out} again: it did not finish", flush=True)
                shutil.rmtree(out)
            if count == "all":
                runs[count] = run_all(name, datasets / name, runs_dir, result, extra(name))
            else:
                runs[count] = run_subset(name, datasets / name, runs_dir, int(count))
            write_figures(results, result, title)
    write_figures(results, result, title)


def write_figures(results: dict, result: str, title: str) -> None:
    table = []
    for name, entry in results.items():
        for count, r in sorted(entry["runs"].items(), key=lambda kv: (kv[0] == "all", int(kv[0]) if kv[0] != "all" else 0)):
            target = f"; target {entry['target']:.1%}" if entry.get("target") and count == "all" else ""
            table.append((f"{name}, {r['labels']} labels", f"{r['test_accuracy']:.2%} of {r['test_count']} test images "
                          f"(CER {r['test_cer']:.2%}), {r['train_minutes']:.1f} min{target}"))  # fmt: skip
    write_results(result, {"budget": BUDGET, "datasets": results}, table, title)
