"""Confirmation for destructive commands (``accounts remove``, ``stop``, ``restart``...).

On a terminal the command asks ``[y/N]`` first. Without one (a script, a pipe, CI) there is
nobody to ask, so it refuses with exit 2 unless ``-y/--yes`` says yes beforehand: a script
must state that it means to delete or stop something.
"""

from __future__ import annotations

import argparse
import sys

from kirogate.cli.command_kit import EXIT_USAGE, CliError

YES_HELP = "do not ask for confirmation (required when stdin is not a terminal)"


def add_yes_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("-y", "--yes", action="store_true", help=YES_HELP)


def confirm(args: argparse.Namespace, question: str, *, what: str) -> bool:
    """Whether to go ahead with ``what`` (``"deleting credential #3"``).

    ``--yes`` answers yes; on a terminal the user answers ``question``; otherwise this raises
    a :class:`CliError` with exit 2 that names ``--yes``.
    """
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        raise CliError(
            f"{what} needs confirmation and stdin is not a terminal; pass --yes (-y) to confirm",
            EXIT_USAGE,
        )
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()  # "" at end of input: no
    return answer.strip().lower() in ("y", "yes")
