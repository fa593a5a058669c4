"""`make bench`: the inference and server benchmarks (about 3 minutes on 2 cores).

Results go to a new folder under runs/bench/; --update rewrites benchmarks/results/.

Time to accuracy trains a model (15 minutes), so it runs only when asked:
    python benchmarks/run_all.py --time-to-accuracy
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

import common  # noqa: E402, F401 - a SIGTERM stops the benchmark and the one it runs

UPDATE = ["--update"] if "--update" in sys.argv[1:] else []  # rewrite benchmarks/results/


def run(script: str, *args: str) -> None:
    print(f"\n== {script} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args, *UPDATE], check=True)


if __name__ == "__main__":
    run("inference.py")
    run("server.py")
    if "--time-to-accuracy" in sys.argv:
        run("time_to_accuracy.py", "--train", "--out", "runs/tta", "--name", "time_to_accuracy_15min_cnn_lite")
