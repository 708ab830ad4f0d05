"""Errors that reach the user as one line on stderr (no traceback unless --debug)."""

from __future__ import annotations

import difflib


class GankitError(Exception):
    """An error the user can fix: shown as one line on stderr, no traceback."""

    exit_code = 1


class UsageError(GankitError):
    """A bad flag or argument (exit code 2, like click's own usage errors)."""

    exit_code = 2


class UnknownNameError(GankitError, KeyError):
    """A model, dataset, loss or option name that nobody registered."""

    def __init__(self, what: str, name: str, choices, hint: str = ""):
        self.what, self.name, self.choices = what, name, sorted(choices)
        msg = f"unknown {what} '{name}'"
        close = difflib.get_close_matches(name, self.choices, n=1)
        if close:
            msg += f"; did you mean '{close[0]}'?"
        elif self.choices:
            msg += f" (choose from: {', '.join(self.choices)})"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would add quotes
        return self.args[0]


class CheckpointError(GankitError):
    """A checkpoint that cannot be read or does not fit."""


class DivergenceError(GankitError):
    """Training kept producing non-finite values after every retry."""
