"""Screen (demo README, "Edit slots by grid cell"): can the query tokens of an edit prompt learn to hold the TARGET
scene, one grid cell per query (16 queries, 4 x 4 cells), read by linear heads at every ladder depth?

Query q holds the target object centred in cell q (shape, colour or none) and which half of the cell its centre
lies in (x, y). An added object is moved, in the targets only, to its fixed place (`shapes.edits.place_added`, as
`shapes_data --edit-add-grid 4` writes training data): the generator's random place cannot be predicted, and
judge_edit places an added object anywhere. (The README's figures were measured with an earlier in-script rule:
the exact centre of the first free cell, with no fit check and no pull inside the margins. Not rerun since.) Trained: the
text layers, the query rows and the heads (tower frozen unless --train-tower), with the t2i slot loss kept on t2i
prompts (slots.py targets, sides). --attend-cell W: head 2 of query q attends to the source's image token of cell
q. Scored every --every steps on 200 fresh training-split edits (sources at 256 px) at the deepest ladder depth,
per edit kind too. A one-off research script: nothing in the package imports it and no test covers it.

MODEL: a demo model folder. The measured run used a tower that knows its cells: v12's export (`git worktree add
/tmp/v12 c7b76f3`) through stage 4 with the cell-position head,
    torchrun --standalone --nproc-per-node 2 -m uniimage.cli.demo_answer /tmp/v12/uniimage/presets/demo --out CELLPOS \
      --threads 1 --grow 4 --steps 6000 --prior-tau 1 --train-tower --cell-weight 1 --cell-positions --where-share 0.5
    python scripts/screen_edit_cell_slots.py CELLPOS --steps 2000 --every 500 --attend-cell 0.2   # about 12 min, one core
"""
import argparse
import json
import math
import random
import time
from contextlib import nullcontext

import torch
from torch import nn

from uniimage.demo.slots import SlotHeads, batch_targets, kinds
from uniimage.demo.word_attention import captured_attention
from uniimage.pipelines.pipeline_uniimage import UniImagePipeline
from uniimage.shapes.edits import EDIT_KINDS, edit_items, make_edit_item, place_added
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items, item_rng
from uniimage.shapes.render import render_scene
from uniimage.shapes.vocab import COLORS, SHAPES

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--steps", type=int, default=400)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--attend-cell", type=float, default=0.0)
p.add_argument("--train-tower", action="store_true")
p.add_argument("--every", type=int, default=100)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
G = 4
CLS = {"shape": len(SHAPES) + 1, "colour": len(COLORS) + 1, "xh": 3, "yh": 3}
NONE = {"shape": len(SHAPES), "colour": len(COLORS), "xh": 2, "yh": 2}
HEAD = 2


def canonical(item):
    """The target scene, an added object at its fixed place (shapes.edits.place_added, the training-data rule)."""
    return place_added(item, G).target


def cell_targets(scenes):
    out = {k: torch.full((len(scenes), G * G), NONE[k]) for k in CLS}
    for i, s in enumerate(scenes):
        for o in s.objects:
            x, y = o.center
            cx, cy = min(G - 1, int(x * G)), min(G - 1, int(y * G))
            c = cy * G + cx
            out["shape"][i, c] = list(SHAPES).index(o.shape)
            out["colour"][i, c] = list(COLORS).index(o.color)
            out["xh"][i, c] = int((x * G - cx) >= 0.5)
            out["yh"][i, c] = int((y * G - cy) >= 0.5)
    return out


