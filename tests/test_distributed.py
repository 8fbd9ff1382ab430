"""``lit_gans.distributed.peer_failure``: which errors mean "another process of the run stopped", and
the one line the CLI prints for them (the killed-rank run itself is in tests/test_cluster.py)."""

from __future__ import annotations

import pytest
import torch.distributed as dist

from lit_gans import distributed

GLOO_READ = (
    "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:14478: "
    "Connection reset by peer. This is typically caused by a remote worker hanging or bugs in the application. "
    "Check the logs of the remote worker before reporting an error. GLHF!"
)
GLOO_CLOSED = "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:52125"


@pytest.fixture
def rank_0_of(monkeypatch):
    def set_world(world: int) -> None:
        monkeypatch.setattr(distributed, "_rank_and_world", lambda: (0, world))

    return set_world


def test_a_lost_gloo_peer_is_one_line_naming_the_other_rank(rank_0_of):
    rank_0_of(2)
    line = distributed.peer_failure(RuntimeError(GLOO_READ))
    assert line == (
        "another process of this distributed run (rank 1) stopped, so rank 0 of 2 stops too "
        "(RuntimeError: Read error [127.0.0.1]:14478: Connection reset by peer); see that process's log for why it stopped"
    )
    assert "Connection closed by peer [127.0.0.1]:52125)" in distributed.peer_failure(RuntimeError(GLOO_CLOSED))


def test_with_more_ranks_the_lost_one_is_not_named(rank_0_of):
    rank_0_of(4)
    assert "(one of the other 3 ranks) stopped, so rank 0 of 4 stops too" in distributed.peer_failure(RuntimeError(GLOO_CLOSED))


def test_found_through_the_chain_and_for_torch_distributed_errors(rank_0_of):
    rank_0_of(2)
    try:
        try:
            raise RuntimeError(GLOO_CLOSED)
        except RuntimeError as inner:
            raise RuntimeError("while syncing metrics") from inner
    except RuntimeError as outer:
        assert "Connection closed by peer" in distributed.peer_failure(outer)
    assert "DistBackendError: NCCL communicator was aborted" in distributed.peer_failure(dist.DistBackendError("NCCL communicator was aborted on rank 1"))


def test_other_errors_and_single_process_runs_are_left_alone(rank_0_of):
    rank_0_of(2)
    assert distributed.peer_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    assert distributed.peer_failure(ValueError("Connection reset by peer")) is None
    rank_0_of(1)
    assert distributed.peer_failure(RuntimeError(GLOO_READ)) is None


def test_not_in_a_distributed_run():
    assert not dist.is_initialized()
    assert distributed.peer_failure(RuntimeError(GLOO_READ)) is None
