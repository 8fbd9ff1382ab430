"""Loading lit-gans checkpoints with one clear error when the file cannot be used."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from lit_gans.errors import CheckpointError
from lit_gans.families.base import AdversarialModule


def load_family(path: str | Path, map_location: str | torch.device = "cpu") -> AdversarialModule:
    """Rebuild the family a checkpoint was trained with (its class is recorded in the file) and load
    its weights, EMA generator and step counts."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the path of a .ckpt file (e.g. runs/.../last.ckpt)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}); it is truncated or not a checkpoint: "
            "use an earlier checkpoint or last.ckpt"
        ) from None
    family = checkpoint.get("lit_gans", {}).get("family") if isinstance(checkpoint, dict) else None
    if not family:
        raise CheckpointError(f"checkpoint {path} was not written by a lit-gans family (no 'lit_gans' entry)")
    module_name, _, class_name = family.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise CheckpointError(f"checkpoint {path} needs family {family}, which this lit-gans does not have") from None
    try:
        return cls.load_from_checkpoint(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"checkpoint {path} does not fit {class_name}: {err}".splitlines()[0]) from None
