"""The jobs' documented fault flags take a date range `D1..D2`: parsed here, once."""
from __future__ import annotations

import argparse
import datetime as dt
from typing import Callable

from backfill_orchestrator.dates import parse_date
from backfill_orchestrator.errors import UsageError


def parse_range(text: str | None, option: str) -> tuple[dt.date, dt.date] | None:
    """`D1..D2` (inclusive) -> the pair; empty -> None."""
    if not text:
        return None
    a, sep, b = text.partition("..")
    if not sep:
        raise UsageError(f"{option} {text!r}: expected D1..D2, e.g. 2024-12-01..2025-01-31")
    d1, d2 = parse_date(a.strip(), option), parse_date(b.strip(), option)
    if d2 < d1:
        raise UsageError(f"{option} {text!r}: {d2} is before {d1}")
    return d1, d2


def add_fault_flag(parser: argparse.ArgumentParser, option: str, what: str) -> None:
    """A job's documented fault flag `OPTION D1..D2` (empty: no fault), passed on to retries by `fault_argv`."""
    parser.add_argument(option, metavar="D1..D2", default="", type=range_arg(option),
                        help=f"FAULT INJECTION (demo/tests): {what}; empty = no fault")


def fault_argv(args: argparse.Namespace, option: str) -> list[str]:
    value = getattr(args, option.lstrip("-").replace("-", "_"), "")
    return [option, value] if value else []


def fault_range(args: argparse.Namespace, option: str) -> tuple[dt.date, dt.date] | None:
    return parse_range(getattr(args, option.lstrip("-").replace("-", "_"), ""), option)


def range_arg(option: str) -> Callable[[str], str]:
    """An argparse `type=` for a fault flag: a bad range is argparse's one-line usage error (exit 2)."""
    def check(text: str) -> str:
        try:
            parse_range(text, option)
        except UsageError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text
    return check
