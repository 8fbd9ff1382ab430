"""FID/KID/IS/classifier scores on torchmetrics (domain and Inception feature spaces), PacGAN's mode
coverage on hand-made point sets, real-feature caching, small samples, and DDP equality."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from unittest import mock

import pytest
import torch

from gloo_procs import free_port

from datamodules.base import GANDataModule, TensorBatches
from datamodules.digits import load_digit_images
from lit_gans.errors import ConfigError
from lit_gans.metrics import DataEvaluation, ModelEvaluation
from lit_gans.metrics.evaluator import Evaluator, real_features
from lit_gans.metrics.features import InceptionFeatures, feature_network
from lit_gans.metrics.modes import mode_coverage
from lit_gans.metrics.spec import IMAGE_METRICS

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    images, _ = load_digit_images()
    x = torch.from_numpy(images).float()[:, None] / 127.5 - 1
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))]


@pytest.fixture(scope="module")
def network():
    return feature_network("digits")


def evaluate(network, real, fake, **kwargs) -> dict[str, float]:
    evaluator = Evaluator(network, **kwargs)
    evaluator.add_real_features(evaluator.features(real)[0])
    evaluator.update_fake(fake)
    return evaluator.compute()


def test_fid_of_a_set_against_itself_is_zero(network, digits):
    values = evaluate(network, digits, digits, metrics=["fid"])
    assert abs(values["fid"]) < 1e-3


def test_fid_grows_as_noise_is_added(network, digits):
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(digits.shape, generator=g)
    fids = [evaluate(network, digits, (digits + s * noise).clamp(-1, 1), metrics=["fid"])["fid"] for s in (0.0, 0.2, 0.5, 1.0)]
    assert all(a < b for a, b in zip(fids, fids[1:])), fids
    assert fids[-1] > 100 * max(fids[0], 1e-3)


def test_kid_is_zero_on_two_halves_of_one_shuffled_set(network, digits):
    half = len(digits) // 2
    same = evaluate(network, digits[:half], digits[half:], metrics=["kid"], kid_subsets=50, kid_subset_size=500)
    noisy = evaluate(network, digits[:half], (digits[half:] + 0.5 * torch.randn_like(digits[half:])).clamp(-1, 1), metrics=["kid"], kid_subsets=50, kid_subset_size=500)
    assert abs(same["kid"]) < 3 * same["kid_std"] + 1e-3
    assert noisy["kid"] > 10 * abs(same["kid"]) and noisy["kid"] > noisy["kid_std"]


def test_classifier_scores_and_inception_score_see_collapse(network, digits):
    real = evaluate(network, digits, digits, metrics=["is", "classifier"])
    collapsed = evaluate(network, digits, digits[:1].expand(500, -1, -1, -1), metrics=["is", "classifier"])
    assert real["classes"] == 10 and real["class_kl"] < 0.05 and real["confidence"] > 0.9
    assert collapsed["classes"] == 1 and collapsed["class_kl"] == pytest.approx(math.log(10), abs=1e-6)
    assert real["is"] > 8 and collapsed["is"] == pytest.approx(1.0, abs=1e-3)


def test_fewer_samples_than_features_warn_once_and_do_not_crash(network, digits):
    evaluator = Evaluator(network)
    evaluator.add_real_features(evaluator.features(digits[:5])[0])
    evaluator.update_fake(digits[5:10])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = evaluator.compute(), evaluator.compute()
    biased = [w for w in caught if "biased" in str(w.message)]
    assert len(biased) == 1 and "5 samples" in str(biased[0].message)
    assert math.isfinite(first["fid"]) and math.isfinite(first["kid"]) and first == second
    single = Evaluator(network)
    single.add_real_features(single.features(digits[:1])[0])
    single.update_fake(digits[1:2])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert math.isnan(single.compute()["fid"])


def test_real_features_are_computed_once_and_cached(tmp_path, network, digits):
    calls = []

    def featurize(x):
        calls.append(len(x))
        return network(x)[0]

    key = {"data": "digits", "feature": "digits", "n_real": 100}
    first = real_features(key, lambda: digits[:100].split(40), featurize, tmp_path)
    second = real_features(key, lambda: digits[:100].split(40), featurize, tmp_path)
    assert calls == [40, 40, 20] and torch.equal(first, second)
    other = real_features({**key, "n_real": 50}, lambda: digits[:50].split(50), featurize, tmp_path)
    assert calls == [40, 40, 20, 50] and other.shape == (50, network.num_features)
    (cached,) = [p for p in tmp_path.iterdir() if p.stat().st_size == max(q.stat().st_size for q in tmp_path.iterdir())]
    cached.write_bytes(b"damaged")  # a damaged cache is recomputed, not an error
    assert torch.equal(real_features(key, lambda: digits[:100].split(40), featurize, tmp_path), first)


@pytest.mark.parametrize(
    "points, modes, high_quality, kl, spread",
    [
        # one point exactly on each of 4 modes: all covered, all high quality, uniform, no spread
        ([[0, 0], [1, 0], [0, 1], [1, 1]], 4, 1.0, 0.0, 0.0),
        # two points on mode 0, one 2.9 std away from mode 1 (counts), one 3.1 std away (does not);
        # spread: sqrt(2.9^2 / 3 high-quality points / 2 axes) std
        ([[0, 0], [0, 0], [1.029, 0], [0, 1.031]], 2, 0.75, math.log(4) + (2 / 3) * math.log(2 / 3) + (1 / 3) * math.log(1 / 3),
         math.sqrt(2.9**2 / 6)),
        # nothing near any mode
        ([[0.5, 0.5], [0.5, 0.5]], 0, 0.0, None, None),
    ],
)
def test_pacgan_mode_coverage_on_hand_made_points(points, modes, high_quality, kl, spread):
    centres = torch.tensor([[0.0, 0], [1, 0], [0, 1], [1, 1]])
    stats = mode_coverage(torch.tensor(points, dtype=torch.float64), centres, std=0.01)
    assert stats["modes"] == modes and stats["high_quality"] == pytest.approx(high_quality)
    if kl is None:
        assert math.isnan(stats["reverse_kl"]) and math.isnan(stats["spread"])
    else:
        assert stats["reverse_kl"] == pytest.approx(kl, abs=1e-9)
        assert stats["spread"] == pytest.approx(spread, abs=1e-9)


@pytest.mark.slow
def test_two_gloo_processes_give_the_single_process_values(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "OMP_NUM_THREADS": "1", "TEST_PORT": str(free_port())}
    values = {}
    for world in (1, 2):
        out = tmp_path / f"world{world}.json"
        result = subprocess.run([sys.executable, str(HERE / "metrics_ddp_script.py"), str(world), str(out)],
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        values[world] = json.loads(out.read_text())
    assert set(values[1]) == {"fid", "kid", "kid_std", "is", "is_std", "classes", "class_kl", "confidence"}
    for key, single in values[1].items():
        assert values[2][key] == pytest.approx(single, rel=1e-5, abs=1e-6), key


# ---------------------------------------------------------------------- Inception from a local file
@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory) -> Path:
    """torch-fidelity's Inception architecture with random weights, saved like the real file: it
    tests the loading and plumbing, not the numbers (the real weights cannot be downloaded here)."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = tmp_path_factory.mktemp("inception") / "weights-inception.pth"
    torch.save(net.state_dict(), path)
    return path


