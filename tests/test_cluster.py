"""Cluster launches of ``lit-gans fit`` (issue 12), each with the CLI's default callbacks (sample
grids, metrics, generator-step checkpoints) and logger (wandb, offline here), on WGAN-GP with its
gradient penalty, two gloo processes on this one machine:

1. multi-node by hand: two ``lit-gans fit --trainer.num_nodes 2 --trainer.devices 1`` started with
   ``MASTER_ADDR``, ``MASTER_PORT`` and ``NODE_RANK`` (Lightning's ``LightningEnvironment``);
2. torchrun, one node, two processes (``TorchElasticEnvironment``);
3. a SLURM job of 2 nodes x 1 task, simulated with the variables ``srun`` sets (``SLURMEnvironment``);
4. a task of that SLURM job killed while training: the other rank ends within seconds with one
   ``lit-gans: error:`` line, not gloo's traceback (``lit_gans/distributed.py``).

In 1-3 both ranks must end with identical weights, optimizer states and metric values, which
``tests/rank_report.py`` (a callback given on the command line) saves on every rank, since the
checkpoint is written by rank 0 alone; and the metrics the run logged must be those one process
computes from the checkpoint (see ``assert_metrics_match_one_process``). README's "Running on a
cluster" shows exactly these launch forms.

Each test is one run of two processes: 38-45 s on the project's 2 CPU cores while other test
suites shared them (load average 4-5); the file took 2 min 49 s (3 min 8 s with pytest's start).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import pytest
import torch

from cli_run import CLI, cli_env
from gloo_procs import free_port

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIGITS = ROOT / "configs" / "wgan_gp" / "digits.yaml"  # gradient penalty 10, n_critic 5
RING = ROOT / "configs" / "wgan_gp" / "ring.yaml"  # gradient penalty 0.1, 390 batches an epoch
G_STEPS = 4
N_SAMPLES = 250  # generated samples per evaluation: each rank draws 125
TIMEOUT = 180  # seconds for a run of two processes (about 35 s here)

#: what a launcher sets; the test process's own (a test run inside a SLURM job, say) must not leak
_LAUNCH_VARS = (
    "MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "GROUP_RANK", "LOCAL_RANK", "RANK", "WORLD_SIZE",
    "LOCAL_WORLD_SIZE", "PL_GLOBAL_SEED",
)


def launch_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This checkout and ``tests/`` (for ``rank_report``) importable, offline wandb, one thread,
    real-feature cache in ``tmp_path``, and no launcher variables but ``extra``."""
    env = cli_env(
        PYTHONPATH=f"{ROOT}{os.pathsep}{HERE}", WANDB_MODE="offline", WANDB_SILENT="true",
        LIT_GANS_CACHE=str(tmp_path / "cache"),
    )
    for name in list(env):
        if name in _LAUNCH_VARS or name.startswith(("SLURM_", "TORCHELASTIC_")):
            del env[name]
    return {**env, **extra}


def fit_args(tmp_path: Path, *extra: str, config: Path = DIGITS, g_steps: int = G_STEPS, mark_g_step: int = 1) -> list[str]:
    report = {"class_path": "rank_report.RankReport", "init_args": {"out_dir": str(tmp_path / "ranks"), "mark_g_step": mark_g_step}}
    return [
        "fit", "--config", str(config), "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp",
        "--model.init_args.max_g_steps", str(g_steps), "--metrics.n_samples", str(N_SAMPLES),
        "--trainer.default_root_dir", str(tmp_path / "run"), f"--trainer.callbacks+={json.dumps(report)}", *extra,
    ]


def slurm_env(tmp_path: Path, rank: int, port: int) -> dict[str, str]:
    """What ``srun`` sets for task ``rank`` of ``sbatch --nodes 2 --ntasks-per-node 1`` (the
    variables Lightning's ``SLURMEnvironment`` reads); the node list names this machine, from
    which Lightning takes ``MASTER_ADDR``."""
    return launch_env(
        tmp_path, SLURM_JOB_ID="4242", SLURM_JOB_NAME="lit-gans-test", SLURM_NODELIST="127.0.0.1", SLURM_NNODES="2",
        SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="1", SLURM_PROCID=str(rank), SLURM_LOCALID="0", SLURM_NODEID=str(rank),
        MASTER_PORT=str(port),
    )


