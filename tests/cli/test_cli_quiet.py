"""The command line silences the known import-time noise of optional libraries, and nothing else."""

from __future__ import annotations

import logging

import pytest

from uniimage.utils.quiet import NOISY_LOGGERS, quiet_optional_import_noise


@pytest.fixture
def restore_levels():
    names = (*NOISY_LOGGERS, "diffusers.models")
    saved = {n: logging.getLogger(n).level for n in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_noise_is_dropped_errors_and_other_loggers_kept(restore_levels, caplog):
    quiet_optional_import_noise()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("torchao").warning("Failed to load _C_mxfp8.so")
        logging.getLogger("torch.utils._pytree").warning("Enum subclass register_constant")
        logging.getLogger("diffusers.quantizers.torchao.torchao_quantizer").warning("Unable to import `torchao` Tensor objects")
        logging.getLogger("torchao").error("a real torchao error")
        logging.getLogger("diffusers.models").warning("an unrelated diffusers warning")
    assert [r.getMessage() for r in caplog.records] == ["a real torchao error", "an unrelated diffusers warning"]
