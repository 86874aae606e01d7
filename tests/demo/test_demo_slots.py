"""Stage 0b (query slots): the targets read from ShapesEval metadata, the heads' loss, and a few steps on
the test-size bases that save a loadable model whose query rows and MLLM layers moved and nothing else."""

import json
import math

import pytest
import torch

from uniimage.demo.slots import NONE, ROLES, SIDES, SlotHeads, batch_targets, lr_factor, slot_targets, train_slots
from uniimage.errors import ConfigError
from uniimage.shapes.vocab import COLORS, RELATIONS, SHAPES


def test_targets_follow_the_caption_order():
    # GenEval position metadata lists the anchor first: "a triangle below a square" has include [square, triangle]
    position = {"tag": "position", "include": [{"class": "square", "count": 1},
                                               {"class": "triangle", "count": 1, "position": ["below", 0]}]}
    t = slot_targets(position)
    assert t["shape"] == [SHAPES.index("triangle"), SHAPES.index("square"), NONE["shape"]]
    assert t["relation"] == [NONE["relation"], NONE["relation"], RELATIONS.index("below")]
    assert t["colour"] == [NONE["colour"]] * ROLES

    attr = {"tag": "color_attr", "include": [{"class": "circle", "color": "blue", "count": 1},
                                             {"class": "star", "color": "green", "count": 1}]}
    t = slot_targets(attr)
    assert t["colour"][:2] == [list(COLORS).index("blue"), list(COLORS).index("green")]
    assert t["shape"][:2] == [SHAPES.index("circle"), SHAPES.index("star")]

    counting = slot_targets({"tag": "counting", "include": [{"class": "triangle", "count": 3}]})
    assert counting["count"] == [3, 0, 0] and counting["shape"][1] == NONE["shape"]


def test_sides_name_where_each_object_is_drawn():
    below = {"tag": "position", "include": [{"class": "square", "count": 1},
                                            {"class": "triangle", "count": 1, "position": ["below", 0]}]}
    assert "side" not in slot_targets(below)  # only when asked for
    # "a triangle below a square": the triangle (named first) at the bottom, the square on top
    assert slot_targets(below, sides=True)["side"] == [SIDES.index("bottom"), SIDES.index("top"), NONE["side"]]
    right = {"tag": "position", "include": [{"class": "star", "count": 1},
                                            {"class": "circle", "count": 1, "position": ["right of", 0]}]}
    assert slot_targets(right, sides=True)["side"][:2] == [SIDES.index("right"), SIDES.index("left")]
    # no relation: the reading order of the stage-1 scenes, first named on the left
    pair = {"tag": "two_object", "include": [{"class": "square", "count": 1}, {"class": "star", "count": 1}]}
    assert slot_targets(pair, sides=True)["side"][:2] == [SIDES.index("left"), SIDES.index("right")]
    one = {"tag": "counting", "include": [{"class": "triangle", "count": 3}]}
    assert slot_targets(one, sides=True)["side"] == [NONE["side"]] * ROLES
    assert batch_targets([{"meta": below}, {"meta": one}], sides=True)["side"].tolist() == [[3, 2, 4], [4, 4, 4]]


