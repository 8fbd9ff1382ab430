"""Shared by the benchmarks: a description of the machine and writing a result table as .md and .json."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Sequence

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine(threads: int | None = None) -> str:
    """One line naming the processor, cores, GPU (if any) and torch threads."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    threads = torch.get_num_threads() if threads is None else threads
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, "
        f"torch {torch.__version__}, {threads} thread(s) per process"
    )


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: floats to ``digits`` significant figures, None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows]
    return lines


def write_results(name: str, title: str, body: Sequence[str], data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.md`` (a title, then ``body`` lines) and ``<name>.json`` (``data``
    plus the machine), print the markdown and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": data.get("machine") or machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    text = "\n".join([f"# {title}", "", *body]) + "\n"
    md = RESULTS / f"{name}.md"
    md.write_text(text)
    print(text)
    return md
