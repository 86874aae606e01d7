"""`uniimage serve` argument handling: defaults, and refusing a public bind without a key."""

from __future__ import annotations

import argparse

import pytest

from uniimage.cli import serve as serve_cli
from uniimage.errors import InputError
from uniimage.serving.auth import check_bind, is_loopback


def parse(*argv):
    parser = argparse.ArgumentParser()
    serve_cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_defaults_bind_loopback():
    args = parse("--model", "tiny")
    assert (args.host, args.port, args.api_key, args.max_queue, args.max_batch) == ("127.0.0.1", 7860, None, 16, 4)
    assert args.func is serve_cli.run


def test_bad_numbers_are_usage_errors():
    with pytest.raises(SystemExit):
        parse("--model", "tiny", "--max-batch", "0")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
def test_public_bind_without_key_is_refused(host):
    assert not is_loopback(host)
    with pytest.raises(InputError, match="--api-key"):
        serve_cli.run(parse("--model", "tiny", "--host", host))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_key(host):
    check_bind(host, None)


def test_public_bind_with_key_is_allowed():
    check_bind("0.0.0.0", "k")
