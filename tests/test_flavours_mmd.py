"""The moment-matching flavours: GMMN, MMD GAN and Cramér GAN.

Their objectives against hand computations on small tensors (the unbiased MMD^2 against a direct double
sum for each kernel, the energy distance, Cramér GAN's critic and generator losses), the penalties on
MMD GAN's witness function and on Cramér GAN's critic, GMMN's absence of a critic, and GMMN covering
the ring (the digits learning runs are in tests/test_learning.py).
"""

from __future__ import annotations

import itertools
import math

import lightning as L
import pytest
import torch
from torch import nn

from datamodules import DigitsDataModule, Toy2DDataModule
from lit_gans.errors import ConfigError
from lit_gans.families._kernels import distance_kernel, energy_distance, gaussian_kernel, mmd2, witness
from lit_gans.families.cramer_gan import CramerGAN, cramer_critic, cramer_critic_loss, cramer_generator_loss
from lit_gans.families.gmmn import GMMN, gmmn_loss
from lit_gans.families.mmd_gan import MMDGAN, activation_l2, activations_of, make_kernel
from lit_gans.loop import Batch
from lit_gans.metrics import mode_coverage
from lit_gans.penalties import GradientPenalty

from conftest import quiet_trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------- kernels and distances, by hand
def _pair(a, b) -> float:
    return math.sqrt(sum((u - v) ** 2 for u, v in zip(a, b)))


HAND_KERNELS = {  # one pair of vectors (Python lists) -> k(a, b), written from the papers' formulas
    "gaussian": (lambda a, b: sum(math.exp(-_pair(a, b) ** 2 / (2 * s * s)) for s in (0.5, 1.0, 3.0)),
                 lambda x, y: gaussian_kernel(x, y, (0.5, 1.0, 3.0))),
    "rq": (lambda a, b: sum((1 + _pair(a, b) ** 2 / (2 * al)) ** -al for al in (0.2, 0.5, 1.0, 2.0, 5.0)),
           make_kernel("rq", (0.2, 0.5, 1.0, 2.0, 5.0), (1.0,))),
    "rq_linear": (lambda a, b: sum((1 + _pair(a, b) ** 2 / (2 * al)) ** -al for al in (0.2, 0.5, 1.0, 2.0, 5.0))
                  + sum(u * v for u, v in zip(a, b)),
                  make_kernel("rq_linear", (0.2, 0.5, 1.0, 2.0, 5.0), (1.0,))),
    "distance": (lambda a, b: -_pair(a, b), distance_kernel),
}


