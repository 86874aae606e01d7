"""`uniimage` command line: one subcommand a module in this folder, each exposing `add_parser(subparsers)`.

Exit codes: 0 ok, 2 usage error (argparse), 1 runtime error. User errors print one line, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import UniImageError

# Subcommand modules, in the order `uniimage --help` lists them.
COMMANDS = [
    "generate",  # generate, edit, describe
    "info",  # info, download
    "eval",  # benchmark samplers: geneval, dpg, tiif (+ tiif-judge), edit, prompts, shapes
    "metrics",  # fid, clip-score
    "data",  # data check
    "train",  # train from a YAML config
    "export",  # training checkpoint -> published-layout model
    "bench",  # speed and memory
    "serve",  # web UI + HTTP API
]


class Parser(argparse.ArgumentParser):
    """Every (sub)command's --help shows each option's default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="uniimage", description="TBAC-UniImage: understand and draw with one model.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"uniimage.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..utils.quiet import quiet_optional_import_noise

    quiet_optional_import_noise()  # before any subcommand imports diffusers (and with it torchao)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (UniImageError, FileNotFoundError, PermissionError) as e:
        message = " ".join(str(e).split())  # always one line, whatever the library's message held
        print(f"uniimage {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
