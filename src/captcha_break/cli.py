"""The `captcha-break` command line: its commands, their options and help, and the dispatch
to commands.py. Options come from the dataclasses that hold them (options.py)."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .assets import DEFAULT_MODEL
from .charset import DEFAULT_CHARS, LabelError
from .commands import (
    cmd_average,
    cmd_evaluate,
    cmd_export,
    cmd_generate,
    cmd_label,
    cmd_models,
    cmd_plot,
    cmd_predict,
    cmd_serve,
    cmd_train,
)  # fmt: skip
from .config import INT8_MODES, PLAIN_CHOICES, WEIGHT_FORMATS, TrainConfig
from .helptext import COMMANDS, USAGE
from .options import add_options, checked, parse_length, parse_size
from .preprocess import ImageError
from .recognizer import ReaderOptions
from .synth import SynthOptions

# Which install extra brings a module that a command imports on demand.
EXTRAS = {
    "torch": "train",
    "onnx": "train",
    "onnxscript": "train",
    "matplotlib": "plot",
    "fastapi": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "python_multipart": "serve",
}


def _add_synth_options(p, task: str = "") -> None:
    """The synthetic captchas' options (SynthOptions); `task` says where the unset ones come from."""
    task = task or f"{DEFAULT_CHARS}, 4 characters, 128x64, v07"
    add_options(p, SynthOptions, note={"chars": task, "length": task, "size": task, "style": task})


def _command(sub, name: str, func) -> argparse.ArgumentParser:
    summary, examples = COMMANDS[name]
    p = sub.add_parser(
        name, help=summary, usage=f"%(prog)s [options]{USAGE.get(name, '')}", epilog="examples:\n" + examples,
        description=summary[0].upper() + summary[1:] + ".", formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="captcha-break", description="Read text captchas, and learn to read a site's own.",
        epilog="start with: captcha-break predict IMAGE (the bundled general model), then label, train, predict --model "
        "RUN/best.pt.\n`captcha-break COMMAND --help` shows a command's options and examples.",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    builders = {
        "predict": _predict_options, "label": _label_options, "train": _train_options, "evaluate": _evaluate_options,
        "serve": _serve_options, "export": _export_options, "models": lambda p: None, "generate": _generate_options,
        "average": _average_options, "plot": _plot_options,
    }  # fmt: skip
    for name, func in COMMAND_FUNCS.items():
        builders[name](_command(sub, name, func))
    return parser


def _generate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, required=True, help="how many captchas to draw")
    p.add_argument("--out", required=True, help="folder to write them to (created if missing)")
    p.add_argument("--seed", default="0", help="any text or number: same seed, same images, byte for byte (default: 0)")
    p.add_argument("--workers", type=int, default=2, help="processes drawing (default: 2)")
    p.add_argument(
        "--answers", metavar="CSV",
        help="name the files INDEX.png and write their labels to this CSV instead (outside --out): unlabeled "
        "captchas, as a site serves them, to try the labeling tool on",
    )  # fmt: skip
    _add_synth_options(p)


def _train_options(p: argparse.ArgumentParser) -> None:
    from .config import GROUPS

    groups = {key: p.add_argument_group(title) for key, title in GROUPS.items()}
    note = {name: f"with --data chosen from the folder; else {getattr(TrainConfig(), name)}" for name in PLAIN_CHOICES}
    add_options(p, TrainConfig, groups, note)
    _add_synth_options(groups["synthetic"])  # --length, --size, --style, --font: shared with generate (--chars: data)
    model = groups["model"]
    model.add_argument(
        "--input-size", type=checked(parse_size), help="model input WIDTHxHEIGHT (default: the model's; with --data chosen)"
    )
    model.add_argument(
        "--color", choices=["auto", "gray", "rgb"], default="auto",
        help="model input: the model's own (auto; with --data chosen from the images), grayscale, "
        "or RGB for captchas whose colours tell text from clutter",
    )  # fmt: skip
    out = groups["output"]
    out.add_argument("--config", metavar="FILE", help="start from this config.json (a run folder's); options given here win")
    out.add_argument(
        "--print-config", action="store_true", help="print the run's config as JSON (after the --data choices) and stop"
    )
    out.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")


