"""The standard FID network: Inception-v3 with the 2015-12-05 TensorFlow weights, 2048-d pool features.

Two ported formats are accepted, whichever a user has:
- `inception-2015-12-05.pt`: the TorchScript module of StyleGAN2-ADA / clean-fid (needs only torch);
- `pt_inception-2015-12-05-6726825d.pth`: torch-fidelity's state dict (the one torchmetrics uses;
  needs the torch-fidelity package).
Nothing is downloaded: the weights come from --inception-weights, $UNIIMAGE_INCEPTION_WEIGHTS, or
torch's hub cache (where those libraries leave them)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from ...errors import UniImageError, WeightsUnavailableError
from .features import FeatureNetwork

TORCHSCRIPT_NAME = "inception-2015-12-05.pt"
FIDELITY_NAME = "pt_inception-2015-12-05-6726825d.pth"
ENV_VAR = "UNIIMAGE_INCEPTION_WEIGHTS"
INPUT_SIZE = 299


def _cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _how_to() -> str:
    return (
        f"get {TORCHSCRIPT_NAME} (TorchScript, as used by clean-fid / StyleGAN2-ADA) or {FIDELITY_NAME} "
        "(torch-fidelity / torchmetrics) on a machine with network access, then pass --inception-weights PATH, "
        f"set {ENV_VAR}=PATH, or copy it into {_cache_dir()}; or use another network with --features module:factory"
    )


def find_inception_weights(explicit: str | os.PathLike | None = None) -> Path:
    given = explicit or os.environ.get(ENV_VAR)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(f"Inception weights not found at {path}; {_how_to()}")
        return path
    for name in (TORCHSCRIPT_NAME, FIDELITY_NAME):
        if (_cache_dir() / name).is_file():
            return _cache_dir() / name
    raise WeightsUnavailableError(f"the Inception weights FID needs are not available offline; {_how_to()}")


def _torchscript(path: Path, device: str) -> FeatureNetwork | None:
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in torch, but it is the format this port of the weights ships in.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device)
    except RuntimeError:
        return None  # not TorchScript: maybe a state dict
    # The TorchScript port takes float pixels in [0, 255] and returns pool features on request.
    return FeatureNetwork(lambda x: module(x.float(), return_features=True), INPUT_SIZE, f"inception:{path.name}",
                          device)


def _torch_fidelity(path: Path, device: str) -> FeatureNetwork:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as e:
        raise UniImageError(
            f"{path} is not TorchScript, so it needs the torch-fidelity package ({e}); install it or use {TORCHSCRIPT_NAME}"
        ) from e
    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    return FeatureNetwork(net, INPUT_SIZE, f"inception:{path.name}", device)


def load_inception(weights: str | os.PathLike | None, device: str = "cpu") -> FeatureNetwork:
    path = find_inception_weights(weights)
    return _torchscript(path, device) or _torch_fidelity(path, device)
