"""`python -m captcha_break` (also what torchrun launches) == `captcha-break`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
