"""Output folders and devices checked up front, so that a bad one is one clear line before any work."""

from __future__ import annotations

import stat
from pathlib import Path

import torch

from lit_gans.errors import ConfigError


#: tries at creating a folder whose parents other processes may be removing meanwhile (``make_folder``)
MKDIR_ATTEMPTS = 20


def _not_a_folder(path: Path) -> bool:
    """Whether ``path`` exists as something other than a folder (one look, so that a folder another process
    removes meanwhile does not pass for a file)."""
    try:
        return not stat.S_ISDIR(path.stat().st_mode)
    except OSError:
        return False


def make_folder(folder: str | Path, setting: str, keep: bool = True) -> Path:
    """Create ``folder`` (and its parents) or raise one ``ConfigError`` naming ``setting``, the option
    the user set it with (e.g. ``trainer.default_root_dir`` or ``--out``). ``keep=False`` only checks
    that it can be created: the folders the check made are removed again."""
    folder = Path(folder).expanduser()
    blocker = next((p for p in (folder, *folder.parents) if _not_a_folder(p)), None)
    if blocker is not None:
        raise ConfigError(
            f"{setting} {folder} cannot be created: {blocker} is a file, not a folder; choose a path that is not under a file"
        )
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for attempt in range(MKDIR_ATTEMPTS):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            break
        except OSError as err:
            # not found / exists: a parent made a moment ago was removed again, by another process's check of the
            # same path (runs started together, the ranks of one multi-process run), before or while this mkdir ran
            if isinstance(err, (FileNotFoundError, FileExistsError)) and attempt + 1 < MKDIR_ATTEMPTS:
                continue  # make it anew
            raise ConfigError(
                f"{setting} {folder} cannot be created ({err.strerror or type(err).__name__}); choose a folder you can write to"
            ) from None
    if not keep:
        for made in missing:  # deepest first
            try:
                made.rmdir()
            except OSError:  # another process wrote into it meanwhile: it stays
                break
    return folder


def output_file(path: str | Path, setting: str = "--out") -> Path:
    """``path`` as a file to write, its folder created; one clear error when it cannot be."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError(f"{setting} {path} is a folder; give a file name, e.g. {path / 'samples.png'}")
    make_folder(path.parent, setting)
    return path


def available_device(name: str, setting: str = "--device") -> torch.device:
    """``name`` parsed as a torch device that this machine has, else one ``ConfigError`` saying why
    and suggesting ``cpu``. Works for any accelerator torch knows (``cuda``, ``mps``, ``xpu``, ...)."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{setting} {name!r} is not a device; use cpu, cuda, cuda:1 or another torch device") from None
    if device.type == "cpu":
        return device
    backend = getattr(torch.backends, device.type, None) if device.type == "mps" else getattr(torch, device.type, None)
    is_available = getattr(backend, "is_available", None)
    if is_available is None:
        return device  # an accelerator torch has no availability check for: let it try
    label = device.type.upper()
    if not is_available():
        raise ConfigError(f"{setting} {name}: {label} is not available on this machine; use {setting} cpu")
    count = getattr(backend, "device_count", None)
    if device.index is not None and count is not None and device.index >= count():
        raise ConfigError(
            f"{setting} {name}: this machine has {count()} {label} device(s), numbered from 0; use a smaller index or {setting} cpu"
        )
    return device