def test_inception_features_load_from_a_local_file(random_inception_weights, digits):
    net = InceptionFeatures(random_inception_weights)
    features, logits = net(digits[:3])  # grey 8x8 in [-1, 1] -> uint8 RGB 299x299 inside
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    values = evaluate(net, digits[:4], digits[:4], metrics=["fid", "is"])
    assert abs(values["fid"]) < 1e-2 and values["is"] > 0


def test_inception_weights_found_through_the_environment(random_inception_weights, monkeypatch):
    monkeypatch.setenv("LIT_GANS_INCEPTION_WEIGHTS", str(random_inception_weights))
    assert InceptionFeatures().num_features == 2048


def test_missing_or_corrupt_inception_weights_are_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LIT_GANS_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(ConfigError, match="Inception weights .* not found.*download https://.*inception_weights"):
        InceptionFeatures()
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        InceptionFeatures(bad)


@pytest.mark.slow
def test_metrics_callback_under_ddp_every_rank_computes_the_same_values(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(HERE / "metrics_callback_ddp_script.py"), str(tmp_path)],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert [h["g_step"] for h in rank0] == [2, 4] == [h["g_step"] for h in rank1]
    for h0, h1 in zip(rank0, rank1):  # synced torchmetrics states: identical values on both ranks
        assert h0 == pytest.approx(h1) and {"digits/fid", "digits/kid", "digits/classes"} <= set(h0)


@pytest.mark.parametrize(
    "data, family, keys",
    [
        ("toy", "GAN", {"modes/modes", "modes/high_quality"}),
        ("digits", "DCGAN", {"digits/fid", "digits/kid", "digits/is", "digits/classes", "digits/class_kl", "digits/confidence"}),
        ("stacked", "DCGAN", {"stacked/modes", "stacked/reverse_kl"}),
    ],
)
def test_metrics_callback_picks_what_suits_the_data_and_uses_the_ema_generator(tmp_path, data, family, keys):
    import lightning as L

    from conftest import quiet_trainer
    from datamodules import DigitsDataModule, StackedDigitsDataModule, Toy2DDataModule
    from lit_gans.callbacks import GenerativeMetrics
    from lit_gans.families import FAMILIES

    L.seed_everything(0)
    dm = {"toy": lambda: Toy2DDataModule(n_samples=512, batch_size=64),
          "digits": lambda: DigitsDataModule(batch_size=32),
          "stacked": lambda: StackedDigitsDataModule(n_samples=256, val_samples=64, batch_size=32)}[data]()
    extra = {"architecture": "mlp"} if data == "toy" else {}
    model = FAMILIES[family](data_shape=dm.data_shape, g_width=8, d_width=8, latent_dim=8, max_g_steps=3, ema_decay=0.5, **extra)
    callback = GenerativeMetrics(every_n_g_steps=2, n_samples=300, n_real=300, cache_dir=str(tmp_path))
    quiet_trainer(callbacks=[callback]).fit(model, dm)
    assert [h["g_step"] for h in callback.history] == [2, 3]  # every 2 and when max_g_steps is reached
    assert keys <= set(callback.history[-1])
    # the values are those of the EMA generator: evaluating it again with the same seed repeats them
    again = callback.evaluation.evaluate(model, seed=3)
    assert again == pytest.approx({k: v for k, v in callback.history[-1].items() if k != "g_step"})
    if data == "digits":  # breaking the EMA copy (not the generator) changes the values
        model.ema_generator.module.apply(lambda m: torch.nn.init.zeros_(m.weight) if getattr(m, "weight", None) is not None and m.weight.dim() > 1 else None)
        assert callback.evaluation.evaluate(model, seed=3)["digits/fid"] != pytest.approx(again["digits/fid"])


