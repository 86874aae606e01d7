"""Counting t2i scenes in a fixed arrangement per count (uniimage/demo/count_layout.py):

    python -m uniimage.cli.demo_count_layout SRC.jsonl DST.jsonl
"""

from __future__ import annotations

import argparse
import sys

from ..demo.count_layout import write_count_layout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_count_layout", description=__doc__.splitlines()[0])
    parser.add_argument("src", help="a ShapesEval t2i JSONL with scene metadata")
    parser.add_argument("dst", help="the copy to write, in the same folder")
    args = parser.parse_args(argv)
    print(write_count_layout(args.src, args.dst), "->", args.dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
