"""Helpers for the tests that start gloo processes themselves (not through ``lit-gans``): a free port
for the rendezvous, and a clean way out of a finished rank."""

from __future__ import annotations

import os
import socket
import sys


def free_port() -> int:
    """A port the OS has just handed out, for ``MASTER_PORT`` (fixed ports collide between test runs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leave(world: int) -> None:
    """End a test rank whose results are written: wait for the peer, destroy the process group, and exit
    at once. A normal interpreter exit runs C++ static destructors, and now and then gloo's threads abort
    the process there ("terminate called without an active exception", SIGABRT) after the work is done
    (seen once in CI under two busy pytest workers); skipping the destructors leaves nothing unwritten."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # no rank tears gloo down while its peer is still in a collective
        dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
