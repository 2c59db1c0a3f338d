"""``kirogate COMMAND`` builds only that command's parser, identical to the full one's."""

from __future__ import annotations

import argparse

from kirogate.cli import build_parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_each_command_alone_gets_the_same_parser_as_in_the_full_one() -> None:
    full = subcommands(build_parser())
    assert {"serve", "accounts", "login", "doctor", "emulator", "demo"} <= set(full)
    for name, parser in full.items():
        alone = subcommands(build_parser(name))
        assert name in alone
        assert alone[name].format_help() == parser.format_help()


def test_an_unknown_word_gets_the_full_parser() -> None:
    assert subcommands(build_parser("sreve")).keys() == subcommands(build_parser()).keys()
