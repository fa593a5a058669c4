"""Shared fixtures. Caches go to a temporary folder so tests never touch ~/.cache."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# The real labeled sets: $CAPTCHA_BREAK_DATASETS, else the workspace's shared sets beside the checkout
# (the tests that need them skip where neither is there).
SHARED = Path(os.environ.get("CAPTCHA_BREAK_DATASETS") or Path(__file__).resolve().parents[2] / "shared" / "datasets")


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def script_module(name: str):
    """scripts/NAME.py imported as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CAPTCHA_BREAK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


MATPLOTLIB_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf", "cmr10.ttf")


def matplotlib_font(name: str) -> Path:
    """A TrueType font that ships with matplotlib (a dependency)."""
    import matplotlib

    return Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / name


@pytest.fixture(scope="session")
def font_folder(tmp_path_factory) -> Path:
    """A folder of fonts that draw every digit and uppercase letter (matplotlib's own
    folder also holds symbol fonts, which the generator rejects)."""
    folder = tmp_path_factory.mktemp("fonts")
    for name in MATPLOTLIB_FONTS:
        shutil.copy(matplotlib_font(name), folder / name)
    return folder


@pytest.fixture(scope="session")
def symbol_font() -> Path:
    """A font that draws no digits or letters."""
    return matplotlib_font("STIXSizOneSymReg.ttf")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data sets not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> dict[str, Path]:
    """A crnn_fast trained for a few steps (so its outputs are not uniform), with its ONNX
    export and a handful of captcha files."""
    from captcha_break.export import export_onnx
    from captcha_break.synth import SynthConfig, write_pngs
    from captcha_break.train import TrainConfig, train

    root = tmp_path_factory.mktemp("tiny_model")
    config = TrainConfig(
        model="crnn_fast",
        out=str(root / "run"),
        pregenerate=64,
        val_size=16,
        batch_size=32,
        epochs=2,
        phase2_patience=0,
        workers=0,
    )
    with pytest.MonkeyPatch.context() as patch:  # session-wide, so not the per-test cache fixture
        patch.setenv("CAPTCHA_BREAK_CACHE", str(root / "cache"))
        best = train(config, log=lambda *_: None).best_path
    onnx = export_onnx(best, root / "model.onnx")
    write_pngs(SynthConfig(), root / "images", 6, seed=11)
    return {"pt": best, "onnx": onnx, "images": root / "images"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(*options: str) -> Iterator[int]:
    """`captcha-break serve OPTIONS` as a real process on loopback and a free port; yields
    the port once the server answers."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "captcha_break", "serve", *options, "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