def test_heads_learn_planted_slots_and_score_only_real_targets():
    torch.manual_seed(0)
    metas = [{"tag": "color_attr", "include": [{"class": a, "color": c, "count": 1}, {"class": b, "color": d, "count": 1}]}
             for a, b, c, d in [("circle", "star", "red", "blue"), ("square", "triangle", "green", "purple")] * 8]
    targets = batch_targets([{"meta": m} for m in metas])
    # states whose token q carries its role's shape and colour as one-hot channels: linearly readable
    K, N, H = 2, 6, 32
    states = torch.randn(K, len(metas), N, H) * 0.01
    role = torch.arange(N) % ROLES
    for b in range(len(metas)):
        for q in range(N):
            states[:, b, q, targets["shape"][b, role[q]]] += 3.0
            states[:, b, q, 8 + targets["colour"][b, role[q]]] += 3.0
    heads = SlotHeads(H)
    first = heads.loss(states, targets).item()
    opt = torch.optim.Adam(heads.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        heads.loss(states, targets).backward()
        opt.step()
    assert heads.loss(states, targets).item() < first / 5
    acc = heads.accuracy(states, targets)
    assert acc["shape"] == 1.0 and acc["colour"] == 1.0
    assert acc["relation"] != acc["relation"]  # nan: no prompt here names a relation


def _config(bases_dir, tmp_path, data, vqa=None, out=None, **fields):
    """A slot-stage config (as uniimage/configs/demo/slots.yaml) on the test-size bases."""
    from uniimage.training.config import load_config

    rehearsal = f"rehearsal: {{path: {vqa}, batch_size: 2}}" if vqa else ""
    path = tmp_path / "slots.yaml"
    path.write_text(f"""output_dir: {out or tmp_path / 'slots'}
model:
  mllm: {bases_dir / 'qwen'}
  diffusion: {bases_dir / 'sana'}
  seed: 0
  query_init: noise
  query_init_scale: 0.1
  overrides: {{system_prompt: "Draw it.", num_metaqueries: 6, image_pixels: 3136}}
data:
  datasets: [{{path: {data}, type: jsonl}}]
{rehearsal}
max_steps: 6
batch_size: 4
optim: {{lr: 1.0e-2, warmup_steps: 2, min_lr: 1.0e-3}}
""")
    return load_config(path, [f"{k}={v}" for k, v in fields.items()])


def test_a_few_steps_save_a_model_whose_queries_and_layers_moved(bases, demo_data, tmp_path):
    from uniimage.training.config import ModelSource
    from uniimage.training.model_source import load_model

    config = _config(bases[0], tmp_path, demo_data / "train.jsonl", demo_data / "train_vqa.jsonl")
    report = train_slots(config, log_every=3)
    assert [e["step"] for e in report["log"]] == [3, 6]
    assert report["log"][-1]["lm_loss"] > 0 and report["rehearsal_batch"] == 2  # rehearsal ran in the same steps
    assert json.loads((tmp_path / "slots" / "slots_report.json").read_text())["steps"] == 6

    fresh, _, _ = load_model(config.model)
    trained, _, _ = load_model(ModelSource(pretrained=str(tmp_path / "slots")))
    assert trained.queries.shape == fresh.queries.shape
    assert not torch.equal(trained.queries, fresh.queries)
    moved = [not torch.equal(a, b) for a, b in zip(trained.text_model.layers.parameters(), fresh.text_model.layers.parameters())]
    assert any(moved)
    # what the stage leaves alone: the vocabulary (tied head), the vision tower, the DiT, the connector
    assert torch.equal(trained.query_embedding.weight, fresh.query_embedding.weight)
    for name in ("transformer", "connector"):
        for a, b in zip(getattr(trained, name).parameters(), getattr(fresh, name).parameters()):
            assert torch.equal(a, b), name
    for a, b in zip(trained.mllm.model.visual.parameters(), fresh.mllm.model.visual.parameters()):
        assert torch.equal(a, b)


def test_the_cli_trains_sides_heads_and_records_it(bases, demo_data, tmp_path):
    from uniimage.cli.demo_slots import main

    _config(bases[0], tmp_path, demo_data / "train.jsonl")  # writes tmp_path / slots.yaml
    # the flag may come after the config, among the overrides
    assert main([str(tmp_path / "slots.yaml"), "max_steps=2", "--sides", f"output_dir={tmp_path / 'sides'}"]) == 0
    report = json.loads((tmp_path / "sides" / "slots_report.json").read_text())
    assert report["sides"] is True and "side" in report["log"][-1]["accuracy"]


def test_the_schedule_warms_up_then_falls_to_the_floor():
    assert lr_factor(1, 400, 50, 0.1) == pytest.approx(1 / 50, rel=1e-2)
    assert lr_factor(50, 400, 50, 0.1) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 50 / 400)))
    assert lr_factor(400, 400, 50, 0.1) == pytest.approx(0.1)


