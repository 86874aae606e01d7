"""Prompt sets, prompt files, seeds and shards."""

from __future__ import annotations

import hashlib
import json

import pytest

from uniimage.errors import InputError
from uniimage.evaluation.prompt_sets import load_dpg, load_geneval
from uniimage.evaluation.prompt_files import load_edit_file, load_prompt_file
from uniimage.evaluation.seeds import prompt_generator, prompt_seed
from uniimage.evaluation.sharding import Shard, effective_shard, parse_shard

# SHA-256 of the upstream sources: GenEval's prompts/evaluation_metadata.jsonl (the file's bytes) and
# DPG-Bench's 1,065 prompts as the JSON list of (id, prompt) pairs, both taken from the original releases.
GENEVAL_SHA256 = "5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13"
DPG_PAIRS_SHA256 = "981902c0d010e5a6f1077aa125d4577c5e80f0adedea9b9e9034d4b963618a77"


def test_shipped_prompt_sets():
    geneval, dpg = load_geneval(), load_dpg()
    assert len(geneval) == 553 and len(dpg) == 1065
    assert [t.key for t in geneval[:2]] == ["00000", "00001"] and geneval[552].key == "00552"
    assert {json.loads(t.source_line)["tag"] for t in geneval} == {
        "single_object", "two_object", "counting", "colors", "position", "color_attr"}
    assert len({t.key for t in dpg}) == 1065


def test_shipped_sets_equal_the_sources():
    geneval = "".join(t.source_line + "\n" for t in load_geneval())
    assert hashlib.sha256(geneval.encode()).hexdigest() == GENEVAL_SHA256
    pairs = json.dumps([(t.key, t.prompt) for t in load_dpg()], ensure_ascii=False)
    assert hashlib.sha256(pairs.encode()).hexdigest() == DPG_PAIRS_SHA256


def test_prompt_file_txt_and_jsonl(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("one\n\n  two  \n")
    assert [(t.index, t.key, t.prompt) for t in load_prompt_file(txt)] == [(0, "00000", "one"), (1, "00001", "two")]
    jl = tmp_path / "p.jsonl"
    jl.write_text('{"id": "x1", "prompt": "a"}\n{"prompt": "b"}\n')
    assert [t.key for t in load_prompt_file(jl)] == ["x1", "00001"]


@pytest.mark.parametrize("content, message", [
    ('{"prompt": "a"}\nnot json\n', ":2: not valid JSON"),
    ('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', "appears twice"),
    ('{"id": "../up", "prompt": "x"}\n', "cannot be used as a file name"),
    ('{"text": "x"}\n', "missing a string 'prompt'"),
    ("", "no prompts"),
])
def test_prompt_file_errors(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_prompt_file(path)


def test_edit_file_resolves_images_next_to_it(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    path = tmp_path / "e.jsonl"
    path.write_text('{"id": 3, "image": "a.png", "instruction": "do"}\n')
    (task,) = load_edit_file(path)
    assert task.key == "3" and task.images == (tmp_path / "a.png",) and task.prompt == "do"
    assert load_edit_file(tmp_path) == [task]  # the folder holding the JSONL works too
    path.write_text('{"id": 3, "image": ["a.png", "missing.png"], "instruction": "do"}\n')
    with pytest.raises(InputError, match="input image not found"):
        load_edit_file(path)


def test_seeds_depend_only_on_base_and_index():
    assert prompt_seed(0, 5) == prompt_seed(0, 5)
    assert len({prompt_seed(b, i) for b in range(3) for i in range(50)}) == 150
    a, b = prompt_generator(1, 2), prompt_generator(1, 2)
    assert a.initial_seed() == b.initial_seed()


def test_shards_partition_and_compose():
    items = list(range(23))
    assert sorted(sum((Shard(i, 4).select(items) for i in range(4)), [])) == items
    # Shard 1/3 run by 2 accelerate processes covers what shard 1/3 covers alone.
    parts = [effective_shard(Shard(1, 3), p, 2).select(items) for p in range(2)]
    assert sorted(parts[0] + parts[1]) == Shard(1, 3).select(items)
    assert parse_shard("2/5") == Shard(2, 5) and parse_shard(None) == Shard(0, 1)
    for bad in ("2", "5/5", "a/b", "-1/2"):
        with pytest.raises(InputError):
            parse_shard(bad)
