"""`--compile` / `--fp8` on generate and serve: checked before the model loads, and wired to pipe.compile()."""

import argparse

import pytest

from uniimage.cli import serve as serve_cli
from uniimage.cli.main import main


@pytest.mark.parametrize("argv,message", [
    (["--compile", "reduce-overhead"], "--compile reduce-overhead captures CUDA graphs; it needs --device cuda"),
    (["--fp8"], "fp8 matmuls need an NVIDIA GPU of compute capability >= 8.9"),  # with or without torchao
])
def test_generate_refuses_what_this_device_cannot_do(argv, message, tmp_path, capsys):
    assert main(["generate", "x", "--model", "tiny", "-o", str(tmp_path / "x.png"), *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_generate_compile_flag_uses_the_compiled_pipeline(tmp_path, monkeypatch):
    from uniimage import UniImagePipeline

    seen = []
    original = UniImagePipeline.compile

    def spy(self, **kwargs):
        seen.append(kwargs)
        return original(self, **{**kwargs, "backend": "eager"})  # the wiring; codegen is tests/perf's job

    monkeypatch.setattr(UniImagePipeline, "compile", spy)
    assert main(["generate", "a red circle", "--model", "tiny", "--steps", "1", "--compile",
                 "-o", str(tmp_path / "c.png")]) == 0
    assert seen == [{"mode": "default", "fp8": False}] and (tmp_path / "c.png").exists()


def test_serve_flags_and_loading_compiled():
    parser = argparse.ArgumentParser()
    serve_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--model", "tiny", "--compile"])
    assert (args.compile, args.fp8, args.device) == ("default", False, "cpu")
    args = parser.parse_args(["serve", "--model", "tiny", "--compile", "reduce-overhead"])
    from uniimage.errors import InputError

    with pytest.raises(InputError, match="needs --device cuda"):
        serve_cli.run(args)
    from uniimage.serving.app import load_pipeline

    pipe = load_pipeline("tiny", "cpu", "default")
    assert pipe.compile_options.mode == "default" and pipe.batch_buckets == (1, 2, 4, 8, 16)
    assert pipe.transformer.transformer_blocks[0]._compiled_call_impl is not None