class MyDigits(GANDataModule):
    """A user's own DataModule: the bundled digits at 8 px, whose declaration asks for the digits
    feature network; nothing else tells the evaluation what it is."""

    evaluation = DataEvaluation.for_images(feature="digits")

    def __init__(self, batch_size: int = 32):
        super().__init__(batch_size=batch_size)
        self.data_shape = (1, 8, 8)

    def make_datasets(self):
        images, labels = load_digit_images()
        data = TensorBatches(torch.from_numpy(images).float()[:, None] / 127.5 - 1, torch.from_numpy(labels))
        return data, data


class Sampler:
    """All that ModelEvaluation may use of a model: ``sample(n)`` and ``device``."""

    device = torch.device("cpu")

    def __init__(self, images: torch.Tensor):
        self.images = images

    def sample(self, n: int) -> torch.Tensor:
        return self.images[torch.randint(len(self.images), (n,))]


def test_a_users_datamodule_gets_the_metrics_it_declares(tmp_path, digits):
    evaluation = ModelEvaluation(MyDigits(), n_samples=200, n_real=400, batch_size=100, kid_subset_size=50, cache_dir=str(tmp_path))
    assert evaluation.metrics == list(IMAGE_METRICS) and evaluation.feature == "digits"
    evaluation.prepare(Sampler.device)
    real = evaluation.evaluate(Sampler(digits[:400]), seed=1)
    collapsed = evaluation.evaluate(Sampler(digits[:1]), seed=1)
    assert {"digits/fid", "digits/kid", "digits/is", "digits/classes"} <= set(real)
    assert real["digits/fid"] < collapsed["digits/fid"] and real["digits/classes"] == 10 > collapsed["digits/classes"]


class Undeclared:
    """A LightningDataModule of one's own that declares nothing: the evaluation goes by its shape."""

    def __init__(self, data_shape):
        self.data_shape = data_shape


@pytest.mark.parametrize(
    "data, metrics, message",
    [
        ("digits", ["modes"], r"metric 'modes' \(PacGAN's mode coverage\) needs a 2-D mixture: data Toy2DDataModule; "
                              r"DigitsDataModule allows fid, kid, is, classifier$"),
        ("toy", ["fid", "kid"], r"metrics \['fid', 'kid'\] need image data; Toy2DDataModule allows modes$"),
        ("toy", ["stacked"], r"needs data StackedDigitsDataModule; Toy2DDataModule allows modes$"),
        ("stacked", ["modes"], r"needs a 2-D mixture.*; StackedDigitsDataModule allows stacked, fid, kid, is, classifier$"),
        ("points", ["fid"], r"metrics \['fid'\] need image data; Undeclared declares no metric$"),
        ("declared_modes", None, r"no 'modes' and 'std' attributes"),
        ("bad_declaration", None, r"Undeclared.evaluation is a str; make it a lit_gans.metrics.spec.DataEvaluation"),
    ],
    ids=["modes_on_digits", "images_on_toy", "stacked_on_toy", "modes_on_stacked", "images_on_points",
         "modes_without_means", "not_a_declaration"],
)
def test_metrics_the_data_does_not_declare_are_one_clear_error(data, metrics, message):
    from datamodules import DigitsDataModule, StackedDigitsDataModule, Toy2DDataModule

    def declared(evaluation):
        dm = Undeclared((2,))
        dm.evaluation = evaluation
        return dm

    dm = {"digits": DigitsDataModule, "toy": Toy2DDataModule, "stacked": StackedDigitsDataModule,
          "points": lambda: Undeclared((2,)), "declared_modes": lambda: declared(DataEvaluation(default=("modes",))),
          "bad_declaration": lambda: declared("modes")}[data]()
    with pytest.raises(ConfigError, match=message):
        ModelEvaluation(dm, metrics=metrics)


def test_data_without_a_declaration_is_evaluated_by_its_shape(random_inception_weights):
    images = ModelEvaluation(Undeclared((3, 32, 32)), inception_weights=str(random_inception_weights))
    assert images.metrics == list(IMAGE_METRICS) and images.feature == "inception"
    assert ModelEvaluation(Undeclared((2,))).metrics == []
