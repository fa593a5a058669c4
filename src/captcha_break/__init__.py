"""captcha_break: learn to read text captchas.

Pipeline, one module (or two) a stage: charset -> synth, styles, broad, fonts (generation)
-> decode, preprocess -> labels, folders, cache, sources, datasets -> models, schemes ->
losses -> augment, finetune, options, config, plain (the plain command) -> device,
distributed, train/ (one run: setup, loop, state, judge, budget, optim), runfolder, replay,
tensorboard, report -> selftrain, soup, average, adapt -> decoding, metrics, evaluate ->
assets, recognizer, predict -> export, serve (bodies, batcher), labeling/; plots, pool,
locking, atomic, cli and commands alongside (docs/guide.md has the map). Importing the
package never imports torch.
"""

__version__ = "0.1.0"

from .charset import Charset  # noqa: E402
from .preprocess import ImageError  # noqa: E402
from .recognizer import Prediction, Recognizer  # noqa: E402

__all__ = ["Charset", "ImageError", "Prediction", "Recognizer", "__version__"]
