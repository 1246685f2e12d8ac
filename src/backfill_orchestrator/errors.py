"""One error base for the library; the CLI turns it into one line and an exit code.

Exit codes (also in `backfill --help` and the README):
    0  success
    1  a gate or a phase failed
    2  usage or configuration error (bad flag, bad YAML, lock held, ...)
    3  finished, with warnings
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WARNED = 3


class BackfillError(Exception):
    """Base of every error the library raises on purpose. `str(e)` is the one line shown to the user."""

    exit_code = EXIT_FAILED


class UsageError(BackfillError):
    """The user asked for something malformed: a bad argument, a bad date, a missing file."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration file is wrong. The message starts with `file:line: key.path:`."""


class WarehouseError(BackfillError):
    """A query or statement failed in the warehouse."""


class TableNotFound(WarehouseError):
    """The table (or its dataset/schema) does not exist."""


class ColumnNotFound(WarehouseError):
    """A referenced column does not exist."""
