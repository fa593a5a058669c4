"""What every benchmark shares: where results go, and how they are written."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_results(name: str, data: dict, table: list[tuple[str, str]], title: str) -> Path:
    """benchmarks/results/NAME.json (all figures) and NAME.md (a short table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {**data, "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [f"### {title}", "", "| measure | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in table), ""]
    lines.append(f"_{data['machine']['cpu_count']} CPU cores, Python {data['machine']['python']}, {data['machine']['date']}_\n")
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines))
    print("\n".join(lines))
    return path
