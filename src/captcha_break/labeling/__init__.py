"""Labeling a folder of captchas in the browser, with the model's guesses pre-filled.

`captcha-break label DIR` serves a page (web/label.html) on loopback that shows the
folder's images one at a time with the model's reading; Enter accepts it, typing replaces
it. Every answer is written to DIR/labels.csv at once, atomically (a temporary file
renamed over the old one), so killing the server loses nothing confirmed; a restart picks
up where it stopped. `train --data DIR` reads the same labels.csv.

labels.csv rows are `file,label`; an image marked unreadable has an empty label, which
`train` skips ("marked unreadable").

Laid out as: store.py (labels.csv), session.py (the images, guesses and answer rules),
guard.py (Host, token, body size), app.py (the page and its API).
"""

from .app import create_label_app
from .session import LabelingSession, open_session
from .store import LabelStore, Stale

__all__ = ["LabelStore", "LabelingSession", "Stale", "create_label_app", "open_session"]
