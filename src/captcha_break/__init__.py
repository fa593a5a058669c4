"""captcha_break: learn to read text captchas.

Pipeline, one module each: charset -> synth (generation) -> preprocess -> folders /
datasets -> models -> losses -> train -> decoding -> metrics / evaluate -> recognizer ->
export -> serve; plots and cli on top. Importing the package never imports torch.
"""

__version__ = "0.1.0"

from .charset import Charset  # noqa: E402
from .recognizer import Prediction, Recognizer  # noqa: E402

__all__ = ["Charset", "Prediction", "Recognizer", "__version__"]
