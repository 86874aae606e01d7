"""Rewrite a t2i JSONL's captions from its scenes (the demo's stage-1b data; uniimage/demo/describe.py):

    python -m uniimage.cli.demo_describe SRC.jsonl DST.jsonl [--captions describe|colours]
"""

from __future__ import annotations

import argparse
import sys

from ..demo.describe import CAPTIONERS, write_described


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_describe", description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--captions", choices=sorted(CAPTIONERS), default="describe")
    args = parser.parse_args(argv)
    print(write_described(args.src, args.dst, args.captions), "rows written to", args.dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
