"""Class-conditional evaluation: intra-class FID and class accuracy (``Evaluator``, ``ModelEvaluation``),
when they are computed and the one error when they cannot be, their values under DDP, and sample grids
with one row per class.

Run as a script (``python test_conditional_metrics.py WORLD OUT``) it is the DDP helper of
``test_two_gloo_processes_agree_on_the_class_conditional_metrics``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # conftest's helpers when run as a script
sys.path.insert(0, str(HERE.parent))

from datamodules import DigitsDataModule, Toy2DDataModule  # noqa: E402
from lit_gans.errors import ConfigError  # noqa: E402
from lit_gans.latent import LatentSpec  # noqa: E402
from lit_gans.metrics import DataEvaluation, ModelEvaluation  # noqa: E402
from lit_gans.metrics.codes import class_accuracies, class_accuracy  # noqa: E402
from lit_gans.metrics.evaluator import Evaluator  # noqa: E402
from lit_gans.metrics.features import feature_network  # noqa: E402
from gloo_procs import free_port, leave  # noqa: E402

CONDITIONAL_KEYS = {"digits/intra_fid", "digits/class_accuracy"}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def digits_data() -> DigitsDataModule:
    dm = DigitsDataModule(image_size=16, batch_size=32)
    dm.setup("fit")
    return dm


@pytest.fixture(scope="module")
def dm() -> DigitsDataModule:
    return digits_data()


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("real_features"))


class ClassSampler:
    """A stand-in for a conditional model: asked for class y it returns a random real training image
    of class y + ``shift`` (mod 10): with shift 0 a perfect conditional model, otherwise one whose
    samples are real digits of the wrong class (the same images overall, so FID cannot tell)."""

    device = torch.device("cpu")

    def __init__(self, dm: DigitsDataModule, shift: int = 0):
        images, labels = dm.train_set.tensors
        self.pools = [images[labels == y] for y in range(10)]
        self.shift = shift
        self.latent_spec = LatentSpec(8, num_classes=10)

    def sample(self, n: int, labels=None) -> torch.Tensor:
        classes = (torch.as_tensor(labels) + self.shift) % 10
        out = torch.empty(n, *self.pools[0].shape[1:])
        for y, pool in enumerate(self.pools):
            mine = classes == y
            out[mine] = pool[torch.randint(len(pool), (int(mine.sum()),))]
        return out


class ImageSampler:
    """All that ModelEvaluation needs of an unconditional model: ``sample(n)`` and ``device``."""

    device = torch.device("cpu")

    def __init__(self, dm: DigitsDataModule):
        self.images = dm.train_set.tensors[0]

    def sample(self, n: int) -> torch.Tensor:
        return self.images[torch.randint(len(self.images), (n,))]


def tiny(family: str, dm: DigitsDataModule, **kwargs):
    """An untrained model of ``family`` (CGAN: conditional on the digits' 10 classes), 8 channels wide."""
    from lit_gans.families import FAMILIES

    conditional = family in ("CGAN", "ACGAN")
    return FAMILIES[family](data_shape=dm.data_shape, num_classes=dm.num_classes if conditional else 0, g_width=8, d_width=8,
                            latent_dim=8, **kwargs)


# ---------------------------------------------------------------------- the metrics
def test_intra_fid_of_real_images_against_themselves_is_zero_and_large_for_wrong_labels(dm):
    images, labels = dm.train_set.tensors
    wrong = (labels + 1) % 10

    def evaluate(fake_labels):
        evaluator = Evaluator(feature_network("digits"), ["fid", "intra_fid", "class_accuracy"], num_classes=10)
        features = evaluator.features(images)[0]
        evaluator.add_real_features(features)
        evaluator.set_real_classes(features, labels)
        for part, asked in zip(images.split(700), fake_labels.split(700)):  # several updates
            evaluator.update_fake(part, asked)
        return evaluator.compute(), evaluator.per_class

    same, same_per_class = evaluate(labels)
    assert abs(same["fid"]) < 1e-2 and abs(same["intra_fid"]) < 1e-2
    assert len(same_per_class["intra_fid"]) == 10 and max(abs(v) for v in same_per_class["intra_fid"]) < 1e-2
    assert same["class_accuracy"] > 0.97 and min(same_per_class["class_accuracy"]) > 0.9
    shifted, shifted_per_class = evaluate(wrong)  # the same images, asked for the wrong classes
    assert abs(shifted["fid"]) < 1e-2  # FID sees the same set of images...
    assert shifted["intra_fid"] > 100 and min(shifted_per_class["intra_fid"]) > 50  # ...intra-class FID does not
    assert shifted["class_accuracy"] < 0.03


def test_a_model_of_the_wrong_class_has_a_larger_intra_fid_and_no_class_accuracy(dm, cache):
    evaluation = ModelEvaluation(dm, metrics=["fid", "intra_fid", "class_accuracy"], n_samples=500, n_real=2000, cache_dir=cache)
    evaluation.prepare(torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*biased upward.*")  # 50 samples a class, 128 features
        right = evaluation.evaluate(ClassSampler(dm), seed=1)
        right_per_class = evaluation.per_class
        wrong = evaluation.evaluate(ClassSampler(dm, shift=1), seed=1)
    assert set(right) == {"digits/fid"} | CONDITIONAL_KEYS
    assert right["digits/fid"] < 1 and wrong["digits/fid"] < 1  # both are real digits, balanced over classes
    assert right["digits/intra_fid"] < 3 and wrong["digits/intra_fid"] > 30 * right["digits/intra_fid"]
    assert right["digits/class_accuracy"] > 0.97 and wrong["digits/class_accuracy"] < 0.03
    # per class: 10 values each, whose mean / sample-weighted share is the reported number
    assert set(right_per_class) == CONDITIONAL_KEYS and all(len(v) == 10 for v in right_per_class.values())
    assert sum(right_per_class["digits/intra_fid"]) / 10 == pytest.approx(right["digits/intra_fid"])
    assert sum(evaluation.per_class["digits/class_accuracy"]) / 10 == pytest.approx(wrong["digits/class_accuracy"])
    # the same seed gives the same values
    again = evaluation.evaluate(ClassSampler(dm), seed=1)
    assert again == pytest.approx(right)


def test_class_accuracy_per_class_from_the_sampling_helper(dm):
    classifier = feature_network("digits").net
    right = class_accuracies(ClassSampler(dm), classifier, n_per_class=20)
    assert right["accuracy"] > 0.95 and len(right["per_class"]) == 10
    assert class_accuracy(ClassSampler(dm, shift=3), classifier, n_per_class=20) < 0.05


def test_too_few_samples_per_class_are_nan_with_one_warning(dm):
    images, labels = dm.train_set.tensors
    evaluator = Evaluator(feature_network("digits"), ["intra_fid"], num_classes=10)
    features = evaluator.features(images)[0]
    evaluator.set_real_classes(features, labels)
    evaluator.update_fake(images[:15], labels[:15])  # some classes get fewer than 2 samples
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = evaluator.compute()
    assert math.isnan(values["intra_fid"])
    assert len([w for w in caught if "at least 2 real and 2 generated samples of every class" in str(w.message)]) == 1


# ---------------------------------------------------------------------- when they are computed
def test_conditional_metrics_are_computed_for_conditional_models_only(dm, cache):
    evaluation = ModelEvaluation(dm, n_samples=200, n_real=2000, kid_subset_size=50, cache_dir=cache)
    assert evaluation.metrics == ["fid", "kid", "is", "classifier", "intra_fid", "class_accuracy"]
    torch.manual_seed(0)
    cgan, dcgan = tiny("CGAN", dm), tiny("DCGAN", dm)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        conditional = evaluation.evaluate(cgan)
        unconditional = evaluation.evaluate(dcgan)
        assert evaluation.per_class == {}
        images = evaluation.evaluate(ImageSampler(dm))
    assert CONDITIONAL_KEYS <= set(conditional) and all(math.isfinite(conditional[k]) for k in CONDITIONAL_KEYS)
    assert 0 <= conditional["digits/class_accuracy"] <= 1
    assert "digits/fid" in unconditional and not CONDITIONAL_KEYS & set(unconditional)  # silently absent
    assert "digits/fid" in images and not CONDITIONAL_KEYS & set(images)  # a sampler without latent_spec
    assert not [w for w in caught if "intra_fid and class_accuracy" in str(w.message)]
    # a data of images without labels, or evaluated in Inception's space: not in the default
    unlabelled = SimpleNamespace(data_shape=(1, 16, 16), evaluation=DataEvaluation.for_images("digits"))
    assert ModelEvaluation(unlabelled).metrics == ["fid", "kid", "is", "classifier"]
    assert ModelEvaluation(dm, feature="inception").metrics == ["fid", "kid", "is", "classifier"]
    assert ModelEvaluation(dm, metrics=["fid"]).metrics == ["fid"]


def test_asking_for_them_where_they_cannot_be_computed_is_one_clear_error(dm, cache):
    evaluation = ModelEvaluation(dm, metrics=["fid", "intra_fid"], n_samples=100, n_real=100, cache_dir=cache)
    with pytest.raises(ConfigError, match=r"^metrics \['intra_fid'\] need a model conditional on the data's classes: DCGAN is "
                                          r"unconditional \(latent_spec.num_classes is 0\).*or leave intra_fid out of the metrics$"):
        evaluation.evaluate(tiny("DCGAN", dm))
    unlabelled = SimpleNamespace(data_shape=(1, 16, 16), evaluation=DataEvaluation.for_images("digits"))
    with pytest.raises(ConfigError, match=r"need labelled data.*has no classes \(num_classes=0\)"):
        ModelEvaluation(unlabelled, metrics=["intra_fid", "class_accuracy"])
    with pytest.raises(ConfigError, match=r"'class_accuracy' needs a classifier of the data's classes, and Inception is an ImageNet"):
        ModelEvaluation(dm, metrics=["class_accuracy"], feature="inception")
    with pytest.raises(ConfigError, match=r"metrics \['intra_fid'\] need image data; Toy2DDataModule allows modes$"):
        ModelEvaluation(Toy2DDataModule(), metrics=["intra_fid"])


def test_the_evaluator_needs_the_data_classes_and_a_classifier_of_them():
    network = feature_network("digits")
    with pytest.raises(ConfigError, match=r"metrics \['intra_fid'\] need the data's classes: pass num_classes"):
        Evaluator(network, ["fid", "intra_fid"])
    with pytest.raises(ConfigError, match=r"'class_accuracy' needs a classifier of the data's 5 classes; the digits network has 10"):
        Evaluator(network, ["class_accuracy"], num_classes=5)
    evaluator = Evaluator(network, ["intra_fid", "class_accuracy"], num_classes=10)
    evaluator.update_fake(torch.zeros(4, 1, 16, 16))  # unlabelled samples: the conditional metrics are not computed
    assert evaluator.compute() == {} and evaluator.per_class == {}


def test_the_metrics_callback_refuses_them_for_an_unconditional_model_before_training(dm, tmp_path):
    from conftest import quiet_trainer
    from lit_gans.callbacks import GenerativeMetrics

    model = tiny("DCGAN", dm, max_g_steps=2)
    callback = GenerativeMetrics(every_n_g_steps=1, n_samples=50, metrics=["class_accuracy"], cache_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"metrics \['class_accuracy'\] need a model conditional.*DCGAN is unconditional"):
        quiet_trainer(callbacks=[callback]).fit(model, DigitsDataModule(image_size=16, batch_size=32))
    assert model.g_step == 0


# ---------------------------------------------------------------------- grids
def test_a_conditional_grid_has_one_row_per_class_with_the_same_noise_in_each_column(dm, tmp_path):
    from PIL import Image

    from lit_gans.callbacks import SampleGrid

    torch.manual_seed(0)
    model = tiny("CGAN", dm)
    fixed_labels, fixed_z = model.fixed_labels.clone(), model.fixed_z.clone()
    callback = SampleGrid(dirpath=str(tmp_path), nrow=4)
    samples, nrow = callback.grid(model)
    assert samples.shape == (40, 1, 16, 16) and nrow == 4
    for y in (0, 3, 9):
        for j in (0, 3):  # row y, column j: the j-th fixed noise vector asked for class y
            expected = model.sample(1, labels=[y], z=model.fixed_z[j : j + 1])
            assert torch.allclose(samples[y * 4 + j], expected[0], atol=1e-6), (y, j)
    assert not torch.allclose(samples[0], samples[4])  # one z, two classes: two images
    assert torch.equal(model.fixed_labels, fixed_labels) and torch.equal(model.fixed_z, fixed_z)  # buffers kept
    trainer = SimpleNamespace(loggers=[], datamodule=dm, global_step=0)
    callback.setup(trainer, model, "fit")
    path = callback._write(trainer, model)
    assert Image.open(path).size == (4 * 34 + 2, 10 * 34 + 2)  # 16 px shown at 32, padding 2: 10 rows of 4
    assert Image.open(path.with_name(f"interp_{path.name}")).size == (10 * 34 + 2, 4 * 34 + 2)  # strips as before


def test_an_unconditional_grid_is_unchanged(dm, tmp_path):
    from PIL import Image

    from lit_gans.callbacks import SampleGrid

    model = tiny("DCGAN", dm)
    callback = SampleGrid(dirpath=str(tmp_path), interpolation_steps=0)
    samples, nrow = callback.grid(model)
    assert nrow == 8 and torch.equal(samples, model.fixed_samples())
    trainer = SimpleNamespace(loggers=[], datamodule=dm, global_step=0)
    callback.setup(trainer, model, "fit")
    assert Image.open(callback._write(trainer, model)).size == (8 * 34 + 2, 8 * 34 + 2)


# ---------------------------------------------------------------------- DDP
@pytest.mark.slow
def test_two_gloo_processes_agree_on_the_class_conditional_metrics(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "OMP_NUM_THREADS": "1", "TEST_PORT": str(free_port())}
    values = {}
    for world in (1, 2):
        out = tmp_path / f"world{world}.json"
        result = subprocess.run([sys.executable, __file__, str(world), str(out)], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        values[world] = json.loads(out.read_text())
    one, two = values[1], values[2]
    assert two["ranks"][0] == two["ranks"][1]  # every rank computes the same values
    # the Evaluator on each rank's share of the same samples: the single process's values
    for key, single in one["shares"].items():
        assert two["shares"][key] == pytest.approx(single, rel=1e-6, abs=1e-6), key
    # ModelEvaluation: each rank draws its own samples (seeded by rank), of the same classes overall
    model_one, model_two = one["ranks"][0], two["ranks"][0]
    assert model_two["counts"] == model_one["counts"] == [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]
    assert model_two["values"]["digits/class_accuracy"] == model_one["values"]["digits/class_accuracy"] == 1.0
    assert model_two["values"]["digits/intra_fid"] == pytest.approx(model_one["values"]["digits/intra_fid"], rel=0.5)


def _ddp_rank(rank: int, world: int, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["TEST_PORT"])
        dist.init_process_group("gloo", rank=rank, world_size=world)
    from lit_gans.metrics.evaluator import rank_share

    warnings.simplefilter("ignore")
    dm = digits_data()
    images, labels = dm.train_set.tensors
    fake = (images[:600] + 0.3 * torch.randn(600, 1, 16, 16, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    evaluator = Evaluator(feature_network("digits"), ["fid", "intra_fid", "class_accuracy"], num_classes=10)
    features = evaluator.features(images)[0]
    evaluator.add_real_features(rank_share(features))
    evaluator.set_real_classes(features, labels)
    for part, asked in zip(rank_share(fake).split(128), rank_share(labels[:600]).split(128)):
        evaluator.update_fake(part, asked)
    shares = {**evaluator.compute(), **{f"{k}/{y}": v for k, values in evaluator.per_class.items() for y, v in enumerate(values)}}
    trainer = SimpleNamespace(global_rank=rank, world_size=world)
    evaluation = ModelEvaluation(dm, metrics=["intra_fid", "class_accuracy"], n_samples=100, n_real=2000,
                                 cache_dir=str(Path(out).parent / f"cache{world}"))
    if rank == 0:
        evaluation.prepare(torch.device("cpu"))  # the cache is written once, then read by every rank
    if world > 1:
        dist.barrier()
    evaluation.prepare(torch.device("cpu"))
    values = evaluation.evaluate(ClassSampler(dm), seed=2, trainer=trainer)
    counts = evaluation.evaluator.intra_fid.compute()["fake_counts"].tolist()
    report = {"values": values, "per_class": evaluation.per_class, "counts": counts}
    gathered = [None] * world
    if world > 1:
        dist.all_gather_object(gathered, report)
    else:
        gathered = [report]
    if rank == 0:
        Path(out).write_text(json.dumps({"shares": shares, "ranks": gathered}))
    leave(world)


if __name__ == "__main__":
    import torch.multiprocessing as mp

    world_size, out_path = int(sys.argv[1]), sys.argv[2]
    if world_size == 1:
        _ddp_rank(0, 1, out_path)
    else:
        mp.spawn(_ddp_rank, args=(world_size, out_path), nprocs=world_size)
