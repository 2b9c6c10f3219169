"""The one exception hierarchy of dlexplain."""

from __future__ import annotations


class DlexplainError(Exception):
    """Base class of every error dlexplain raises on purpose."""


class ConfigError(DlexplainError):
    """A setting (environment variable, argument or option) has a bad value."""


class DataError(DlexplainError):
    """Input data is missing, malformed, or fails an integrity check."""


class ModelError(DlexplainError):
    """A model cannot be built, found or loaded."""
