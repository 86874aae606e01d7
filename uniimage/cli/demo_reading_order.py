"""Two-object t2i scenes in reading order, the first-named object on the left (uniimage/demo/reading_order.py):

    python -m uniimage.cli.demo_reading_order SRC.jsonl DST.jsonl
"""

from __future__ import annotations

import argparse
import sys

from ..demo.reading_order import write_reading_order


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_reading_order", description=__doc__.splitlines()[0])
    parser.add_argument("src", help="a ShapesEval t2i JSONL with scene metadata")
    parser.add_argument("dst", help="the copy to write, in the same folder")
    args = parser.parse_args(argv)
    print(write_reading_order(args.src, args.dst), "->", args.dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
