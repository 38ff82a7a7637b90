"""Errors the package raises on bad user input (files, arrays, configs)."""

from __future__ import annotations

__all__ = ["InputError", "OptionTypeError", "TrimapError", "UsageError"]


class InputError(ValueError):
    """A user-supplied input is unusable; the message names the file (if any) and the problem.

    The CLI prints the message on one line instead of a traceback.
    """


class OptionTypeError(InputError, TypeError):
    """A whole-number option of another type (``erode_size=2.5``): a ``TypeError``, as Python
    reports a wrong type, and an ``InputError``, so that every handler of bad input (the
    CLI, the HTTP API, ``ValueError`` callers) reports it in one line naming the option."""


class TrimapError(InputError):
    """The trimap (or the trimap made from a mask) cannot be used with this image or method,
    e.g. unknown pixels but no known background; file runs name the trimap, not the image."""


class UsageError(Exception):
    """A bad combination or value of command-line options; the CLI exits with status 2."""
