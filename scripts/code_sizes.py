"""Sizes of the package's code: files over 300 lines and definitions over 80 (the house review's
measures), from the AST (`end_lineno - lineno + 1`).

    python scripts/code_sizes.py [ROOT]     # ROOT: a checkout (default: this one)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    files = sorted((root / "src" / "captcha_break").rglob("*.py"))
    lines = {f: len(f.read_text(encoding="utf-8").splitlines()) for f in files}
    print(f"files: {len(files)}, lines: {sum(lines.values())}")
    for f, n in sorted(lines.items(), key=lambda kv: -kv[1]):
        if n > 300:
            print(f"  file {n:>4}  {f.relative_to(root / 'src' / 'captcha_break')}")
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                size = node.end_lineno - node.lineno + 1
                if size > 80:
                    kind = "class" if isinstance(node, ast.ClassDef) else "function"
                    print(f"  {kind} {size:>4}  {f.relative_to(root / 'src' / 'captcha_break')}:{node.name}")


if __name__ == "__main__":
    main()
