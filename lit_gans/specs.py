"""Objects that a config lists (penalties, augmentation) and that a checkpoint must be able to rebuild.

The CLI builds them from ``{class_path, init_args}``; a checkpoint keeps the same form in its
hyperparameters (``Recorded.spec``), so ``load_family`` and ``load_from_checkpoint`` rebuild the very
objects a run trained with (``build``).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Mapping

from lit_gans.errors import ConfigError


class Recorded:
    """Records the arguments it was constructed with, so ``spec()`` can rebuild it."""

    def __new__(cls, *args: Any, **kwargs: Any):
        obj = super().__new__(cls)
        bound = inspect.signature(cls.__init__).bind_partial(obj, *args, **kwargs)  # unpickling passes none
        bound.apply_defaults()
        obj._init_args = {k: v for k, v in list(bound.arguments.items())[1:]}
        return obj

    def spec(self) -> dict[str, Any]:
        """``{class_path, init_args}``: what it is, for checkpoints and resume checks."""
        args = {k: list(v) if isinstance(v, tuple) else v for k, v in self._init_args.items()}
        return {"class_path": f"{type(self).__module__}.{type(self).__qualname__}", "init_args": args}


def build(entry: Any, base: type, what: str) -> Any:
    """``entry`` as an instance of ``base``: an instance as it is, or a ``{class_path, init_args}`` mapping
    (a checkpoint's record) built; ``what`` names the argument in the error."""
    if isinstance(entry, base):
        return entry
    if isinstance(entry, Mapping) and isinstance(entry.get("class_path"), str):
        module_name, _, name = entry["class_path"].rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError, ValueError):
            cls = None
        if isinstance(cls, type) and issubclass(cls, base):
            return cls(**dict(entry.get("init_args") or {}))
        raise ConfigError(f"{what}: {entry['class_path']} is not a {base.__name__} of this lit-gans")
    raise ConfigError(f"{what}: {entry!r} is not a {base.__name__}; write it as "
                      f"{{class_path: <module>.<class>, init_args: {{...}}}}")


__all__ = ["Recorded", "build"]
