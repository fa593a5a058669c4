"""What `captcha-break --help` and each `COMMAND --help` say: a line per command and its
examples, apart from the parser that shows them (cli.py)."""

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
