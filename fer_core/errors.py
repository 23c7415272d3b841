"""Errors FER Studio raises on bad input; each message says what was wrong and what to do."""
from __future__ import annotations


class FERError(Exception):
    """Base class of every error FER Studio raises on purpose."""


class DataError(FERError, ValueError):
    """A dataset, file or row could not be used."""


class ImageReadError(DataError):
    """One image file (or byte string) could not be decoded into pixels."""

    def __init__(self, source: str, reason: str):
        self.source, self.reason = str(source), reason
        super().__init__(f"{self.source}: {reason}")


class ConfigError(FERError, ValueError):
    """A configuration field has a wrong type or value."""


def close_matches(value: object, choices, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The ``n`` entries of ``choices`` closest to ``value`` (``difflib``), best first."""
    import difflib

    return difflib.get_close_matches(str(value), [str(c) for c in choices], n=n, cutoff=cutoff)


def did_you_mean(value: object, choices, n: int = 1, cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` for the closest entries of ``choices``, or ``""`` when none is close."""
    close = close_matches(value, choices, n=n, cutoff=cutoff)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)"


class ModelFileError(DataError):
    """A model file that cannot, or must not, be loaded (missing, not Keras 3, or with code inside)."""


class ClusterError(FERError):
    """A Ray cluster cannot run a job: unreachable, too small for what it asks, another Ray version,
    or its worker was lost mid-job. The message says what to do."""


class VideoError(DataError):
    """A video file that cannot be analysed: unreadable, undecodable or over a limit."""
