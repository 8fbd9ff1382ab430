"""Where a default run's time goes: KID from kernel matrices computed once, evaluation and validation on
the generator-step schedule, data prepared once, the evaluation budget's warning, torch's threads, the
time report, and evaluation that reads ``fit: pad`` images as the feature network was trained."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from torchmetrics.image.kid import poly_mmd

from datamodules import FashionMNISTDataModule
from datamodules.base import ImageTransform
from datamodules.torchvision_sets import DEBIAN_FASHION_MNIST
from lit_gans.callbacks.timing import TimeReport
from lit_gans.cli import main
from lit_gans.errors import ConfigError
from lit_gans.families import WGAN
from lit_gans.loop import batches_per_step
from lit_gans.metrics.evaluator import _Given
from lit_gans.metrics.kid import KernelDistance, mmd2_of_subsets, polynomial_kernel
from lit_gans.runtime import ValidationSchedule, choose_threads, processes_per_node

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------------------------------- KID
def test_subset_mmd_equals_torchmetrics_poly_mmd_on_each_subset():
    torch.manual_seed(0)
    real = torch.randn(300, 16, dtype=torch.float64) * 3 + 1
    fake = torch.randn(250, 16, dtype=torch.float64) * 2
    real_index = torch.stack([torch.randperm(300)[:50] for _ in range(7)])
    fake_index = torch.stack([torch.randperm(250)[:50] for _ in range(7)])
    ours = mmd2_of_subsets(real, fake, real_index, fake_index, polynomial_kernel())
    reference = torch.stack([poly_mmd(real[real_index[i]], fake[fake_index[i]]) for i in range(7)])
    assert torch.allclose(ours, reference, rtol=1e-10, atol=1e-10)
    kernel = polynomial_kernel(degree=3, gamma=0.3, coef=0.5)  # the diagonal from the norms, not from a matrix
    assert torch.allclose(kernel.diagonal(real), torch.diagonal(kernel(real, real)), rtol=1e-12)


def test_kernel_distance_is_kid_over_its_subsets_and_keeps_the_real_terms(monkeypatch):
    from lit_gans.metrics import kid as kid_module

    monkeypatch.setattr(kid_module, "BLOCK_ELEMENTS", 1000)  # several row blocks, as with large feature sets
    torch.manual_seed(1)
    real = torch.randn(120, 8, dtype=torch.float64)
    metric = KernelDistance(feature=_Given(8), subsets=5, subset_size=40, reset_real_features=False)
    metric.update(real, real=True)
    for shift in (0.0, 0.5):
        fake = torch.randn(90, 8, dtype=torch.float64) + shift
        metric.reset()
        metric.update(fake, real=False)
        torch.manual_seed(7)
        mean, std = metric.compute()
        real_index, _ = metric._real_subsets
        torch.manual_seed(7)  # the generated subsets come from the global stream, as in torchmetrics
        fake_index = torch.stack([torch.randperm(90)[:40] for _ in range(5)])
        scores = torch.stack([poly_mmd(real[real_index[i]], fake[fake_index[i]]) for i in range(5)])
        assert float(mean) == pytest.approx(float(scores.mean()), rel=1e-9)
        assert float(std) == pytest.approx(float(scores.std(unbiased=False)), rel=1e-9)
        assert len(set(map(tuple, real_index.tolist()))) == 5  # distinct subsets
    # the real subsets and their sums were computed once, for the first evaluation
    assert metric._real_key is not None and torch.equal(metric._real_subsets[0], real_index)
    # terms computed elsewhere (the on-disk cache of ModelEvaluation) give the same value
    cached = KernelDistance(feature=_Given(8), subsets=5, subset_size=40, reset_real_features=False)
    cached.set_real_terms(real, **metric.real_terms(real))
    cached.update(real, real=True)
    cached.update(fake, real=False)
    torch.manual_seed(7)
    assert float(cached.compute()[0]) == pytest.approx(float(mean), rel=1e-12)


# ---------------------------------------------------------------------------------------------- data
@pytest.mark.parametrize("shape, channels, size", [((20, 28, 28), 1, 32), ((20, 32, 32, 3), 3, 32), ((20, 30, 27), 1, 28),
                                                   ((20, 28, 28), 3, 32), ((20, 32, 32, 3), 1, 28)])
def test_padding_all_images_at_once_matches_the_pipeline_image_by_image(shape, channels, size):
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    transform = ImageTransform(channels, size, "pad")
    whole = transform.all_at_once(images)
    assert torch.equal(whole, torch.stack([transform(image) for image in images]))
    assert ImageTransform(channels, size, "resize").all_at_once(images) is None  # resized image by image
    assert ImageTransform(channels, size, "pad", [{"name": "HorizontalFlip", "p": 0.5}]).all_at_once(images) is None


@pytest.fixture(scope="module")
def fashion_pad(tmp_path_factory):
    if not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip(f"Fashion-MNIST not at {DEBIAN_FASHION_MNIST}: `apt-get install dataset-fashion-mnist`")
    dm = FashionMNISTDataModule(data_dir=str(tmp_path_factory.mktemp("fashion")), fit="pad", image_size=32)
    dm.setup("fit")
    return dm


def test_fashion_mnist_is_prepared_once_and_handed_out_by_batch(fashion_pad):
    # transformed up front (no augmentations): the loader indexes tensors instead of running albumentations per image
    assert fashion_pad.train_set.samples.shape == (60000, 1, 32, 32) and fashion_pad.val_set.samples.shape == (10000, 1, 32, 32)
    image, label = fashion_pad.val_set[0]
    assert image.shape == (1, 32, 32) and float(image[0, :2].max()) == -1.0  # the 2-pixel zero border, scaled to -1
    batch = next(iter(fashion_pad.train_dataloader()))
    assert batch[0].shape == (64, 1, 32, 32) and batch[1].shape == (64,)


def test_evaluation_reads_padded_fashion_mnist_as_the_classifier_was_trained(fashion_pad):
    """Real ``fit: pad`` validation images score like the classifier's own test set (within 1 point) with
    a flat predicted-class histogram; read whole and shrunk, they did not (0.857, KL 0.019)."""
    from lit_gans.metrics.evaluation import ModelEvaluation

    assert fashion_pad.evaluation_border == 2
    evaluation = ModelEvaluation(fashion_pad, metrics=["classifier"], n_real=16)
    evaluation.prepare(torch.device("cpu"))
    evaluator = evaluation.evaluator
    assert evaluator.border == 2
    _, logits = evaluator.features(fashion_pad.val_set.samples)
    predicted = logits.argmax(1)
    accuracy = float((predicted == fashion_pad.val_set.labels).float().mean())
    test_accuracy = evaluator.network.net.meta["test_accuracy"]
    assert abs(accuracy - test_accuracy) <= 0.01, (accuracy, test_accuracy)
    share = torch.bincount(predicted, minlength=10).double() / len(predicted)
    assert float((share * (share * 10).log()).sum()) < 0.005
    assert FashionMNISTDataModule(fit="resize", image_size=32).evaluation_border == 0


# ---------------------------------------------------------------------------------------------- schedules and threads
def test_validation_is_counted_in_generator_iterations():
    model = WGAN(data_shape=(2,), architecture="mlp", n_critic=5)
    assert batches_per_step(model.phases(), "generator") == 5
    schedule = ValidationSchedule(every_n_g_steps=100)
    unset = {"val_check_interval": None, "check_val_every_n_epoch": None, "limit_val_batches": None}  # lit-gans' defaults
    assert schedule.trainer_settings(model, unset) == {"val_check_interval": 500, "check_val_every_n_epoch": None,
                                                       "limit_val_batches": 20}
    # a config's own Lightning cadence and length stay, even Lightning's defaults given by hand
    for own in ({"check_val_every_n_epoch": 1}, {"check_val_every_n_epoch": 3}, {"val_check_interval": 50}):
        assert schedule.trainer_settings(model, {**unset, **own, "limit_val_batches": 1.0}) == {}
    assert ValidationSchedule(every_n_g_steps=None, max_batches=None).trainer_settings(model, unset) == {
        "check_val_every_n_epoch": 1, "limit_val_batches": 1.0}
    # a family that measures itself in validation reads all of it
    model.evaluates_itself = True
    assert schedule.trainer_settings(model, unset)["limit_val_batches"] == 1.0
    with pytest.raises(ConfigError, match="validation.max_batches=0"):
        ValidationSchedule(max_batches=0)
    with pytest.raises(ConfigError, match="validation.every_n_g_steps=0"):
        ValidationSchedule(every_n_g_steps=0)


def test_threads_divide_the_cores_among_a_machines_processes(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.delenv("SLURM_NTASKS_PER_NODE", raising=False)
    monkeypatch.setattr("lit_gans.runtime.available_cores", lambda: 8)
    try:
        assert processes_per_node({"accelerator": "cpu", "devices": 4}) == 4
        assert choose_threads(None, {"accelerator": "cpu", "devices": 4}) == 2 and torch.get_num_threads() == 2
        assert choose_threads(None, {"accelerator": "cpu", "devices": 1}) == 8
        monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "2(x3)")
        assert choose_threads(None, {}) == 4
        assert choose_threads(3, {}) == 3  # the config's value wins
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        assert choose_threads(None, {"accelerator": "cpu", "devices": 1}) == 1  # the environment's setting is kept
        with pytest.raises(ConfigError, match="threads=0"):
            choose_threads(0, {})
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------- a default run
def fit_digits(root, *args: str) -> int:
    """``lit-gans fit`` of an 8-wide DCGAN on the digits, in this process, with a CSV logger under ``root``
    and 64-sample metrics, plus ``args``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(["fit", "--config", "configs/dcgan/digits.yaml", "--model.init_args.g_width", "8",
                     "--model.init_args.d_width", "8", "--metrics.n_samples", "64", "--metrics.n_real", "64",
                     "--trainer.default_root_dir", str(root), "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
                     "--trainer.logger.save_dir", str(root), "--trainer.enable_progress_bar", "false", *args])


