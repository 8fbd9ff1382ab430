"""Multi-process runs: when another process of a distributed run stops, say so in one line.

A rank that is killed (out of memory, a node lost, ``scancel`` of one task) breaks the collectives
of every other rank: gloo raises a ``RuntimeError`` such as ``[.../gloo/transport/tcp/pair.cc:545]
Read error [10.0.0.2]:14478: Connection reset by peer. This is typically caused by a remote worker
hanging or bugs in the application...`` from deep inside DDP's backward or a metric's all-reduce,
NCCL a ``torch.distributed.DistBackendError``. ``lit_gans.cli.main`` hands such errors to
:func:`peer_failure`, which turns them into one line naming the lost rank where it can be known
(a run of two processes). The surviving rank then exits instead of waiting: gloo notices a closed
connection at once, so a rank whose peer died ends within seconds, not at the collective timeout.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import torch.distributed as dist

#: what gloo (and NCCL's Python errors) say when the other end of a collective went away
_LOST_PEER = re.compile(
    r"Connection (closed|reset) by peer|Socket closed|Broken pipe|remote worker|gloo/transport"
    r"|NCCL communicator was aborted|NCCL error",
    re.IGNORECASE,
)
#: gloo's source location (``[/__w/pytorch/.../pair.cc:545] ``) and advice, cut from the message
_SOURCE = re.compile(r"^\[[^\]]*\.(cc|cpp|h):\d+\]\s*")
_ADVICE = re.compile(r"\s*(This is typically caused by|Check the logs of the remote worker|GLHF).*$", re.DOTALL)


def _lost_peer_error(err: BaseException) -> Optional[BaseException]:
    seen: set[int] = set()
    current: Optional[BaseException] = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, dist.DistError) or (
            isinstance(current, RuntimeError) and _LOST_PEER.search(str(current))
        ):
            return current
        current = current.__cause__ or current.__context__
    return None


def _rank_and_world() -> tuple[Optional[int], Optional[int]]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return None, None


def peer_failure(err: BaseException) -> Optional[str]:
    """One line for an error that says another process of the distributed run stopped, or None
    when ``err`` is something else (or this process is not part of a distributed run)."""
    found = _lost_peer_error(err)
    rank, world = _rank_and_world()
    if found is None or rank is None or world is None or world < 2:
        return None
    first = (str(found).strip().splitlines() or [type(found).__name__])[0]
    detail = _ADVICE.sub("", _SOURCE.sub("", first)).strip().rstrip(".")
    who = f"rank {1 - rank}" if world == 2 else f"one of the other {world - 1} ranks"
    return (
        f"another process of this distributed run ({who}) stopped, so rank {rank} of {world} stops too "
        f"({type(found).__name__}: {detail}); see that process's log for why it stopped"
    )


def synchronize_buffers(module: Any) -> None:
    """Give every process rank 0's buffers (batch-norm statistics, EMA counters). DDP does so at the
    start of each step; since each rank draws its own latents, the last step leaves them differing,
    which would make ranks sample from slightly different generators. Called when training stops
    and before each evaluation; one broadcast per buffer, nothing on one process."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def detect_unused_parameters(strategy: Any) -> None:
    """Turn on DDP's unused-parameter detection for a GAN's run. A critic step leaves the generator's
    parameters without gradients and vice versa; plain DDP then fails (Lightning issue 20328). The CLI
    and users may pass ``strategy: ddp``; Lightning has no public way to change a built strategy's DDP
    arguments, hence its private ``_ddp_kwargs``."""
    from lightning.pytorch.strategies import DDPStrategy
    from lightning.pytorch.utilities import rank_zero_info

    if isinstance(strategy, DDPStrategy) and not strategy._ddp_kwargs.get("find_unused_parameters"):
        strategy._ddp_kwargs["find_unused_parameters"] = True
        rank_zero_info("lit-gans: DDP with find_unused_parameters=True (G and D are stepped in turn)")

__all__ = ["detect_unused_parameters", "peer_failure", "synchronize_buffers"]