def test_bad_input_is_named_and_nothing_is_overwritten(bases, demo_data, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=taken))
    assert (taken / "keep.txt").read_text() == "mine"

    no_meta = tmp_path / "plain.jsonl"
    no_meta.write_text(json.dumps({"caption": "a red circle", "image": "x.png"}) + "\n")
    with pytest.raises(ConfigError, match="no ShapesEval metadata"):
        train_slots(_config(bases[0], tmp_path, no_meta, out=tmp_path / "a", batch_size=1))
    with pytest.raises(ConfigError, match="fewer than the batch"):
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "b", batch_size=10_000))
    with pytest.raises(ConfigError, match="does not exist"):
        train_slots(_config(bases[0], tmp_path, tmp_path / "missing.jsonl", out=tmp_path / "c"))
    two = _config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "d")
    two.data.datasets = two.data.datasets * 2
    with pytest.raises(ConfigError, match="exactly one jsonl data set"):
        train_slots(two)


def test_nonce_words_are_new_words_renamed_consistently_with_their_targets():
    import random

    from uniimage.demo.nonce import NONCE_COLOURS, NONCE_SHAPES, nonce_caption, row_objects
    from uniimage.shapes.heldout import heldout_combinations

    real = set(COLORS) | set(SHAPES) | {s + "s" for s in SHAPES}
    assert len(set(NONCE_COLOURS)) == len(NONCE_COLOURS) == 24 and len(set(NONCE_SHAPES)) == 24
    assert not (set(NONCE_COLOURS) | set(NONCE_SHAPES)) & real and not set(NONCE_COLOURS) & set(NONCE_SHAPES)
    objects = [{"class": "circle", "color": "blue", "count": 2}, {"class": "square", "color": "blue", "count": 1}]
    caption = "a photo of two blue circles and a blue square"
    assert nonce_caption(caption, objects, random.Random(0), share=0.0) == (caption, objects)
    new, renamed = nonce_caption(caption, objects, random.Random(0), share=1.0)
    c, s0, s1 = renamed[0]["color"], renamed[0]["class"], renamed[1]["class"]
    assert renamed[1]["color"] == c and c in NONCE_COLOURS and {s0, s1} <= set(NONCE_SHAPES) and s0 != s1
    assert new == f"a photo of two {c} {s0}s and a {c} {s1}"  # the plural keeps its "s"
    assert [o["count"] for o in renamed] == [2, 1] and objects[0]["class"] == "circle"  # the input is not changed
    # the targets follow the renamed objects: nonce classes come after each attribute's "none" class
    targets = slot_targets({"tag": "two_object", "include": objects}, objects=renamed)
    assert targets["colour"][:2] == [len(COLORS) + 1 + NONCE_COLOURS.index(c)] * 2
    assert targets["shape"][:2] == [len(SHAPES) + 1 + NONCE_SHAPES.index(s) for s in (s0, s1)]
    # a renamed caption never names a held-out pair: one of its two words is always made up
    heldout = heldout_combinations()
    for seed in range(50):
        _, out = nonce_caption("a red square", [{"class": "square", "color": "red"}], random.Random(seed))
        assert not heldout.has_color_shape(out[0]["color"], out[0]["class"])
    # a row's objects: the renamed ones when it carries them, else its metadata's (word_positions and the targets)
    meta = {"tag": "two_object", "include": objects}
    assert row_objects({"meta": meta, "objects": renamed}) == renamed
    assert [o["class"] for o in row_objects({"meta": meta})] == ["circle", "square"]


def test_nonce_captions_train_wider_heads_and_the_report_scores_heldout_prompts(bases, demo_data, tmp_path):
    config = _config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "nonce", max_steps=2)
    report = train_slots(config, log_every=1, nonce=0.5)
    assert report["nonce"] == 0.5
    last = report["log"][-1]
    assert set(last["heldout"]) == set(last["unseen"]) == {"shape", "colour", "count", "relation"}
    assert all(0.0 <= v <= 1.0 for v in last["heldout"].values() if not math.isnan(v))
    assert "heldout" not in report["log"][0]  # scored every fourth log line and at the end
    with pytest.raises(ConfigError, match="nonce must be a share"):
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "bad"), nonce=1.0)


