"""captcha_break: learn to read text captchas.

Pipeline, one module (or two) a stage: charset -> synth, broad, fonts (generation) ->
preprocess -> labels, folders, cache, datasets -> models -> losses -> augment, finetune,
auto, config -> device, train, distributed, tensorboard, report -> decoding, metrics,
evaluate -> assets, recognizer, predict -> export, serve, labeling; plots, pool and cli
alongside. Importing the package never imports torch.
"""

__version__ = "0.1.0"

from .charset import Charset  # noqa: E402
from .preprocess import ImageError  # noqa: E402
from .recognizer import Prediction, Recognizer  # noqa: E402

__all__ = ["Charset", "ImageError", "Prediction", "Recognizer", "__version__"]
