"""The README's commands run as written, in order, in a fresh folder (so it cannot drift).

Every `captcha-break` and `curl` line of its ```bash blocks runs, with three changes that
keep the suite fast: training gets --dry-run (two batches an epoch), evaluate counts over
200 become 200, and `serve` / `label` start in the background on a free port (which the
`curl` lines that follow use) and stop at the end of their block. Where a `generate` line
kept the answers apart (--answers), the first `label` server of the block is answered
through its page's API with them, as the user would in the browser. Lines for other tools
(make, pip, docker, torchrun, python) are left to their own tests.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BACKGROUND = ("captcha-break serve", "captcha-break label")


def readme_blocks() -> list[list[str]]:
    """The commands of each ```bash block: continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text()
    blocks = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


def runnable(line: str) -> bool:
    return line.startswith(("captcha-break ", "curl "))


def adapt(line: str) -> str:
    if line.startswith("captcha-break train") and "--dry-run" not in line:
        line += " --dry-run"
    return re.sub(r"--count (\d+)", lambda m: f"--count {min(int(m.group(1)), 200)}", line) if "evaluate" in line else line


def start(line: str, env: dict, cwd: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = shlex.split(line)
    args = [a for i, a in enumerate(args) if a != "--port" and (i == 0 or args[i - 1] != "--port")]
    proc = subprocess.Popen([*args, "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    probe = "/health" if "serve" in line else "/api/progress"
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1).status_code == 200:
                return proc, port
        except httpx.TransportError:
            if proc.poll() is not None:
                raise AssertionError(f"`{line}` exited: {proc.stderr.read().decode()}") from None
            time.sleep(0.1)
    raise AssertionError(f"`{line}` did not start")


def answer_like_a_user(answers: Path, port: int) -> int:
    """Post every answer of `answers` (file,label) to the labeling server on `port`."""
    rows = list(csv.DictReader(answers.open(encoding="utf-8")))
    for row in rows:
        done = httpx.post(f"http://127.0.0.1:{port}/api/label", json={"file": row["file"], "label": row["label"]}, timeout=10)
        assert done.status_code == 200, done.text
    return len(rows)


def test_readme_names_no_path_outside_the_repository():
    text = (ROOT / "README.md").read_text()
    assert "../" not in text and "/work/" not in text


def test_every_readme_command_runs_in_order(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    ran = 0
    for block in readme_blocks():
        servers: list[subprocess.Popen] = []
        port = None
        answers = None
        try:
            for line in filter(runnable, block):
                command = adapt(line)
                if command.startswith(BACKGROUND):
                    for earlier in servers:  # the user stops a server (Ctrl-C) before starting the next
                        earlier.terminate()
                        earlier.wait(timeout=20)
                    proc, port = start(command, env, tmp_path)
                    servers.append(proc)
                    if answers and command.startswith("captcha-break label"):
                        assert answer_like_a_user(tmp_path / answers, port) > 0
                        answers = None
                    continue
                if "--answers" in command:
                    answers = shlex.split(command)[shlex.split(command).index("--answers") + 1]
                if port is not None:
                    command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
                        "127.0.0.1:8001", f"127.0.0.1:{port}"
                    )
                if command.startswith("curl "):
                    command = command.replace("curl ", "curl -sf ", 1)  # fail on an HTTP error
                done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
                assert done.returncode == 0, f"`{line}` failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
                ran += 1
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(timeout=20)
    assert ran >= 15  # the README's commands, not a parsing accident
    assert (tmp_path / "readings.csv").read_text().startswith("file,text,confidence")
    assert (tmp_path / "runs" / "site" / "best.pt").exists()


def test_the_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, re.S)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert len(namespace["results"]) == 2 and namespace["result"].text


@pytest.mark.parametrize("block", readme_blocks()[:1])
def test_the_setup_block_is_the_two_make_targets(block):
    assert block == ["make demo", "make test"]
