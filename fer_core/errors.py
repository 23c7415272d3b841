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
