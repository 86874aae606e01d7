"""A command line that answers at once: help, `info PRESET` and every argument, file or output-path error
come back without importing torch (so before any model loads), in one line of the CLI's own words.
Wall time is measured by the benchmark line in docs/serving.md, not here."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys

import pytest
from PIL import Image

from uniimage.cli.main import build_parser, main

# Runs the CLI in a fresh interpreter, then reports its exit code and whether torch got imported.
PROBE = """
import sys
from uniimage.cli.main import main
try:
    code = main({argv!r})
except SystemExit as e:
    code = e.code
print("TORCH", "torch" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def run_cli(argv, cwd):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, cwd=cwd)
    lines = proc.stderr.strip().splitlines()
    torch_loaded = lines[-1] == "TORCH True"
    return proc.returncode, proc.stdout, lines[:-1], torch_loaded


def test_help_and_info_import_no_torch(tmp_path):
    code, out, err, torch_loaded = run_cli(["--help"], tmp_path)
    assert code == 0 and "generate" in out and not torch_loaded
    code, out, err, torch_loaded = run_cli(["info", "tiny"], tmp_path)
    assert code == 0 and "SANA" in out and not torch_loaded, err


@pytest.mark.parametrize("argv, message", [
    (["generate", "", "--model", "tiny"], "prompt is empty"),
    (["generate", "ok", "  ", "--model", "tiny"], "prompt 2 is empty"),
    (["generate", "x", "--model", "tiny", "--guidance", "nan"], "--guidance must be a finite number, got nan"),
    (["generate", "x", "--model", "tiny", "--guidance", "inf"], "--guidance must be a finite number, got inf"),
    (["generate", "x", "--model", "tiny", "--guidance", "-1"], "--guidance must be at least 0.0"),
    (["generate", "x", "--model", "tiny", "--steps", "0"], "--steps must be between 1 and 1000"),
    (["generate", "x", "--model", "tiny", "--guidance-interval", "0.8", "0.2"], "--guidance-interval LO HI must satisfy 0 <= lo < hi <= 1 (noise levels sigma), got (0.8, 0.2)"),
    (["generate", "x", "--model", "tiny", "--guidance-interval", "0", "1.5"], "--guidance-interval LO HI must satisfy 0 <= lo < hi <= 1 (noise levels sigma), got (0.0, 1.5)"),
    (["generate", "x", "--model", "tiny", "--guidance-interval", "nan", "0.5"], "--guidance-interval LO HI must satisfy 0 <= lo < hi <= 1 (noise levels sigma), got (nan, 0.5)"),
    (["generate", "x", "--model", "tiny", "-n", "2", "-o", "one.png"], "names one file but 2 images"),
    (["generate", "x", "--model", "tiny", "-o", "x.gif"], ".gif is not written"),
    (["generate", "x", "--model", "tiny", "--size", "big"], "--size must look like 512x512"),
    (["generate", "x", "--model", "tiny", "--size", "64x64", "--width", "64"], "not both"),
    (["generate", "x", "--model", "tiny", "--width", "0"], "--width must be between 1 and 4096"),
    (["generate", "x", "--model", "/no/such/model"], "not found"),
    (["edit", "x", "--image", "missing.png", "--model", "tiny"], "image file not found"),
    (["edit", "x", "--image", "bad.png", "--model", "tiny"], "bad.png"),
    (["edit", "x", "--image", "in.png", "--model", "tiny", "--image-guidance", "nan"], "--image-guidance must be a finite"),
    (["describe", "in.png", "--temperature", "-1", "--model", "tiny"], "--temperature must be between 0.0 and 2.0, got -1.0"),
    (["describe", "in.png", "--top-p", "0", "--model", "tiny"], "--top-p must be in (0, 1]"),
    (["describe", "in.png", "", "--model", "tiny"], "question is empty"),
    (["serve", "--model", "tiny", "--host", "0.0.0.0"], "--api-key"),
])
def test_errors_are_one_line_and_come_before_the_model(argv, message, tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "in.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    code, out, err, torch_loaded = run_cli(argv, tmp_path)
    assert code == 1, err
    assert len(err) == 1 and message in err[0], err
    assert err[0].startswith(f"uniimage {argv[0]}: error: ")
    assert not torch_loaded, "the error came after torch was imported"
    assert {p.name for p in tmp_path.iterdir()} == {"in.png", "bad.png"}  # nothing written, no folder made


def _walk(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))
        elif action.option_strings and action.dest != "help":
            yield " ".join(path), action, parser


