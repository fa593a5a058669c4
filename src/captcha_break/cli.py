"""`captcha-break` command line: a thin layer over the modules, one subcommand each."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .assets import DEFAULT_MODEL, model_line
from .charset import DEFAULT_CHARS, LabelError
from .config import INT8_MODES, PLAIN_CHOICES, WEIGHT_FORMATS, TrainConfig
from .fonts import find_fonts
from .locking import exclusive
from .options import add_options, checked, given, parse_length, parse_size
from .preprocess import ImageError
from .recognizer import ReaderOptions
from .synth import SynthConfig, SynthOptions

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


def _synth_config(args, task: SynthConfig | None = None) -> SynthConfig:
    """The captchas the synth options ask for; what they leave unset comes from `task` (a
    model's own captchas), else from SynthConfig's defaults (the tutorial's task)."""
    return SynthOptions(**given(args, SynthOptions)).config(task)


def _add_synth_options(p, task: str = "") -> None:
    """The synthetic captchas' options (SynthOptions); `task` says where the unset ones come from."""
    task = task or f"{DEFAULT_CHARS}, 4 characters, 128x64, v07"
    add_options(p, SynthOptions, note={"chars": task, "length": task, "size": task, "style": task})


def cmd_generate(args) -> int:
    from .synth import write_pngs

    answers = Path(args.answers) if args.answers else None
    if answers is not None and answers.resolve().parent == Path(args.out).resolve():
        raise ValueError(f"--answers {answers} is inside --out: train and label would read it as the folder's labels")
    names = write_pngs(_synth_config(args), Path(args.out), args.count, args.seed, workers=args.workers, answers=answers)
    print(f"wrote {plural(len(names), 'captcha')} to {args.out}" + (f", their labels to {answers}" if answers else ""))
    return 0


def cmd_train(args) -> int:
    from .distributed import launched
    from .plain import given_names, resolve, run

    fields = train_fields(args)
    if fields["out"] is None and not args.print_config:
        raise ValueError("train needs --out (the run folder), or a --config that names one")
    rules = {"chars": fields["chars"], "length": fields["length"], "lr": fields["lr"]}  # as given, before any choice
    given = given_names(fields)
    config = resolve(fields, args.resume)
    if args.print_config:
        print(config.to_json())
        return 0
    try:
        result = run(config, resume=args.resume, rules=rules, given=given)
    except (FileNotFoundError, FileExistsError):
        raise  # main() prints these as they are
    except OSError as err:  # a full disk or a vanished folder mid-run; checkpoints are written atomically
        print(f"captcha-break: error: {err.strerror or err}{f': {err.filename}' if err.filename else ''}", file=sys.stderr)
        print(f"captcha-break: the last good checkpoint is in {config.out}: free space, then --resume", file=sys.stderr)
        return 1
    except RuntimeError as err:
        rank, size = launched()
        if size == 1:
            raise
        # A peer that died or stopped answering surfaces as a backend error on the others.
        print(f"captcha-break: error: rank {rank}: the distributed run failed: {err}", file=sys.stderr)
        print("captcha-break: the last finished epoch is in --out; start again with --resume", file=sys.stderr)
        return 1
    if launched()[0] == 0:  # under torchrun, rank 0 speaks for the run
        print(f"best model: {result.best_path}")
    return 0


def train_fields(args) -> dict:
    """TrainConfig fields from --config and the options; None where neither gave one. A
    value given on the command line beats --config's and the --data choices."""
    from dataclasses import fields as config_fields

    fields = TrainConfig.from_file(args.config) if args.config else {}
    fields.update({k: v for k, v in given(args, TrainConfig).items() if k not in ("length", "style", "chars")})
    # The options that set several fields, or are shared with generate and evaluate (SynthOptions).
    synth = SynthOptions(**given(args, SynthOptions))
    width, height = synth.size or (None, None)
    input_w, input_h = args.input_size or (None, None)
    composite = dict(
        chars=synth.chars, length=synth.length, image_width=width, image_height=height, style=synth.style,
        fonts=find_fonts(synth.font) if synth.font else None, input_width=input_w, input_height=input_h,
        channels={"gray": 1, "rgb": 3}.get(args.color),
    )  # fmt: skip
    fields.update({name: value for name, value in composite.items() if value is not None})
    return {f.name: fields.get(f.name) for f in config_fields(TrainConfig)}


def _recognizer(args, model: str, only_chars: str | None = None):
    """The Recognizer that the model options (_add_model_option) ask for; `only_chars`
    holds it to an alphabet where --only-chars is not given."""
    options = ReaderOptions(**given(args, ReaderOptions))
    options.only_chars = options.only_chars or only_chars
    return options.load(model)


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate
    from .sources import labeled_samples

    recognizer = _recognizer(args, args.model)
    recognizer.batch_size = args.batch_size
    spec, charset = recognizer.spec, recognizer.info.charset
    samples = labeled_samples(
        spec, _synth_config(args, model_task(recognizer.info)), args.data, args.count or 0, args.seed, args.label_rule,
        charset, args.fold_case, args.workers,
    )  # fmt: skip
    if len(samples) == 0:
        raise ValueError(
            f"{args.data}: no labeled images to evaluate on (labels come from labels.csv, or from file names like "
            f"ABCD.png): label them with `captcha-break label {args.data}`"
        )
    result = evaluate(recognizer, samples, progress=not args.json, folder=args.data)
    if args.plot:
        from .evaluate import errors_first
        from .plots import plot_predictions

        shown = errors_first(samples.labels, result.predictions, 16)  # what needs a look comes first
        plot_predictions(
            samples.pixels[shown], [samples.labels[i] for i in shown], [result.predictions[i] for i in shown], args.plot,
            confidences=[result.confidences[i] for i in shown],
        )  # fmt: skip
    if args.errors:
        from .evaluate import write_errors

        count = write_errors(args.errors, samples, result)
        print(f"{count} misread images -> {args.errors} (most confident first: likeliest wrong labels)", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    s = result.scores
    print(f"model:           {model_line(args.model, recognizer.info)}")
    print(f"captchas:        {s.count}")
    print(f"accuracy:        {s.accuracy:.4f}  (whole captcha right)")
    print(f"char accuracy:   {s.char_accuracy:.4f}")
    print(f"images/second:   {result.images_per_second:.0f}")
    if s.confusions:
        print(
            "most misread:    " + ", ".join(f"{t} read as {p} ({n}x)" for t, p, n in s.confusions) + "  (label read as reading)"
        )
    return 0


def model_task(info) -> SynthConfig:
    """The synthetic captchas a model was made for (its card says), else in its charset."""
    synth = info.meta.get("card", {}).get("synth")
    return SynthConfig(**synth) if synth else SynthConfig(chars=info.charset.chars)


def cmd_predict(args) -> int:
    from .predict import expand_inputs, predict_files, result_writer

    paths = expand_inputs(args.images)
    recognizer = _recognizer(args, args.model)
    print(f"reading {plural(len(paths), 'image')} with {model_line(args.model, recognizer.info)}", file=sys.stderr)
    with result_writer(args.output, "jsonl" if args.json else "tsv") as write:
        failed = predict_files(recognizer, paths, write, progress=args.output is not None or None)
    if args.output:
        done = plural(len(paths) - failed, "result")
        print(f"wrote {done} to {args.output}" + (f" ({plural(failed, 'file')} failed)" if failed else ""))
    return 1 if failed else 0


def plural(count: int, noun: str) -> str:
    """'1 image', '2 images'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def cmd_plot(args) -> int:
    from . import plots

    if args.what == "samples":
        pixels, labels = _sample_pixels(args)
        plots.plot_samples(pixels, labels, args.out)
    elif args.what == "augment":
        from .augment import preview

        pixels, labels = _sample_pixels(args)
        variants = 4
        shown = preview(pixels, variants, seed=args.seed)
        titles = [t for label in labels for t in [label] + ["augmented"] * variants]
        plots.plot_samples(shown, titles, args.out, cols=1 + variants)
    elif args.what == "curves":
        from .runfolder import run_logs

        plots.plot_curves(run_logs(args.source), args.out)
    elif args.what == "model":
        _plot_model(args, plots)
    print(f"wrote {args.out}")
    return 0


def _sample_pixels(args):
    """--count images: the first of the folder SOURCE, else drawn synthetic captchas."""
    from .preprocess import InputSpec
    from .sources import preview_samples

    synth = _synth_config(args)
    samples = preview_samples(InputSpec(synth.height, synth.width, 3), synth, args.source, args.count, args.seed)
    return samples.pixels, samples.labels


def _plot_model(args, plots) -> None:
    from .checkpoint import load_checkpoint
    from .models import build_model, default_config, model_names

    if args.source in model_names():
        config = default_config(args.source, len(DEFAULT_CHARS) + 1, 4)
        model, name = build_model(args.source, config), args.source
        shape = (config.convs.in_channels, config.height, config.width)
    else:
        ckpt = load_checkpoint(args.source)
        model, name, shape = ckpt.build(), ckpt.model_name, ckpt.input.shape
    rows = plots.model_table(model, shape)
    print(plots.format_table(rows))
    plots.plot_model(rows, args.out, title=f"{name}: input {shape}")


def cmd_export(args) -> int:
    from .export import export_onnx
    from .finetune import resolve_checkpoint

    if str(args.model).endswith(".onnx"):
        raise ValueError(f"{args.model} is already an ONNX model: export takes a training checkpoint (.pt)")
    source = resolve_checkpoint(args.model)  # a bundled model's name gives its .pt
    out = export_onnx(source, args.out, int8=args.int8, weights=args.weights, calibration=args.calibration)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def cmd_average(args) -> int:
    from .average import average_runs

    best = average_runs(args.runs, args.out)
    print(f"wrote {best}: the mean of {len(args.runs)} models' weights")
    return 0


def cmd_serve(args) -> int:
    from .serve import ServeConfig, serve

    config = ServeConfig(**given(args, ServeConfig))
    check_port(config.host, config.port)
    serve(config)
    return 0


def cmd_label(args) -> int:
    import uvicorn

    from .labeling import create_label_app, open_session

    check_port(args.host, args.port)  # before the slow reading, and before printing an address
    if args.length and args.only_length is None:  # guesses of the site's length too
        args.only_length = parse_length(args.length)
    recognizer = _recognizer(args, args.model, args.chars)  # guesses in the labels' alphabet
    print(f"reading {args.folder} with {model_line(args.model, recognizer.info)} for the guesses ...")
    lengths = parse_length(args.length) if args.length else None
    with exclusive(Path(args.folder) / ".labels.lock", "another label server"):  # two would drop each other's answers
        session = open_session(args.folder, recognizer, chars=args.chars, fold_case=args.fold_case, lengths=lengths)
        for line in session.left_out[:20]:
            print(f"left out {line}", file=sys.stderr)
        progress = session.progress()
        print(f"{plural(progress['total'], 'image')}, {progress['done']} done; labels go to {session.store.path}")
        token, hosts, address = _label_access(args.host, args.port)
        print(f"open {address} (Ctrl-C stops; every answer is already saved)")
        app = create_label_app(session, args.order, token=token, hosts=hosts)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _label_access(host: str, port: int) -> tuple[str | None, tuple[str, ...], str]:
    """(token, Host headers answered, the address to open) for the labeling server: on
    loopback no token but only loopback names (no DNS rebinding); elsewhere a token, as
    Jupyter prints one, and a warning that the page is reachable from other machines."""
    import secrets

    if host in LOOPBACK:
        names = ("127.0.0.1", "localhost", "[::1]")
        return None, tuple(f"{name}:{port}" for name in names), f"http://{host if ':' not in host else '[::1]'}:{port}/"
    token = secrets.token_urlsafe(16)
    print(f"warning: --host {host} makes the page reachable from other machines; it needs the token below", file=sys.stderr)
    return token, (), f"http://{host}:{port}/?token={token}"


def check_port(host: str, port: int) -> None:
    """Refuse a port that is out of range or taken, in one line (uvicorn would say it late)."""
    import socket

    if not 0 < port < 65536:
        raise ValueError(f"--port {port}: a port is a number from 1 to 65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closing port is free
        try:
            probe.bind((host, port))
        except OSError as err:
            raise ValueError(f"cannot listen on {host}:{port} ({err.strerror}): pass another --port") from None


def cmd_models(_args) -> int:
    """The architectures `train --model` takes (from the registry), and the bundled models."""
    from .assets import ASSETS, bundled_names
    from .models import MODELS
    from .recognizer import Recognizer

    print("architectures (train --model NAME):")
    for name, entry in sorted(MODELS.items()):
        print(f"  {name:<10} {entry.about}")
    print("bundled models (--model NAME, train --init NAME; the card: assets/NAME.md):")
    for name in bundled_names():
        info = Recognizer.load(name, threads=1).info
        card = info.meta.get("card", {})
        task = card.get("synth", {"style": "v07", "chars": DEFAULT_CHARS, "min_len": 4, "max_len": 4})
        length = f"{task['min_len']}-{task['max_len']}" if task["min_len"] != task["max_len"] else str(task["min_len"])
        print(
            f"  {name:<10} {info.name}, {info.input.width}x{info.input.height}: {length} characters of "
            f"{len(task['chars'])} ({task['style']} style), {card.get('accuracy', 0):.2%} of fresh ones, "
            f"{(ASSETS / f'{name}.onnx').stat().st_size / 1e6:.2f} MB"
        )
    return 0


# Each subcommand: (one line for the command list, examples for the end of its help), in
# the order a user meets them.
COMMANDS = {
    "predict": (
        "read the text of captcha images (files, folders, quoted globs)",
        """\
  captcha-break predict examples/1KQ0.png
  captcha-break predict shots/ --output readings.csv
  captcha-break predict --model runs/site/best.pt --only-chars 0123456789 --only-length 4 'shots/*.png'""",
    ),
    "label": (
        "label a folder in the browser, the model's guesses pre-filled (writes FOLDER/labels.csv)",
        """\
  captcha-break label site/                      # open the printed address; Enter accepts a guess
  captcha-break label site/ --chars 0123456789 --length 4
  captcha-break label site/ --model runs/site/best.pt   # guesses from your trained model""",
    ),
    "train": (
        "train a model: on a folder of labeled captchas (fine-tuning `general`), or on synthetic ones",
        """\
  captcha-break train --data site/ --out runs/site                    # choices made from the folder
  captcha-break train --data site/ --out runs/site --time-budget 10m
  captcha-break train --model crnn_fast --out runs/synth --epochs 20  # the tutorial's task, from nothing
  captcha-break train --out runs/site --resume                        # continue an interrupted run""",
    ),
    "evaluate": (
        "measure a model's accuracy on a labeled folder or on fresh synthetic captchas",
        """\
  captcha-break evaluate --data site/ --errors misread.csv
  captcha-break evaluate --model captcha4 --count 1000""",
    ),
    "serve": (
        "run an HTTP service: POST /predict, /predict/batch; GET /health, /models, /docs, a demo page",
        """\
  captcha-break serve --port 8000
  curl -F file=@examples/1KQ0.png http://127.0.0.1:8000/predict""",
    ),
    "export": (
        "write an ONNX model (reads without torch) from a training checkpoint",
        """\
  captcha-break export --model runs/site/best.pt --out site.onnx
  captcha-break export --model runs/site/best.pt --out site.onnx --weights int8""",
    ),
    "models": ("list the bundled models and the architectures `train --model` takes", "  captcha-break models"),
    "generate": (
        "draw labeled synthetic captchas into a folder (LABEL_INDEX.png)",
        """\
  captcha-break generate --count 100 --out samples/
  captcha-break generate --count 100 --out samples/ --style lines --chars 0123456789 --length 4-6""",
    ),
    "average": (
        "average runs fine-tuned from one model into one model (a model soup)",
        """\
  captcha-break average runs/a runs/b --out runs/soup""",
    ),
    "plot": (
        "pictures: samples, augmentations, training curves, the model's layers",
        """\
  captcha-break plot samples --out samples.png --style broad
  captcha-break plot curves runs/site --out curves.png
  captcha-break plot model general --out model.png""",
    ),
}


USAGE = {
    "predict": " IMAGE [IMAGE ...]",
    "label": " FOLDER",
    "average": " RUN [RUN ...] --out DIR",
    "plot": " WHAT [SOURCE] --out PNG",
}


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "plot" and args.what in ("curves", "model") and not args.source:
        parser.error(f"plot {args.what} needs a source")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImageError, LabelError) as err:
        print(f"captcha-break: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        extra = EXTRAS.get((err.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"captcha-break: error: `{args.command}` needs {err.name}: pip install 'captcha-break[{extra}]'", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