def test_a_default_run_validates_and_evaluates_on_its_schedule_and_reports_its_time(tmp_path, capsys):
    """DCGAN on the digits with 2 critic steps per generator step: validation every 3 generator iterations
    (6 batches) and at the end, metrics every 4 and at the end, never at a validation; the closing lines
    split the time."""
    root = tmp_path / "run"
    assert fit_digits(root, "--model.init_args.max_g_steps", "8", "--model.init_args.n_critic", "2",
                      "--validation.every_n_g_steps", "3", "--metrics.every_n_g_steps", "4", "--samples.every_n_g_steps", "4",
                      "--checkpoint.every_n_g_steps", "4") == 0
    out = capsys.readouterr().out
    log = root / "lightning_logs" / "version_0"
    if not log.is_dir():
        log = next(root.rglob("metrics.csv")).parent
    header, *rows = (log / "metrics.csv").read_text().splitlines()
    columns = header.split(",")
    cells = [dict(zip(columns, row.split(","))) for row in rows]
    evaluated = [c for c in cells if c.get("digits/fid")]
    # after generator iterations 3 and 6 (batches 6 and 12) and when training stops (8), not at the epoch's end (25 batches)
    assert len([c for c in cells if c.get("val/d_loss")]) == 3
    assert len(evaluated) == 2  # at 4 and at 8 (the end), none at the validations
    report = json.loads((log / "time_report.json").read_text())
    assert set(report) == {"wall", "start-up", "training", "validation", "evaluation", "sample grids", "checkpoints"}
    assert all(v >= 0 for v in report.values()) and report["evaluation"] > 0 and report["validation"] > 0
    assert math.isclose(sum(v for k, v in report.items() if k != "wall"), report["wall"], rel_tol=1e-6)
    line = next(line for line in out.splitlines() if line.strip().startswith("time:"))
    assert "start-up" in line and "training" in line and "evaluation" in line and "torch thread" in line


