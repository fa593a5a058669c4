"""captcha_break: learn to read text captchas.

Pipeline, one module (or two) a stage: charset -> synth, broad, fonts (generation) ->
preprocess -> labels, folders, cache, sources, datasets -> models, schemes -> losses ->
augment, finetune, config, plain (the plain command) -> device, distributed, train/ (one
run: setup, loop, state, judge, budget, optim), runfolder, replay, tensorboard, report ->
selftrain, soup, average, adapt -> decoding, metrics, evaluate -> assets, recognizer,
predict -> export, serve, labeling; plots, pool, locking and cli alongside. Importing the
package never imports torch.
"""

__version__ = "0.1.0"

from .charset import Charset  # noqa: E402
from .preprocess import ImageError  # noqa: E402
from .recognizer import Prediction, Recognizer  # noqa: E402

__all__ = ["Charset", "ImageError", "Prediction", "Recognizer", "__version__"]
