"""Subcommands that plugins add to the ``predport`` command line (hook ``register_commands``).

A plugin receives a :class:`Commands` and calls :meth:`Commands.add` once per
subcommand; ``add`` returns an :class:`argparse.ArgumentParser` for the command's
own arguments. The hub stages what a plugin adds and attaches it to the command
line only when the plugin's hook returned without error, so a plugin that fails
half-way leaves no half-registered command behind. Only :mod:`argparse` is
imported here: ``predport --help`` stays cheap.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Command", "Commands"]

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


@dataclass
class Command:
    """One staged subcommand: its name, one-line help, argument parser, and what runs it."""

    name: str
    help: str
    parser: argparse.ArgumentParser
    run: Callable[[argparse.Namespace], "int | None"]
    plugin: str | None = None


class Commands:
    """What ``register_commands`` receives: the plugin's way to add subcommands.

    ``add(name, help=..., run=...)`` returns the command's
    :class:`argparse.ArgumentParser`; add arguments to it. ``run(args)`` is called
    with the parsed :class:`argparse.Namespace` and returns the exit code (``None``
    is 0). Errors it raises as :class:`predport.PredportError` are printed like the
    built-in commands' (no traceback, exit 1).
    """

    def __init__(self, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        self.staged: list[Command] = []
        self.problems: list[str] = []

    def add(
        self,
        name: str,
        *,
        help: str,
        run: Callable[[argparse.Namespace], "int | None"],
        description: str | None = None,
        epilog: str | None = None,
    ) -> argparse.ArgumentParser:
        """Add subcommand ``name`` (lower case, digits and ``-``); returns its argument parser."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"command name {name!r} must be lower case letters, digits and '-' (at most 40)")
        if not callable(run):
            raise TypeError(f"command {name!r}: run must be callable")
        parser = argparse.ArgumentParser(
            prog=f"predport {name}", description=description or help, epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if any(c.name == name for c in self.staged):
            self.problems.append(f"command {name!r} added twice; the second is skipped")
            return parser
        self.staged.append(Command(name=name, help=help, parser=parser, run=run, plugin=self.plugin))
        return parser

    @staticmethod
    def attach(subparsers: Any, command: Command) -> argparse.ArgumentParser:
        """Put a staged command on the ``predport`` parser (the CLI calls this)."""
        built = subparsers.add_parser(
            command.name, help=command.help, parents=[command.parser], add_help=False,
            description=command.parser.description, epilog=command.parser.epilog,
            formatter_class=command.parser.formatter_class,
        )
        built.set_defaults(_plugin_command=command)
        return built
