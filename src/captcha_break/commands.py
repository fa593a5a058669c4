"""What each `captcha-break` command does, once cli.py has read its options: a thin layer
over the modules, one function a command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .assets import model_line, resolve
from .charset import DEFAULT_CHARS
from .config import TrainConfig
from .fonts import find_fonts
from .locking import exclusive
from .options import given, parse_length
from .recognizer import ReaderOptions
from .synth import SynthConfig, SynthOptions


def _synth_config(args, task: SynthConfig | None = None) -> SynthConfig:
    """The captchas the synth options ask for; what they leave unset comes from `task` (a
    model's own captchas), else from SynthConfig's defaults (the tutorial's task)."""
    return SynthOptions(**given(args, SynthOptions)).config(task)


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
    fields.update(given(args, TrainConfig))
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
        charset, args.fold_case, args.workers, recognizer.views[1:],
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

    if str(args.model).endswith(".onnx"):
        raise ValueError(f"{args.model} is already an ONNX model: export takes a training checkpoint (.pt)")
    source = resolve(args.model, "pt")  # a bundled model's name gives its .pt
    out = export_onnx(source, args.out, int8=args.int8, weights=args.weights, calibration=args.calibration)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def cmd_average(args) -> int:
    from .average import average_runs

    best = average_runs(args.runs, args.out)
    print(f"wrote {best}: the mean of {len(args.runs)} models' weights")
    return 0


def cmd_serve(args) -> int:
    from .connections import check_port
    from .serve import ServeConfig, serve

    config = ServeConfig(**given(args, ServeConfig))
    check_port(config.host, config.port)
    serve(config)
    return 0


def cmd_label(args) -> int:
    import uvicorn

    from .connections import check_port
    from .labeling import create_label_app, open_session
    from .labeling.guard import access

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
        token, hosts, address = access(args.host, args.port)
        print(f"open {address} (Ctrl-C stops; every answer is already saved)")
        app = create_label_app(session, args.order, token=token, hosts=hosts)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_models(_args) -> int:
    """The architectures `train --model` takes (from the registry), and the bundled models."""
    from .assets import ASSETS, bundled_names
    from .models import MODELS
    from .recognizer import Recognizer

    print("architectures (train --model NAME):")
    for name, entry in sorted(MODELS.items()):
        print(f"  {name:<10} {entry.about}")
    print("bundled models (--model NAME, train --init NAME; their cards: src/captcha_break/assets/NAME.md in the repository):")
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
