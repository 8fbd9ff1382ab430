"""Loading lit-gans checkpoints with one clear error when the file cannot be used, and writing them
atomically."""

from __future__ import annotations

import importlib
import os
import zipfile
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lit_gans.errors import CheckpointError
from lit_gans.families.base import AdversarialModule


def load_family(path: str | Path, map_location: str | torch.device = "cpu") -> AdversarialModule:
    """Rebuild the family a checkpoint was trained with (its class is recorded in the file) and load
    its weights, EMA generator and step counts."""
    path = Path(path)
    check_checkpoint_file(path)
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


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint into a temporary file in its own folder, flushes and syncs it, then
    renames it over the target (``os.replace``), so a full disk or a killed run leaves the previous
    file intact. (Lightning's own save goes through fsspec, whose local temporary file lives in the
    system's temporary folder: the final move is then a copy across filesystems, which a full disk
    truncates.) Remote paths (``s3://`` ...) keep Lightning's way. A failed write raises one
    ``CheckpointError`` line."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options=storage_options)
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            _sync_folder(path.parent)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise CheckpointError(
                f"cannot write checkpoint {path}: {err.strerror or err}; the previous checkpoint there is intact. "
                "Free space or point checkpoint.dirpath elsewhere, then resume from the last checkpoint"
            ) from None


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); folders cannot be opened for syncing on every platform."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def check_checkpoint_file(path: str | Path) -> None:
    """One clear error for a ``--ckpt_path`` that is missing or damaged, before Lightning reads it. A
    checkpoint is a zip archive; every member's checksum is tested, which finds truncated and
    overwritten files without unpickling anything."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the path of a .ckpt file (e.g. runs/.../last.ckpt)")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        damaged = str(err) or type(err).__name__
    if damaged is not None:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({damaged}); it is truncated or not a checkpoint: use an earlier "
            "checkpoint or last.ckpt"
        )