def test_every_option_has_help_and_shows_its_default():
    for command, action, parser in _walk(build_parser()):
        assert action.help, f"{command} {action.option_strings} has no help text"
        assert parser.formatter_class is argparse.ArgumentDefaultsHelpFormatter, command
    text = build_parser()._subparsers._group_actions[0].choices["generate"].format_help()
    for fragment in ("--steps STEPS", "(default: 30)", "--seed SEED", "(default: 0)", "(default: 4.5)", "--size SIZE"):
        assert fragment in text, fragment
    edit = build_parser()._subparsers._group_actions[0].choices["edit"].format_help()
    assert "(default: 1.5)" in edit


def test_serve_help_never_prints_the_api_key(monkeypatch):
    monkeypatch.setenv("UNIIMAGE_API_KEY", "very-secret")
    text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    assert "very-secret" not in text


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".webp", "WEBP"), (".png", "PNG")])
def test_output_suffix_picks_the_format_and_keeps_the_metadata(tmp_path, suffix, fmt):
    out = tmp_path / f"x{suffix}"
    assert main(["generate", "a red circle", "--model", "tiny", "--steps", "1", "--seed", "3", "-o", str(out)]) == 0
    assert out.is_file()
    img = Image.open(out)
    assert img.format == fmt
    if fmt == "PNG":
        meta = img.text
        assert meta["prompt"] == "a red circle" and meta["seed"] == "3"
    else:
        meta = json.loads(img.getexif()[0x010E])
        assert meta["prompt"] == "a red circle" and meta["seed"] == 3 and meta["model"] == "tiny"


def test_size_and_width_height(tmp_path):
    assert main(["generate", "x", "--model", "tiny", "--steps", "1", "--size", "64x32", "-o", str(tmp_path / "a.png")]) == 0
    assert Image.open(tmp_path / "a.png").size == (64, 32)
    assert main(["generate", "x", "--model", "tiny", "--steps", "1", "--width", "32", "--height", "64",
                 "-o", str(tmp_path / "b.png")]) == 0
    assert Image.open(tmp_path / "b.png").size == (32, 64)


def test_long_prompt_is_cut_with_one_line_of_ours(tmp_path, capsys, caplog):
    prompt = "red circle " * 20000  # ~220k characters
    with caplog.at_level(logging.WARNING):
        assert main(["generate", prompt, "--model", "tiny", "--steps", "1", "-o", str(tmp_path / "a.png")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if not line.strip().startswith("sampling")]  # tqdm
    notes = [line for line in err if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("uniimage generate: note: the prompt is ") and "reads the first" in notes[0]
    assert not any("indexing errors" in r.getMessage() or "truncated" in r.getMessage() for r in caplog.records)


def test_shipped_preset_summaries_match_the_models():
    """`info PRESET` reads uniimage/presets/info.json; rebuild it with `python -m uniimage.cli.info`."""
    from uniimage.cli.info import SUMMARY_FILE, model_info
    from uniimage.presets import PRESET_DIR

    names = sorted(p.name for p in PRESET_DIR.iterdir() if (p / "config.json").is_file())
    assert sorted(json.loads(SUMMARY_FILE.read_text())) == names
    for name in names:
        fresh = json.loads(json.dumps(model_info(name, cached=False), default=str))
        assert model_info(name) == fresh, f"{name}: run python -m uniimage.cli.info"


def test_data_types_listed_without_importing_the_readers():
    from uniimage.cli.data import TYPES
    from uniimage.data.factory import TYPES as FACTORY_TYPES

    assert TYPES == FACTORY_TYPES