def test_word_positions_find_each_objects_words_in_caption_order(bases):
    from transformers import AutoTokenizer

    from uniimage.demo.word_attention import word_positions

    tok = AutoTokenizer.from_pretrained(bases[0] / "qwen")
    rows = [{"caption": "a photo of a red circle and a red square",
             "meta": {"tag": "color_attr", "include": [{"class": "circle", "color": "red"}, {"class": "square", "color": "red"}]}},
            {"caption": "a photo of a triangle below a square",  # position metadata lists the anchor first
             "meta": {"tag": "position", "include": [{"class": "square"}, {"class": "triangle", "position": ["below", 0]}]}},
            {"caption": "exactly three stars", "meta": {"tag": "counting", "include": [{"class": "star", "count": 3}]}}]
    ids = [tok.encode(r["caption"], add_special_tokens=False) for r in rows]
    width = max(map(len, ids)) + 1
    input_ids = torch.tensor([row + [tok.pad_token_id] * (width - len(row)) for row in ids])
    spans = word_positions(tok, input_ids, rows, torch.tensor([len(row) for row in ids]))

    def text(b, where):
        return tok.decode(input_ids[b, where]).strip()

    (c0, s0), (c1, s1) = spans[0]
    assert (text(0, c0), text(0, s0), text(0, c1), text(0, s1)) == ("red", "circle", "red", "square")
    assert c0[-1] < s0[0] < c1[0] < s1[0]  # the second "red" is the square's, not the circle's again
    assert [(c, text(1, s)) for c, s in spans[1]] == [([], "triangle"), ([], "square")]
    assert text(2, spans[2][0][1]) == "stars" and spans[2][0][0] == []


def test_word_attention_loss_is_low_where_the_heads_look_at_the_words():
    from uniimage.demo.word_attention import COLOUR_HEAD, SHAPE_HEAD, word_attention_loss

    T, queries = 8, torch.tensor([[5, 6, 7]])  # query 5 holds object 0, 6 object 1, 7 the relation (ROLES = 3)
    spans = [[([1], [2]), ([], [3])]]  # object 0: colour at 1, shape at 2; object 1: no colour, shape at 3
    even = torch.full((1, 2, T, T), 1 / T)
    sharp = even.clone()
    sharp[0, COLOUR_HEAD, 5] = torch.nn.functional.one_hot(torch.tensor(1), T)
    sharp[0, SHAPE_HEAD, 5] = torch.nn.functional.one_hot(torch.tensor(2), T)
    sharp[0, SHAPE_HEAD, 6] = torch.nn.functional.one_hot(torch.tensor(3), T)
    assert word_attention_loss({0: even}, queries, spans, 3).item() == pytest.approx(math.log(T))
    assert word_attention_loss({0: sharp}, queries, spans, 3).item() == pytest.approx(0.0, abs=1e-5)
    assert word_attention_loss({}, queries, spans, 3).item() == 0.0


def test_word_attention_trains_with_eager_attention_and_restores_sdpa(bases, demo_data, tmp_path):
    from uniimage.demo.word_attention import captured_attention
    from uniimage.training.model_source import load_model

    config = _config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "attend", max_steps=2)
    report = train_slots(config, log_every=1, attend=1.0)
    assert report["attend"] == 1.0 and all(e["word_attention_loss"] > 0 for e in report["log"])
    model, _, _ = load_model(config.model)
    before = model.mllm.config._attn_implementation
    with captured_attention(model.mllm) as caught:
        assert model.mllm.config._attn_implementation == "eager"
    assert model.mllm.config._attn_implementation == before and caught == {}
    with pytest.raises(ConfigError, match="attend must be"):
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "bad2"), attend=-1.0)