# ---------------------------------------------------------------------- processes
def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (torchrun starts its workers in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Launched:
    """Processes started together, each in a new session with its output in files; ``stop()`` kills
    whatever is left of them and of everything they started."""

    def __init__(self, commands: Sequence[tuple[Sequence[str], dict[str, str]]], cwd: Path):
        self.cwd, self.procs = cwd, []
        for i, (command, env) in enumerate(commands):
            with open(cwd / f"p{i}.out", "w") as out, open(cwd / f"p{i}.err", "w") as err:
                self.procs.append(subprocess.Popen(list(command), cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True))

    def wait(self, timeout: float) -> list[Optional[int]]:
        """Return codes (None for a process still running after ``timeout`` seconds in all)."""
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        return [proc.poll() for proc in self.procs]

    def output(self, i: int) -> tuple[str, str]:
        return (self.cwd / f"p{i}.out").read_text(), (self.cwd / f"p{i}.err").read_text()

    def stop(self) -> None:
        for proc in self.procs:
            for pid in ([*_descendants(proc.pid), proc.pid] if proc.poll() is None else []):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # what is left of its session (wandb's service)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()


def run_together(commands: Sequence[tuple[Sequence[str], dict[str, str]]], cwd: Path, timeout: int = TIMEOUT) -> list[tuple[Optional[int], str, str]]:
    launched = Launched(commands, cwd)
    try:
        codes = launched.wait(timeout)
    finally:
        launched.stop()
    return [(code, *launched.output(i)) for i, code in enumerate(codes)]


def assert_all_ok(results: list[tuple[Optional[int], str, str]]) -> None:
    for i, (code, _, err) in enumerate(results):
        assert code == 0, f"process {i}: return code {code} (None: still running after {TIMEOUT} s)\n{err[-3000:]}"


# ---------------------------------------------------------------------- what the ranks ended with
def rank_reports(tmp_path: Path) -> list[dict]:
    return [torch.load(tmp_path / "ranks" / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def _assert_equal(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def assert_ranks_agree(reports: list[dict], environment: str) -> None:
    """Lightning used ``environment`` with ranks 0 and 1 of 2; both ran the same steps and ended
    with bit-identical weights, buffers (batch-norm statistics), optimizer states and metrics."""
    assert [r["environment"] for r in reports] == [environment, environment]
    assert [(r["global_rank"], r["world_size"]) for r in reports] == [(0, 2), (1, 2)]
    assert [(r["g_step"], r["d_step"]) for r in reports] == [(G_STEPS, 5 * G_STEPS)] * 2
    rank0, rank1 = reports
    _assert_equal(rank0["state"], rank1["state"], "state_dict")
    _assert_equal(rank0["optimizers"], rank1["optimizers"], "optimizers")
    _assert_equal(rank0["metrics"], rank1["metrics"], "metrics")
    (history,) = rank0["metrics"]
    assert history and history[-1]["g_step"] == G_STEPS and "digits/fid" in history[-1]


def assert_metrics_match_one_process(tmp_path: Path, reports: list[dict], stdout: str) -> None:
    """The metric values the run logged at its last generator step are those one process computes
    from the checkpoint rank 0 wrote, on the same samples.

    "The same samples" is the point: under DDP rank r draws its share of ``n_samples`` with seed
    ``g_step * 1009 + r`` (``ModelEvaluation.evaluate``), so ``lit-gans evaluate --ckpt`` in one
    process (all samples from seed ``g_step * 1009``) scores other samples of the same generator
    and agrees only up to sampling noise; exact equality of a 1- and a 2-process *training* run is
    not to be had either (each process sees half the batch). What must hold exactly is that the
    2-process values are a single evaluation of the union of both ranks' samples with the trained
    weights: here one process loads the checkpoint, draws both ranks' shares with their seeds and
    evaluates them in one Evaluator (torchmetrics' sync reorders float sums, hence rel 1e-5, the
    tolerance of tests/test_metrics.py's 1-vs-2-process evaluator test; in practice they are equal).
    The summary ``lit-gans fit`` prints on rank 0 shows the same values.
    """
    from lit_gans.callbacks.metrics import ModelEvaluation
    from lit_gans.checkpoints import load_family

    (checkpoint,) = (tmp_path / "run").rglob("last.ckpt")  # one: rank 0 alone writes checkpoints
    model = load_family(checkpoint)
    assert model.g_step == G_STEPS
    _assert_equal(reports[0]["state"], model.state_dict(), "checkpoint")
    recorded = torch.load(checkpoint, map_location="cpu", weights_only=True)["lit_gans"]["datamodule"]
    module, _, name = recorded["class_path"].rpartition(".")
    datamodule = getattr(importlib.import_module(module), name)(**recorded["init_args"])
    evaluation = ModelEvaluation(datamodule, n_samples=N_SAMPLES, cache_dir=str(tmp_path / "cache" / "real_features"))
    evaluation.prepare(model.device)
    evaluator = evaluation.evaluator
    evaluator.reset_fake()
    for rank, share in enumerate(torch.arange(N_SAMPLES).tensor_split(2)):
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(G_STEPS * 1009 + rank)
            samples = model.sample(len(share))
        for batch in samples.split(evaluation.batch_size):
            evaluator.update_fake(batch)
    one_process = {f"digits/{k}": v for k, v in evaluator.compute(seed=G_STEPS).items()}
    logged = {k: v for k, v in reports[0]["metrics"][0][-1].items() if k != "g_step"}
    assert logged.keys() == one_process.keys()
    for key, value in one_process.items():
        assert logged[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    summary = ", ".join(f"{k}={v:.4g}" for k, v in logged.items())
    assert f"metrics:    {summary}" in stdout
    assert f"trained {G_STEPS} generator iterations" in stdout


# ---------------------------------------------------------------------- the launch forms
def test_two_nodes_started_by_hand(tmp_path):
    """``MASTER_ADDR=... MASTER_PORT=... NODE_RANK=n lit-gans fit ... --trainer.num_nodes 2
    --trainer.devices 1`` on each "node": Lightning's ``LightningEnvironment`` derives the world size
    (num_nodes x devices) and the global rank (node rank x devices + local rank) itself, so
    ``WORLD_SIZE`` and ``LOCAL_RANK`` need not be set."""
    port = free_port()
    args = fit_args(tmp_path, "--trainer.num_nodes", "2", "--trainer.devices", "1")
    commands = [
        ([*CLI, *args], launch_env(tmp_path, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), NODE_RANK=str(node)))
        for node in (0, 1)
    ]
    results = run_together(commands, tmp_path)
    assert_all_ok(results)
    reports = rank_reports(tmp_path)
    assert [(r["node_rank"], r["local_rank"]) for r in reports] == [(0, 0), (1, 0)]
    assert_ranks_agree(reports, "LightningEnvironment")
    assert_metrics_match_one_process(tmp_path, reports, results[0][1])
    assert "find_unused_parameters=True" in results[0][2]


def test_torchrun_one_node_two_processes(tmp_path):
    """``torchrun --nnodes 1 --nproc-per-node 2 ... -m lit_gans.cli fit ... --trainer.devices 2``."""
    port = free_port()
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(port),
        "-m", "lit_gans.cli", *fit_args(tmp_path, "--trainer.devices", "2"),
    ]
    results = run_together([(command, launch_env(tmp_path))], tmp_path)
    assert_all_ok(results)
    reports = rank_reports(tmp_path)
    assert_ranks_agree(reports, "TorchElasticEnvironment")
    assert_metrics_match_one_process(tmp_path, reports, results[0][1])


def test_slurm_two_nodes_one_task_each(tmp_path):
    """Two tasks started as ``srun`` starts them for ``#SBATCH --nodes 2 --ntasks-per-node 1``,
    running ``lit-gans fit ... --trainer.num_nodes 2 --trainer.devices 1``: Lightning must pick
    ``SLURMEnvironment`` and take ranks from ``SLURM_PROCID``/``SLURM_NODEID``."""
    port = free_port()
    args = fit_args(tmp_path, "--trainer.num_nodes", "2", "--trainer.devices", "1")
    results = run_together([([*CLI, *args], slurm_env(tmp_path, rank, port)) for rank in (0, 1)], tmp_path)
    assert_all_ok(results)
    reports = rank_reports(tmp_path)
    assert [(r["node_rank"], r["local_rank"]) for r in reports] == [(0, 0), (1, 0)]
    assert_ranks_agree(reports, "SLURMEnvironment")
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in results[1][2]
    assert_metrics_match_one_process(tmp_path, reports, results[0][1])


def test_a_killed_task_ends_the_other_with_one_line(tmp_path):
    """A SLURM task killed while training (the OOM killer, a lost node): ``srun`` leaves the other
    task running by default, so rank 0 must end by itself. gloo reports the closed connection at
    rank 0's next collective; ``lit_gans.cli.main`` turns it into one line (``lit_gans/distributed.py``)
    and rank 0 exits 1 within seconds instead of printing gloo's traceback or waiting.
    The ring config: 390 batches an epoch and no evaluation before g_step 250, so rank 0 is in
    DDP's collectives every step (a rank busy in a long evaluation notices only at its end)."""
    port = free_port()
    args = fit_args(tmp_path, "--trainer.num_nodes", "2", "--trainer.devices", "1", config=RING, g_steps=2000, mark_g_step=2)
    launched = Launched([([*CLI, *args], slurm_env(tmp_path, rank, port)) for rank in (0, 1)], tmp_path)
    rank0, rank1 = launched.procs
    try:
        deadline = time.monotonic() + TIMEOUT
        marks = [tmp_path / "ranks" / f"rank{r}.training" for r in (0, 1)]
        while not all(m.exists() for m in marks) and time.monotonic() < deadline and rank0.poll() is None:
            time.sleep(0.2)
        assert all(m.exists() for m in marks), "the run did not start training\n" + launched.output(0)[1][-3000:]
        assert int(marks[1].read_text()) == rank1.pid
        rank1.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        code = launched.wait(30)[0]
        seconds = time.monotonic() - killed
    finally:
        launched.stop()
    _, err = launched.output(0)
    print(f"rank 0 ended {seconds:.1f} s after rank 1 was killed, return code {code}: {err.strip().splitlines()[-1]}")
    assert code is not None and code != 0, f"rank 0 still running 30 s after rank 1 was killed\n{err[-3000:]}"
    assert seconds < 10, seconds
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("lit-gans: error: another process of this distributed run (rank 1) stopped"), err[-3000:]
    assert "Connection" in last and "see that process's log" in last
    assert "Traceback" not in err and "GLHF" not in err, err[-3000:]