class CellHeads(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.heads = nn.ModuleDict({k: nn.Linear(hidden, n) for k, n in CLS.items()})

    def loss(self, states, t):  # states [K, B, 16, H]
        x = self.norm(states.float())
        return torch.stack([nn.functional.cross_entropy(h(x).flatten(0, 2), t[k].unsqueeze(0).expand(x.shape[0], -1, -1).flatten())
                            for k, h in self.heads.items()]).mean()

    @torch.no_grad()
    def score(self, states, t):
        x = self.norm(states[-1].float())
        pred = {k: h(x).argmax(-1) for k, h in self.heads.items()}
        occ = t["shape"] != NONE["shape"]
        out = {k: round(float((pred[k] == t[k])[occ].float().mean()), 3) for k in CLS}
        out["empty"] = round(float((pred["shape"] == NONE["shape"])[~occ].float().mean()), 3)
        right = torch.ones_like(occ)
        for k in CLS:
            right &= pred[k] == t[k]
        out["whole"] = int(right.all(-1).sum())
        for kind in EDIT_KINDS:
            rows = torch.tensor([it.kind == kind for it in test])
            out[f"whole_{kind}"] = f"{int(right[rows].all(-1).sum())}/{int(rows.sum())}"
            out[f"shape_{kind}"] = round(float((pred["shape"] == t["shape"])[rows][occ[rows]].float().mean()), 3)
        return out


pipe = UniImagePipeline.from_pretrained(a.model)
model, proc = pipe.model, pipe.processor
model.requires_grad_(False)
model.text_model.layers.requires_grad_(True)
model.queries.requires_grad_(True)
if a.train_tower:
    model.mllm.model.visual.requires_grad_(True)
assert model.config.num_metaqueries == G * G
H = model.queries.shape[1]
sides = True
t2i_heads = SlotHeads(H, kinds(sides))
heads = CellHeads(H)
params = [q for q in model.parameters() if q.requires_grad] + list(t2i_heads.parameters()) + list(heads.parameters())
opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1, (i + 1) / 50) * (0.1 + 0.45 * (1 + math.cos(math.pi * i / a.steps))))
ho = heldout_combinations()
test = edit_items(200, "train", 2024, ho)
test_in = proc.generation_inputs([it.instruction for it in test], [[render_scene(it.source, 256)] for it in test])
test_t = cell_targets([canonical(it) for it in test])
t2i_test = [{"caption": it.prompt, "meta": it.metadata} for it in t2i_items(200, "train", 3, ho)]
t2i_in = proc.generation_inputs([r["caption"] for r in t2i_test], [[] for _ in t2i_test])
img_tok = model.mllm.config.image_token_id


@torch.no_grad()
def evaluate(step):
    model.eval()
    s, _ = model.ladder_states(test_in.input_ids, test_in.attention_mask, test_in.pixel_values, test_in.image_grid_thw)
    out = heads.score(s, test_t)
    s2, _ = model.ladder_states(t2i_in.input_ids, t2i_in.attention_mask)
    out["t2i"] = {k: round(v, 3) for k, v in t2i_heads.accuracy(s2, batch_targets(t2i_test, sides)).items()}
    model.train()
    print(json.dumps({"step": step, **out, "t": round(time.time() - t0)}), flush=True)


rng = random.Random(1)
t0 = time.time()
evaluate(0)
for step in range(1, a.steps + 1):
    items = [make_edit_item(rng.choice(EDIT_KINDS), item_rng(7, "train", "edit", step * 1000 + i), "train", ho) for i in range(a.batch)]
    size = rng.choice([64, 128, 256])
    ins = proc.generation_inputs([it.instruction for it in items], [[render_scene(it.source, size)] for it in items])
    with captured_attention(model.mllm) if a.attend_cell > 0 else nullcontext({}) as caught:
        s, _ = model.ladder_states(ins.input_ids, ins.attention_mask, ins.pixel_values, ins.image_grid_thw)
    loss = heads.loss(s, cell_targets([canonical(it) for it in items]))
    att = torch.zeros(())
    if a.attend_cell > 0:
        q = model.query_positions(ins.input_ids)  # [B, 16]
        terms = []
        for b in range(a.batch):
            img = (ins.input_ids[b] == img_tok).nonzero().squeeze(1)  # 16, raster order
            for w in caught.values():
                mass = w[b, HEAD][q[b]][:, img]  # [16 queries, 16 image tokens]
                terms.append(-torch.log(mass.diagonal().clamp_min(1e-6)).mean())
        att = torch.stack(terms).mean()
    trows = [{"caption": it.prompt, "meta": it.metadata} for it in t2i_items(a.batch, "train", 100 + step, ho)]
    tin = proc.generation_inputs([r["caption"] for r in trows], [[] for _ in trows])
    s2, _ = model.ladder_states(tin.input_ids, tin.attention_mask)
    tloss = t2i_heads.loss(s2, batch_targets(trows, sides))
    opt.zero_grad(set_to_none=True)
    (loss + tloss + a.attend_cell * att).backward()
    opt.step()
    sched.step()
    if step % 25 == 0:
        print(json.dumps({"step": step, "edit": round(loss.item(), 4), "t2i": round(tloss.item(), 4), "att": round(att.item(), 4)}), flush=True)
    if step % a.every == 0:
        evaluate(step)
