"""Command-line options generated from dataclass fields: each field's help, section, choices,
parsing and flag live in its metadata, beside its default, so an option is defined once.

An option that is not given parses as None, so a command knows what the user said: a value
on the command line always beats a config file and the plain command's choices, and an
unset one takes the dataclass's default (or an environment variable the field names).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import re
from collections.abc import Callable
from typing import Any


def option(
    default: Any,
    help: str,
    *,
    group: str | None = None,
    choices: tuple | None = None,
    metavar: str | None = None,
    cli: bool = True,
    parse: Callable[[str], Any] | None = None,
    flag: str | None = None,
    repeat: bool = False,
    env: str | None = None,
):
    """A dataclass field with its command-line form.

    group: the section of the command's help it goes in; cli=False: not an option of its
    own (set through another: --size sets image_width and image_height); parse: the text ->
    value function (default: the default's type); flag: other than --FIELD-NAME; repeat: the
    option may be given again, its values collected into a tuple; env: the environment
    variable an unset option falls back to (for secrets, which `ps` must not show)."""
    meta = {"help": help, "choices": choices, "metavar": metavar, "cli": cli, "group": group, "parse": parse}
    meta.update(flag=flag, repeat=repeat, env=env)
    factory = {"default_factory": lambda: default} if isinstance(default, (list, dict)) else {"default": default}
    return dataclasses.field(**factory, metadata=meta)


def add_options(parser: argparse.ArgumentParser, cls: type, groups: dict | None = None, note: dict | None = None) -> None:
    """One option per field of the dataclass `cls` that has a command-line form, into
    `groups[field's group]` (or `parser`); options the command already defines are left to
    it. note: {field name: what the help says of its default instead}."""
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("cli"):
            continue
        flag = meta["flag"] or "--" + f.name.replace("_", "-")
        target = groups[meta["group"]] if groups else parser
        if flag in target._option_string_actions:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        text = ", ".join(default) if isinstance(default, tuple) else default
        shown = f" (default: {text})" if default not in (None, "", ()) and not isinstance(default, bool) else ""
        if note and f.name in note:
            shown = f" (default: {note[f.name]})"
        kwargs = dict(dest=f.name, default=None, help=meta["help"] + shown)
        if isinstance(default, bool):
            target.add_argument(flag, action="store_const", const=True, **kwargs)
            continue
        kind = meta["parse"] or (str if meta["repeat"] else _value_type(f, default))
        action = "append" if meta["repeat"] else "store"
        target.add_argument(flag, type=kind, action=action, choices=meta["choices"], metavar=meta["metavar"], **kwargs)


def _value_type(f: dataclasses.Field, default: Any) -> Callable[[str], Any]:
    """The type a field's text becomes: its default's, or for a default of None the first
    type its annotation names (`int | None` -> int)."""
    if default is not None:
        return type(default)
    return {"int": int, "float": float}.get(str(f.type).split("|")[0].strip(), str)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of `cls` that the command line set (or their environment variable): the
    rest are left to the dataclass's defaults."""
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is None and f.metadata.get("env"):
            value = os.environ.get(f.metadata["env"])
        if value is not None:
            values[f.name] = tuple(value) if f.metadata.get("repeat") else value
    return values


# --- text -> value: what the options' `parse` functions are built from ---------------------


def parse_length(text: str) -> tuple[int, int]:
    """'4' -> (4, 4); '4-6' -> (4, 6)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise ValueError(f"length must be N or MIN-MAX, not {text!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not 1 <= low <= high:
        raise ValueError(f"bad length range {text!r}")
    return low, high


def parse_size(text: str) -> tuple[int, int]:
    """'128x64' -> (128, 64)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must be WIDTHxHEIGHT, like 128x64, not {text!r}") from None
    if width < 16 or height < 16:
        raise ValueError(f"size {text} is too small")
    return width, height


def parse_duration(text: str) -> float:
    """'30m' -> 1800.0; '1h', '90s', '1.5h'; a bare number is minutes."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text) * 60
    except ValueError:
        raise ValueError(f"a duration is like 30m, 1h or 90s, not {text!r}") from None
    if not seconds > 0:
        raise ValueError(f"a duration must be positive, not {text!r}")
    return seconds


def checked(parse: Callable[[str], Any], keep_text: bool = False) -> Callable[[str], Any]:
    """`parse` as an argparse type: its ValueError's message is what the user sees.
    keep_text: the option's value is the text itself, once `parse` accepts it."""

    @functools.wraps(parse)
    def parsed(text: str):
        try:
            value = parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return text if keep_text else value

    return parsed