def test_the_time_line_names_every_kind_of_work_the_run_did_however_short():
    report = TimeReport()
    report.report = {"wall": 10.0, "start-up": 2.0, "training": 7.9, "validation": 0.06, "evaluation": 0.04,
                     "sample grids": 0.0, "checkpoints": 0.0}
    line = report.line()
    assert line.startswith("10.0 s: start-up 2.0 s (20 %), training 7.9 s (79 %)")
    assert "validation 0.1 s" in line and "evaluation 0.0 s (0 %)" in line  # a fast evaluation still shows
    assert "sample grids" not in line and "checkpoints" not in line  # what did not happen does not


def test_the_metrics_callback_warns_once_when_its_schedule_passes_the_budget(tmp_path):
    """1,000 samples every generator iteration of a tiny MLP: evaluation is most of the run."""
    root = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"evaluating every 1 iterations spends \d+ % of the run on metrics \(budget 10 %\); "
                                          r"set metrics.every_n_g_steps to \d+ or more") as record:
        code = main(["fit", "--config", "configs/gan/ring.yaml", "--model.init_args.max_g_steps", "4",
                     "--metrics.every_n_g_steps", "1", "--metrics.n_samples", "2500", "--samples.every_n_g_steps", "100",
                     "--trainer.default_root_dir", str(root), "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
                     "--trainer.logger.save_dir", str(root), "--trainer.enable_progress_bar", "false"])
    assert code == 0
    assert len([w for w in record if "spends" in str(w.message)]) == 1


def test_a_run_stopped_by_its_epochs_or_time_is_evaluated_at_its_end(tmp_path):
    """Training that stops without ``max_g_steps`` (here ``max_epochs``; ``max_time`` alike) still gets its final
    evaluation, which ``on_train_batch_end`` cannot see coming."""
    root = tmp_path / "run"
    assert fit_digits(root, "--model.init_args.max_g_steps", "1000", "--trainer.max_epochs", "1",
                      "--data.init_args.batch_size", "256") == 0
    header, *rows = next(root.rglob("metrics.csv")).read_text().splitlines()
    columns = header.split(",")
    evaluated = [dict(zip(columns, row.split(","))) for row in rows if row.split(",")[columns.index("digits/fid")]]
    assert len(evaluated) == 1 and float(evaluated[0]["g_step"]) == 6  # 1,617 digits in batches of 256: 6 iterations
