"""Per-cell targets for the vision tower in stage 0: each merged image token names the object centred in its
cell of the grid (shape and colour, or none).

Why: stage 0 asked the VLM questions only, and a question about "the star" names its shape, so nothing made
the tower tell shapes apart (v9's image tokens read shape at chance: demo README, "Editing: where the source
scene is lost"). Asked per cell, the same tower learns shape in a few hundred steps. The heads are a training
aid: they are not part of the saved model.
"""

from __future__ import annotations

import torch
from torch import nn

from .vision_probe import ATTRIBUTES, cell_targets


class CellHeads(nn.Module):
    """One linear read-out per attribute over layer-normed image tokens. With `positions`, one more reads each
    token's own (row, column) in the grid: the tower has no absolute position embedding (Qwen2.5-VL's vision
    rotary is relative), and an answer layer's attention moves token content, not rotary phase, so a question
    about which object is left of which needs the position in the content."""

    def __init__(self, hidden: int, positions: bool = False):
        super().__init__()
        self.heads = nn.ModuleDict({k: nn.Linear(hidden, len(v) + 1) for k, v in ATTRIBUTES.items()})
        self.where = nn.Linear(hidden, 2) if positions else None

    def loss(self, tokens: torch.Tensor, scenes, rows: int, cols: int) -> torch.Tensor:
        """Mean over attributes of the cross-entropy (and, with positions, the squared error of (row, column) in
        cells); tokens [B, rows * cols, H] in the image's row-major order."""
        x = nn.functional.layer_norm(tokens.float(), tokens.shape[-1:])
        targets = cell_targets(scenes, rows, cols)
        losses = [nn.functional.cross_entropy(head(x).flatten(0, 1), targets[k].to(x.device).flatten())
                  for k, head in self.heads.items()]
        if self.where is not None:
            grid = torch.stack(torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij"), -1)
            losses.append(nn.functional.mse_loss(self.where(x), grid.reshape(1, -1, 2).float().to(x.device).expand(len(x), -1, -1)))
        return torch.stack(losses).mean()


class TowerTap:
    """Keeps the merged image tokens of the vision tower's last forward (a forward hook, so the tower runs once)."""

    def __init__(self, visual: nn.Module):
        self.tokens = None
        self.handle = visual.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.tokens = output.pooler_output

    def take(self, batch: int) -> torch.Tensor:
        tokens, self.tokens = self.tokens, None
        return tokens.reshape(batch, -1, tokens.shape[-1])

    def remove(self) -> None:
        self.handle.remove()