@pytest.mark.parametrize("name", sorted(HAND_KERNELS))
def test_unbiased_mmd2_is_the_double_sum_over_distinct_pairs(name):
    hand, kernel = HAND_KERNELS[name]
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 3, generator=g, dtype=torch.float64), 1.5 * torch.randn(4, 3, generator=g, dtype=torch.float64) + 0.3
    X, Y = x.tolist(), y.tolist()
    m, n = len(X), len(Y)
    xx = sum(hand(X[i], X[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(hand(Y[i], Y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(hand(a, b) for a in X for b in Y) / (m * n)
    assert mmd2(x, y, kernel).item() == pytest.approx(xx + yy - 2 * xy, abs=1e-6, rel=1e-6)
    biased = (sum(hand(a, b) for a, b in itertools.product(X, X)) / m**2
              + sum(hand(a, b) for a, b in itertools.product(Y, Y)) / n**2 - 2 * xy)
    assert mmd2(x, y, kernel, unbiased=False).item() == pytest.approx(biased, abs=1e-6, rel=1e-6)
    # float32, as training computes it, agrees to single precision
    assert mmd2(x.float(), y.float(), kernel).item() == pytest.approx(xx + yy - 2 * xy, abs=1e-4)


def test_energy_distance_is_computed_directly():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64) + 1
    X, Y = x.tolist(), y.tolist()
    between = sum(_pair(a, b) for a in X for b in Y) / (len(X) * len(Y))
    within_x = sum(_pair(X[i], X[j]) for i in range(6) for j in range(6) if i != j) / 30
    within_y = sum(_pair(Y[i], Y[j]) for i in range(5) for j in range(5) if i != j) / 20
    assert energy_distance(x, y).item() == pytest.approx(2 * between - within_x - within_y, abs=1e-9)
    # exact at a point and itself: zero distance, a finite gradient
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    energy_distance(z, torch.tensor([[0.0, 0.0], [0.0, 2.0]])).backward()
    assert torch.isfinite(z.grad).all()


def test_gmmn_loss_is_the_square_root_of_the_biased_mmd2():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(4, 1, 2, 2, generator=g, dtype=torch.float64), torch.randn(3, 1, 2, 2, generator=g, dtype=torch.float64)
    hand = HAND_KERNELS["gaussian"][0]
    X, Y = x.flatten(1).tolist(), y.flatten(1).tolist()
    value = (sum(hand(a, b) for a, b in itertools.product(X, X)) / 16 + sum(hand(a, b) for a, b in itertools.product(Y, Y)) / 9
             - 2 * sum(hand(a, b) for a, b in itertools.product(X, Y)) / 12)
    assert gmmn_loss(x, y, (0.5, 1.0, 3.0), square_root=False).item() == pytest.approx(value, abs=1e-9)
    assert gmmn_loss(x, y, (0.5, 1.0, 3.0)).item() == pytest.approx(math.sqrt(value), abs=1e-9)


def test_cramer_losses_by_hand():
    h_real = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    h_fake = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    h_fake2 = torch.tensor([[0.0, 4.0], [1.0, 1.0]])
    # f(x) = ||h(x) - h(x'_g)|| - ||h(x)||: real rows 3 - 5 = -2 and 1 - 1 = 0; fake rows 4 - 0 = 4 and 1 - 1 = 0
    assert cramer_critic(h_real, h_fake2).tolist() == [-2.0, 0.0]
    assert cramer_critic(h_fake, h_fake2).tolist() == [4.0, 0.0]
    # the critic minimises mean f(x_g) - mean f(x_r) = 2 - (-1)
    assert cramer_critic_loss(h_real, h_fake, h_fake2).item() == pytest.approx(3.0)
    # generator: rows 5 + 3 - 4 = 4 and sqrt(2) + 1 - 1
    assert cramer_generator_loss(h_real, h_fake, h_fake2).item() == pytest.approx((4 + math.sqrt(2)) / 2)
    # h(x_g) = 0 (a norm at the origin) has a finite gradient
    h = torch.zeros(2, 2, requires_grad=True)
    cramer_critic_loss(h_real, h, h_fake2).backward()
    assert torch.isfinite(h.grad).all()


# ---------------------------------------------------------------- penalties on the witness / the critic
class LinearCritic(nn.Module):
    """h(x) = W x, so the penalties' gradients have closed forms."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x, labels=None):
        return x.flatten(1) @ self.weight.t()


def _batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 2, generator=g))


def test_mmd_gan_penalty_is_on_the_witness_function():
    torch.manual_seed(0)
    model = MMDGAN(data_shape=(2,), architecture="mlp", latent_dim=2, g_width=8, d_width=8, features=3)
    weight = torch.tensor([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]])
    model.discriminator = LinearCritic(weight)
    model.kernel = lambda a, b: a @ b.t()  # linear: the witness is (W x) . (mean h(real) - mean h(fake))
    batch = _batch()
    out = model.discriminator_loss(batch)
    real_h, fake_h = batch.image @ weight.t(), out.fake @ weight.t()
    grad = weight.t() @ (real_h.mean(0) - fake_h.mean(0))  # the same at every interpolate
    expected = (grad.norm() - 1) ** 2
    assert model.penalties[0].weight == 1.0
    assert GradientPenalty(1.0)(model, out, batch).item() == pytest.approx(expected.item(), rel=1e-5)
    # with the paper's kernel: autograd's gradient of the witness against central differences (float64)
    model = MMDGAN(data_shape=(2,), architecture="mlp", latent_dim=2, g_width=8, d_width=8, features=3).double()
    model._reference = (model.features_of(batch.image.double()), model.features_of(out.fake.double()))
    f = model.critic_fn(None)
    x = torch.tensor([[0.3, -0.7]], dtype=torch.float64, requires_grad=True)
    (auto,) = torch.autograd.grad(f(x).sum(), x)
    real_h, fake_h = model._reference
    assert torch.allclose(f(x), witness(model.features_of(x), real_h, fake_h, model.kernel))
    for i in range(2):
        step = torch.zeros_like(x)
        step[0, i] = 1e-6
        numeric = (f(x + step) - f(x - step)).item() / 2e-6
        assert auto[0, i].item() == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_mmd_gan_activation_penalty_by_hand():
    torch.manual_seed(0)
    model = MMDGAN(data_shape=(2,), architecture="mlp", latent_dim=2, g_width=8, d_width=8, features=3,
                   activation_penalty=0.5)
    weight = torch.tensor([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]])
    model.discriminator = LinearCritic(weight)  # no activation layers: only the output's term
    model.kernel = lambda a, b: a @ b.t()
    batch = _batch()
    out = model.discriminator_loss(batch)
    real_h, fake_h = batch.image @ weight.t(), out.fake @ weight.t()
    expected = (real_h ** 2).mean(1).mean() + (fake_h ** 2).mean(1).mean()
    assert out.logs["penalty/activations"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.loss.item() == pytest.approx(out.logs["loss/d"].item() + 0.5 * expected.item(), rel=1e-5)
    # the MLP critic's three LeakyReLU outputs are recorded, once per call, and the hooks are gone afterwards
    critic = MMDGAN(data_shape=(2,), architecture="mlp", g_width=8, d_width=8).network("critic")
    x = torch.randn(4, 2)
    with activations_of(critic) as activations:
        critic(x, None)
    assert [tuple(a.shape) for a in activations] == [(4, 8)] * 3
    assert activation_l2([torch.tensor([[1.0, 3.0], [0.0, 2.0]])]).item() == pytest.approx((5 + 2) / 2)
    critic(x, None)
    assert len(activations) == 3
    assert MMDGAN(data_shape=(2,), architecture="mlp", activation_penalty=0).activation_penalty == 0
    with pytest.raises(ConfigError, match="activation_penalty=-1"):
        MMDGAN(data_shape=(2,), architecture="mlp", activation_penalty=-1)


def test_cramer_penalty_is_on_the_critic_f():
    torch.manual_seed(0)
    model = CramerGAN(data_shape=(2,), architecture="mlp", latent_dim=2, g_width=8, d_width=8, features=2)
    weight = torch.tensor([[1.0, 2.0], [0.5, -1.0]])
    model.discriminator = LinearCritic(weight)
    out = model.discriminator_loss(_batch())
    (h2,) = model._reference
    x = torch.tensor([[0.3, -0.7], [1.0, 2.0]])
    h = x @ weight.t()
    # f(x) = ||W x - h2|| - ||W x||: grad = W^T ((W x - h2) / ||W x - h2|| - W x / ||W x||)
    expected = ((h - h2[:2]) / (h - h2[:2]).norm(dim=1, keepdim=True) - h / h.norm(dim=1, keepdim=True)) @ weight
    model._reference = (h2[:2],)
    xg = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(model.critic_fn(None)(xg).sum(), xg)
    assert torch.allclose(auto, expected, atol=1e-6)
    assert [p.weight for p in model.penalties] == [10.0]
    # the penalty the loop adds: (||grad f|| - 1)^2 at interpolates of the step's real and first fake batch
    model._reference = (h2,)
    torch.manual_seed(3)
    value = GradientPenalty(1.0)(model, out, _batch())
    torch.manual_seed(3)
    eps = torch.rand(6, 1)
    x_hat = eps * out.real + (1 - eps) * out.fake
    h = x_hat @ weight.t()
    grads = ((h - h2) / (h - h2).norm(dim=1, keepdim=True) - h / h.norm(dim=1, keepdim=True)) @ weight
    assert value.item() == pytest.approx((grads.norm(dim=1) - 1).pow(2).mean().item(), rel=1e-5)


# ---------------------------------------------------------------- GMMN has no critic
def test_gmmn_has_no_critic_and_samples_from_its_checkpoint(tmp_path, capsys):
    from lit_gans.cli import main

    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = GMMN(data_shape=dm.data_shape, num_classes=dm.num_classes, g_width=8, d_width=8, max_g_steps=3,
                 ema_decay=0.9)
    assert model.network_names == ("generator",) and not hasattr(model, "discriminator")
    trainer = quiet_trainer(limit_train_batches=5)
    trainer.fit(model, dm)
    assert (model.g_step, model.d_step, model.batches) == (3, 0, 3)  # one generator step per batch
    ckpt = tmp_path / "gmmn.ckpt"
    trainer.save_checkpoint(ckpt)
    state = torch.load(ckpt, weights_only=True)
    assert {k.split(".")[0] for k in state["state_dict"]} == {"generator", "ema_generator", "fixed_z", "fixed_labels"}
    assert len(state["optimizer_states"]) == 1
    assert main(["sample", "--ckpt", str(ckpt), "--n", "20", "--out", str(tmp_path / "x.pt")]) == 0
    assert "wrote 20 samples of GMMN (g_step 3, EMA generator)" in capsys.readouterr().out
    assert torch.load(tmp_path / "x.pt").shape == (20, 1, 16, 16)


@pytest.mark.parametrize("bad", [dict(spectral_norm=True), dict(gradient_penalty=10.0), dict(r1_gamma=1.0),
                                 dict(n_critic=5), dict(pack=2), dict(clip_value=0.01), dict(bandwidths=[1.0, 0.0]),
                                 dict(penalties=[{"class_path": "lit_gans.penalties.R1"}])])
def test_gmmn_refuses_a_critics_settings(bad):
    with pytest.raises(ConfigError, match="model\\.(" + "|".join(bad) + ")"):
        GMMN(data_shape=(2,), architecture="mlp", **bad)


@pytest.mark.parametrize("family, bad, match", [
    (MMDGAN, dict(kernel="laplace"), "model.kernel='laplace'"),
    (MMDGAN, dict(alphas=[]), "model.alphas"),
    (MMDGAN, dict(features=0), "model.features=0"),
    (CramerGAN, dict(architecture="resnet"), "model.architecture='resnet'"),
    (CramerGAN, dict(conditional=True, num_classes=10), "unconditional"),
])
def test_feature_critics_refuse_bad_values(family, bad, match):
    with pytest.raises(ConfigError, match=match.replace(".", "\\.").replace("[", "\\[")):
        family(data_shape=(1, 16, 16), **bad)


def test_feature_critics_return_feature_vectors():
    for family, k in ((MMDGAN, 16), (CramerGAN, 256)):
        for architecture, shape in (("mlp", (2,)), ("dcgan", (1, 16, 16))):
            model = family(data_shape=shape, architecture=architecture, g_width=8, d_width=8)
            assert model.features == k
            assert model.features_of(torch.randn(4, *shape)).shape == (4, k)
    packed = MMDGAN(data_shape=(2,), architecture="mlp", g_width=8, d_width=8, pack=2)
    assert packed.features_of(torch.randn(6, 2)).shape == (3, 16)


# ---------------------------------------------------------------- learning
def _ring_coverage(model, dm):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        return mode_coverage(model.sample(2500), dm.modes, dm.std)


GMMN_RING_STEPS = 150  # 8 modes of 8 at 150 steps (about 6 s on a busy core)


def test_gmmn_learns_the_ring():
    L.seed_everything(0)
    dm = Toy2DDataModule(name="ring", n_samples=20_000, batch_size=256)
    model = GMMN(data_shape=dm.data_shape, architecture="mlp", g_width=64, latent_dim=2,
                 bandwidths=[0.02, 0.05, 0.1, 0.2, 0.5, 1.0], max_g_steps=GMMN_RING_STEPS)
    before = _ring_coverage(model, dm)
    quiet_trainer().fit(model, dm)
    after = _ring_coverage(model, dm)
    assert after["modes"] > before["modes"] and after["modes"] >= 6, (before, after)


def test_inpainting_a_critic_free_family_needs_prior_weight_zero():
    from lit_gans.latent import center_mask, inpaint

    model = GMMN(data_shape=(1, 8, 8), g_width=8)
    image = torch.rand(2, 1, 8, 8) * 2 - 1
    mask = center_mask(image.shape[1:], 0.5)
    with pytest.raises(ConfigError, match="no critic to score the prior term"):
        inpaint(model, image, mask, steps=1)
    result = inpaint(model, image, mask, steps=3, prior_weight=0.0)
    assert result.filled.shape == image.shape and len(result.losses) == 3