def _evaluate_options(p: argparse.ArgumentParser) -> None:
    _add_model_option(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--data", help="folder of labeled images (labels.csv, or labels in the file names)")
    group.add_argument("--count", type=int, help="this many fresh synthetic captchas of the model's own task")
    p.add_argument("--seed", default="eval", help="seed of the fresh captchas (default: eval)")
    p.add_argument("--label-rule", default="auto", help="how file names give labels, as for train (default: auto)")
    p.add_argument("--batch-size", type=int, default=256, help="images per model call (default: 256)")
    p.add_argument("--workers", type=int, default=2, help="processes reading or drawing images (default: 2)")
    p.add_argument("--plot", metavar="PNG", help="also write a picture of the readings (label in brackets) here")
    p.add_argument(
        "--errors", metavar="CSV",
        help="also write every misread image (file, label, reading, confidence) here, most confident first: "
        "the top rows are the likeliest wrong labels",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_synth_options(p, task="the model's own (its card says)")


def _predict_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders of them, or quoted globs ('shots/*.png')")
    _add_model_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--output", metavar="FILE", help="write the results to FILE.csv or FILE.jsonl (file, text, confidence) instead of stdout"
    )


def _label_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="folder of captcha images; the labels go to FOLDER/labels.csv")
    p.add_argument(
        "--chars", metavar="CHARS",
        help="the site's characters: labels with others are refused, and guesses use only these "
        "(--only-chars changes only the guesses)",
    )  # fmt: skip
    p.add_argument(
        "--length", metavar="N|MIN-MAX", type=checked(parse_length, keep_text=True),
        help="the site's label length: other lengths need a confirmation (default: the lengths of the labels so far)",
    )  # fmt: skip
    _add_model_option(p)
    p.add_argument("--host", default="127.0.0.1", help="loopback by default: the page is for you alone")
    p.add_argument("--port", type=int, default=8001, help="(default: 8001)")
    p.add_argument(
        "--order", choices=["confidence", "name"], default="confidence",
        help="confidence: the images the model is least sure of first (they need you); name: file order",
    )  # fmt: skip


def _export_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="training checkpoint (.pt), or a bundled model's name")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument(
        "--int8", nargs="?", const="dynamic", default="none", choices=INT8_MODES,
        help="int8 arithmetic in the convolutions and matrix products: dynamic (--int8 alone), or static: "
        "activation ranges fixed from calibration images, faster on CPUs with VNNI (default: none)",
    )  # fmt: skip
    p.add_argument(
        "--calibration", metavar="DIR",
        help="--int8 static: a folder of images like the ones the model will read "
        "(default: the training run's --data folder, or synthetic captchas of its task)",
    )  # fmt: skip
    p.add_argument(
        "--weights", choices=WEIGHT_FORMATS, default="fp32",
        help="how large weights are stored: fp16 halves the file, int8 quarters it; the arithmetic stays fp32 (default: fp32)",
    )  # fmt: skip


def _average_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "runs", nargs="+", metavar="RUN",
        help="run folders (their best.pt), checkpoints (a run's last.pt: its last weights) or bundled models, all of one model",
    )  # fmt: skip
    p.add_argument("--out", required=True, help="folder for the average: best.pt, and log.csv of all the runs' epochs")


def _serve_options(p: argparse.ArgumentParser) -> None:
    from .serve import ServeConfig

    _add_model_option(p)
    add_options(p, ServeConfig)


def _plot_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "what", choices=["samples", "augment", "curves", "model"],
        help="samples: captchas; augment: captchas and augmented copies; curves: a run's loss and accuracy; "
        "model: the layers and their sizes",
    )  # fmt: skip
    p.add_argument(
        "source", nargs="?",
        help="curves: a log.csv or a run folder (a soup's: each member's curves); model: a model name or checkpoint; "
        "samples/augment: a folder of labeled images (default: synthetic)",
    )  # fmt: skip
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--count", type=int, default=16, help="images shown (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn captchas and augmentations (default: 0)")
    _add_synth_options(p)


def _add_model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=DEFAULT_MODEL,
        help=f"a bundled model's name (`captcha-break models` lists them) or a model file (.onnx, or a training "
        f"run's .pt) (default: {DEFAULT_MODEL}, the broad model that reads many sites' captchas)",
    )  # fmt: skip
    note = {"only_length": "trained: the label lengths the model was trained on"}
    add_options(p, ReaderOptions, note=note)  # --threads, --fold-case, --only-chars, --only-length, --provider


COMMAND_FUNCS = {
    "predict": cmd_predict, "label": cmd_label, "train": cmd_train, "evaluate": cmd_evaluate, "serve": cmd_serve,
    "export": cmd_export, "models": cmd_models, "generate": cmd_generate, "average": cmd_average, "plot": cmd_plot,
}  # fmt: skip


def _drop_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered for a stdout that failed would
    otherwise fail again, as a traceback, when Python flushes it at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (stdout replaced in-process)
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "plot" and args.what in ("curves", "model") and not args.source:
        parser.error(f"plot {args.what} needs a source")
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, where a full disk or a closed pipe can still be said
        return code
    except (ValueError, FileNotFoundError, FileExistsError, ImageError, LabelError) as err:
        print(f"captcha-break: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `predict ... | head`: the reader has what it wanted
        _drop_stdout()
        return 141  # as a shell reports a process ended by SIGPIPE
    except OSError as err:  # `predict > /dev/full`, an output file on a full disk
        print(f"captcha-break: error: {err.strerror or err}{f': {err.filename}' if err.filename else ''}", file=sys.stderr)
        _drop_stdout()
        return 1
    except ModuleNotFoundError as err:
        extra = EXTRAS.get((err.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"captcha-break: error: `{args.command}` needs {err.name}: pip install 'captcha-break[{extra}]'", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
