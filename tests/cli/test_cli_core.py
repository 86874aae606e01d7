"""`uniimage generate / edit / describe / info` end to end, through the real entry point."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from uniimage.cli.main import main


def test_generate_writes_png_with_metadata_and_is_reproducible(tmp_path, capsys):
    args = ["generate", "a red circle", "--model", "tiny", "--steps", "2", "--seed", "7", "--negative", "blurry"]
    assert main(args + ["-o", str(tmp_path / "a.png")]) == 0
    assert main(args + ["-o", str(tmp_path / "b.png")]) == 0
    a, b = Image.open(tmp_path / "a.png"), Image.open(tmp_path / "b.png")
    assert (np.asarray(a) == np.asarray(b)).all()
    meta = a.text
    assert meta["prompt"] == "a red circle" and meta["negative_prompt"] == "blurry"
    assert meta["seed"] == "7" and meta["steps"] == "2" and meta["guidance"] == "4.5" and meta["model"] == "tiny"
    assert meta["guidance_interval"] == "every step"  # the tiny preset's config sets none
    assert main(args + ["--guidance-interval", "0", "0.8", "-o", str(tmp_path / "c.png")]) == 0
    c = Image.open(tmp_path / "c.png")
    assert c.text["guidance_interval"] == "[0.0, 0.8]" and not (np.asarray(c) == np.asarray(a)).all()


def test_generate_several_prompts_into_a_folder(tmp_path):
    argv = ["generate", "A red circle!", "two", "-n", "2", "--model", "tiny", "--steps", "1", "--seed", "5"]
    assert main(argv + ["-o", str(tmp_path / "out")]) == 0
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    names = ["0000-a-red-circle.png", "0001-a-red-circle.png", "0002-two.png", "0003-two.png"]
    assert files == names + ["metadata.jsonl"]
    assert Image.open(tmp_path / "out" / "0002-two.png").text["prompt"] == "two"
    records = [json.loads(line) for line in (tmp_path / "out" / "metadata.jsonl").read_text().splitlines()]
    assert [r["file"] for r in records] == names
    assert [r["prompt"] for r in records] == ["A red circle!"] * 2 + ["two"] * 2
    assert all(r["seed"] == 5 and r["steps"] == 1 and r["guidance"] == 4.5 and r["model"] == "tiny" for r in records)


def test_edit_and_describe(tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.new("RGBA", (40, 30), (255, 0, 0, 255)).save(src)
    assert main(["edit", "make it blue", "--image", str(src), "--image", str(src), "--model", "tiny", "--steps", "1",
                 "-o", str(tmp_path / "e.png")]) == 0
    assert Image.open(tmp_path / "e.png").text["image_guidance"] == "1.5"
    assert main(["describe", str(src), "what colour?", "--model", "tiny", "--max-new-tokens", "3"]) == 0


def test_info_json_reports_parts_and_ladder(capsys):
    assert main(["info", "tbac-uniimage-3b", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ladder"]["block_to_hidden_state"] == list(range(16, 36))
    assert info["parameters"]["transformer"] == 1_604_462_752


@pytest.mark.parametrize("argv,message", [
    (["generate", "x", "--model", "/no/such/model"], "not found"),
    (["edit", "x", "--image", "/no/such.png", "--model", "tiny"], "image file not found"),
    (["generate", "x", "--model", "tiny", "--steps", "0"], "--steps must be between 1 and 1000, got 0"),
    (["generate", "x", "--model", "tiny", "-n", "2", "-o", "one.png"], "names one file"),
])
def test_user_errors_exit_1_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_usage_errors_exit_2():
    proc = subprocess.run([sys.executable, "-m", "uniimage", "generate"], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr


OPTIONAL = ["webdataset", "datasets", "gradio", "fastapi", "uvicorn", "peft", "tensorboard", "playwright", "bitsandbytes", "multipart"]


def test_core_install_runs_without_optional_extras(tmp_path):
    """`pip install -e .` (no extras) must be enough for the CLI and for generating: extras load lazily."""
    blocker = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in OPTIONAL)
    script = blocker + ("from uniimage.cli.main import main\n"
                        f"sys.exit(main(['generate', 'a red circle', '--model', 'tiny', '--steps', '1', '-o', {str(tmp_path / 'x.png')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "x.png").is_file()
    help_script = blocker + "from uniimage.cli.main import main\nmain(['--help'])\n"
    proc = subprocess.run([sys.executable, "-c", help_script], capture_output=True, text=True)
    assert proc.returncode == 0 and "serve" in proc.stdout and "train" in proc.stdout, proc.stderr[-2000:]
