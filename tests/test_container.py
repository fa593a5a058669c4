"""The container: built where docker runs; everywhere, its start command runs as a process."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import running_server

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> dict[str, str]:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {line.split()[0]: line.split(maxsplit=1)[1] for line in lines}


def test_the_image_runs_as_a_user_without_torch():
    found = instructions()
    assert found["USER"] not in ("root", "0")
    extras = re.search(r"\.\[([^\]]*)\]", found["RUN"]).group(1).split(",")
    assert extras == ["serve"]  # no torch, no matplotlib in the image
    assert found["FROM"].startswith("python:3.11-slim")


def test_the_start_command_serves():
    command = json.loads(instructions()["ENTRYPOINT"])
    assert command[:2] == ["captcha-break", "serve"] and "--host" in command and "--port" in command
    # As the container runs it, but on loopback and a free port (given last, so they win).
    with running_server(*command[2:]) as port:
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["status"] == "ok"


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_build():
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("docker is installed but no engine runs here")
    subprocess.run(["docker", "build", "-q", "-t", "captcha-break-test", str(ROOT)], check=True, timeout=1200)
