"""McGAN, Fisher GAN and Relaxed WGAN: their objectives against hand computations on tiny tensors, Fisher's
multiplier in checkpoints (the digits learning runs are in tests/test_learning.py)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from datamodules import DigitsDataModule, Toy2DDataModule
from lit_gans.errors import ConfigError
from lit_gans.families.fisher_gan import (FisherGAN, fisher_constraint, fisher_ipm_estimate, fisher_lagrangian,
                                          multiplier_step)
from lit_gans.families.mcgan import (FeatureProjections, McGAN, covariance_matching_dual, mean_matching_dual,
                                     mean_matching_primal, project_to_dual_ball, stiefel_retraction)
from lit_gans.families.relaxed_wgan import (RelaxedWGAN, bregman_cost_matrix, bregman_violation, c_transform,
                                            kl_bregman_cost, relaxed_wasserstein_dual)
from lit_gans.loop import Batch

from conftest import quiet_trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# features of two real and two fake samples (m = 2)
REAL = torch.tensor([[1.0, 2.0], [3.0, 0.0]])  # mean (2, 1)
FAKE = torch.tensor([[0.0, 1.0], [-2.0, 1.0]])  # mean (-1, 1)


# ---------------------------------------------------------------- McGAN
def test_mean_matching_against_hand_computation():
    # mu_P - mu_Q = (3, 0): ||.||_2 = 3, ||.||_1 = 3; with v = (0.6, 0.8): <v, (3, 0)> = 1.8
    assert mean_matching_primal(REAL, FAKE, 2) == pytest.approx(3.0)
    assert mean_matching_primal(REAL + torch.tensor([0.0, 4.0]), FAKE, 2) == pytest.approx(5.0)  # (3, 4)
    assert mean_matching_primal(REAL + torch.tensor([0.0, -4.0]), FAKE, 1) == pytest.approx(7.0)  # |3| + |-4|
    assert mean_matching_dual(REAL, FAKE, torch.tensor([0.6, 0.8])) == pytest.approx(1.8)
    # the dual's maximum over the unit l2 ball is the primal norm, at v = (mu_P - mu_Q) / ||mu_P - mu_Q||
    assert mean_matching_dual(REAL, FAKE, torch.tensor([1.0, 0.0])) == pytest.approx(3.0)


def test_dual_ball_projection():
    assert torch.allclose(project_to_dual_ball(torch.tensor([3.0, 4.0]), 2), torch.tensor([0.6, 0.8]))
    assert torch.equal(project_to_dual_ball(torch.tensor([0.3, 0.4]), 2), torch.tensor([0.3, 0.4]))  # inside: kept
    assert torch.equal(project_to_dual_ball(torch.tensor([3.0, -0.5]), 1), torch.tensor([1.0, -0.5]))  # l-inf box


def test_covariance_matching_against_hand_computation():
    u = torch.tensor([[1.0], [0.0]])  # k = 1: f(x) = Phi_1(x) * Phi_2(x) with v = (0, 1)
    w = torch.tensor([[0.0], [1.0]])
    # E_P Phi1 Phi2 = (1*2 + 3*0) / 2 = 1; E_Q = (0*1 + -2*1) / 2 = -1
    assert covariance_matching_dual(REAL, FAKE, u, w) == pytest.approx(2.0)
    # U = V = e1: E_P Phi1^2 - E_Q Phi1^2 = (1 + 9) / 2 - (0 + 4) / 2 = 3
    assert covariance_matching_dual(REAL, FAKE, u, u) == pytest.approx(3.0)
    # trace(U^T (Sigma_P - Sigma_Q) V) with the uncentred covariances
    sigma = REAL.T @ REAL / 2 - FAKE.T @ FAKE / 2
    a, b = stiefel_retraction(torch.randn(2, 2)), stiefel_retraction(torch.randn(2, 2))
    assert covariance_matching_dual(REAL, FAKE, a, b) == pytest.approx(float(torch.trace(a.T @ sigma @ b)), abs=1e-5)


def test_stiefel_retraction_gives_orthonormal_columns_and_keeps_them():
    a = stiefel_retraction(torch.randn(6, 3))
    assert torch.allclose(a.T @ a, torch.eye(3), atol=1e-5)
    assert torch.allclose(stiefel_retraction(a), a, atol=1e-5)  # the sign fix: a fixed point


def test_mcgan_critic_value_and_constraints_after_a_step():
    proj = FeatureProjections(2, q=2, components=1)
    with torch.no_grad():
        proj.v.copy_(torch.tensor([0.6, 0.8]))
        proj.u.copy_(torch.tensor([[1.0], [0.0]]))
        proj.w.copy_(torch.tensor([[0.0], [1.0]]))
    # f = <v, Phi> + Phi1 Phi2: E_P f - E_Q f = 1.8 + 2
    with torch.no_grad():
        assert float(proj(REAL).mean() - proj(FAKE).mean()) == pytest.approx(3.8)
    with torch.no_grad():
        proj.v.mul_(10)
        proj.u.add_(1.0)
    proj.project()
    assert float(proj.v.norm()) == pytest.approx(1.0)
    assert float(proj.u.norm()) == pytest.approx(1.0)


def test_mcgan_training_keeps_phi_clipped_and_v_on_the_ball():
    dm = Toy2DDataModule(name="ring", n_samples=512, batch_size=64)
    model = McGAN(data_shape=dm.data_shape, architecture="mlp", latent_dim=2, g_width=16, d_width=16, features=8,
                  components=2, max_g_steps=2, d_optimizer=lambda p: torch.optim.SGD(p, lr=1.0))
    quiet_trainer().fit(model, dm)
    assert max(float(p.abs().max()) for p in model.network("critic").parameters()) <= 0.01
    proj = model.network("projections")
    assert float(proj.v.norm()) <= 1 + 1e-5
    assert torch.allclose(proj.u.T @ proj.u, torch.eye(2), atol=1e-4)
    # the critic loss is minus the dual objective of f = <v, Phi> + <U^T Phi, V^T Phi>
    batch = Batch.of(next(iter(dm.train_dataloader())), dm.batch_fields)
    out = model.discriminator_loss(batch)
    phi_real, phi_fake = out.real_aux, out.fake_aux
    expected = mean_matching_dual(phi_real, phi_fake, proj.v) + covariance_matching_dual(phi_real, phi_fake, proj.u, proj.w)
    assert float(out.loss) == pytest.approx(-float(expected), abs=1e-6)
    assert float(out.logs["mcgan/ipm_mean"]) == pytest.approx(float(mean_matching_primal(phi_real, phi_fake)), abs=1e-6)


# ---------------------------------------------------------------- Fisher GAN
def test_fisher_terms_against_hand_computation():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    assert fisher_ipm_estimate(real, fake) == pytest.approx(3.0)  # 2 - (-1)
    assert fisher_constraint(real, fake) == pytest.approx(3.5)  # 0.5 * ((1 + 9) / 2 + (0 + 4) / 2)
    lagrangian, constraint = fisher_lagrangian(real, fake, torch.tensor(0.5), rho=2.0)
    assert constraint == pytest.approx(-2.5)  # 1 - 3.5
    assert lagrangian == pytest.approx(3.0 + 0.5 * -2.5 - 2.0 / 2 * 6.25)  # -4.5
    # lambda <- lambda - rho dL/dlambda, and dL/dlambda is the constraint
    multiplier = torch.tensor(0.5, requires_grad=True)
    value, _ = fisher_lagrangian(real, fake, multiplier, rho=2.0)
    value.backward()
    assert multiplier.grad == pytest.approx(-2.5)
    assert multiplier_step(torch.tensor(0.5), constraint, rho=2.0) == pytest.approx(5.5)  # 0.5 - 2 * -2.5


def test_fisher_critic_step_updates_lambda_by_the_rule():
    dm = Toy2DDataModule(name="ring", n_samples=512, batch_size=64)
    model = FisherGAN(data_shape=dm.data_shape, architecture="mlp", latent_dim=2, g_width=16, d_width=16, rho=0.5,
                      max_g_steps=1)
    seen = []
    original = model.discriminator_loss

    def recording(batch):
        out = original(batch)
        seen.append((float(model.multiplier), float(1 - out.logs["fisher/omega"])))
        assert float(out.loss) == pytest.approx(-float(fisher_lagrangian(out.real_logits, out.fake_logits,
                                                                          model.multiplier, 0.5)[0]), abs=1e-6)
        return out

    model.discriminator_loss = recording
    quiet_trainer().fit(model, dm)
    assert len(seen) == 2  # n_critic = 2 critic steps before the one generator step
    (lam0, c0), (lam1, c1) = seen
    assert lam0 == 0.0
    assert lam1 == pytest.approx(lam0 - 0.5 * c0, rel=1e-5)
    assert float(model.multiplier) == pytest.approx(lam1 - 0.5 * c1, rel=1e-5)


def test_fisher_lambda_is_saved_in_and_restored_from_a_checkpoint(tmp_path):
    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = FisherGAN(data_shape=dm.data_shape, g_width=8, d_width=8, rho=0.1, max_g_steps=3)
    trainer = quiet_trainer(limit_train_batches=10)
    trainer.fit(model, dm)
    assert float(model.multiplier) != 0.0
    trainer.save_checkpoint(tmp_path / "fisher.ckpt")
    state = torch.load(tmp_path / "fisher.ckpt", weights_only=False)
    assert torch.equal(state["state_dict"]["multiplier"], model.multiplier)
    restored = FisherGAN.load_from_checkpoint(tmp_path / "fisher.ckpt")
    assert float(restored.multiplier) == float(model.multiplier)


# ---------------------------------------------------------------- Relaxed WGAN
def test_kl_bregman_cost_against_hand_computation():
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 1.0]])
    # sum x log(x / y) - x + y = 1 log(1/2) - 1 + 2 + 2 log 2 - 2 + 1 = log 2
    assert kl_bregman_cost(x, y) == pytest.approx(math.log(2))
    # the Bregman divergence of phi(u) = sum u log u, from its definition
    phi = lambda u: (u * u.log()).sum()  # noqa: E731
    a, b = torch.tensor([0.3, 0.9, 0.5]), torch.tensor([0.6, 0.2, 0.5])
    direct = phi(a) - phi(b) - ((b.log() + 1) * (a - b)).sum()
    assert kl_bregman_cost(a[None], b[None]) == pytest.approx(float(direct), abs=1e-6)
    assert kl_bregman_cost(a[None], a[None]) == pytest.approx(0.0, abs=1e-7)


def test_bregman_cost_matrix_against_the_pairwise_definition():
    torch.manual_seed(0)
    x, y = torch.rand(3, 2, 2) + 0.1, torch.rand(4, 2, 2) + 0.1
    kl = bregman_cost_matrix(x, y, "kl")
    euclid = bregman_cost_matrix(x, y, "squared_euclidean")
    for i in range(3):
        for j in range(4):
            assert kl[i, j] == pytest.approx(float(kl_bregman_cost(x[i:i + 1], y[j:j + 1])), abs=1e-5)
            assert euclid[i, j] == pytest.approx(float(((x[i] - y[j]) ** 2).sum() / 2), abs=1e-5)


def test_c_transform_and_dual_against_hand_computation():
    cost = torch.tensor([[1.0, 4.0], [3.0, 0.5]])  # C[i, j]: real i to fake j
    f = torch.tensor([0.5, -1.0])
    # f^c(y_0) = min(1 - 0.5, 3 + 1) = 0.5; f^c(y_1) = min(4 - 0.5, 0.5 + 1) = 1.5
    assert c_transform(f, cost).tolist() == pytest.approx([0.5, 1.5])
    assert relaxed_wasserstein_dual(f, cost) == pytest.approx(-0.25 + 1.0)
    # f(x_i) + f^c(y_j) <= C[i, j] for every pair
    assert bool((f[:, None] + c_transform(f, cost)[None, :] <= cost + 1e-6).all())
    # a single critic's violations of f(x) - f(y) <= D(x, y) (dual: clip): 1.5 - 1 = 0.5 counts, 1.5 - 2 does not
    assert bregman_violation(torch.tensor([0.5, 1.5]), torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])) == pytest.approx(0.25)


def test_the_dual_at_its_best_potential_is_the_relaxed_wasserstein_distance():
    """Between two batches of 4 the distance is the cheapest one-to-one transport (brute force over the 24
    permutations); the dual ascended over a free potential reaches it and never exceeds it."""
    torch.manual_seed(1)
    x, y = torch.rand(4, 3) + 0.05, torch.rand(4, 3) + 0.05
    cost = bregman_cost_matrix(x, y, "kl")
    exact = min(sum(float(cost[i, j]) for i, j in enumerate(p)) for p in itertools.permutations(range(4))) / 4
    f = torch.zeros(4, requires_grad=True)
    optimizer = torch.optim.Adam([f], lr=0.01)
    for _ in range(3000):
        optimizer.zero_grad()
        value = relaxed_wasserstein_dual(f, cost)
        assert float(value.detach()) <= exact + 1e-5  # weak duality
        (-value).backward()
        optimizer.step()
    assert float(relaxed_wasserstein_dual(f, cost)) == pytest.approx(exact, abs=2e-3)


def test_relaxed_wgan_c_transform_trains_its_potential_and_generator_on_the_distance():
    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = RelaxedWGAN(data_shape=dm.data_shape, g_width=8, d_width=8, n_critic=1, max_g_steps=3)
    assert model.dual == "c_transform" and model.bregman == "kl" and model.clip_range is None
    dm.setup("fit")
    batch = Batch(next(iter(dm.train_dataloader()))[0])
    out = model.discriminator_loss(batch)
    # the critic's loss is minus the batch dual, computed from the potential on the real batch and the KL cost
    fake = out.fake
    cost = bregman_cost_matrix((batch.image + 1) / 2 + 1e-3, (fake + 1) / 2 + 1e-3, "kl")
    assert float(out.loss) == pytest.approx(-float(relaxed_wasserstein_dual(out.real_logits, cost)), rel=1e-4)
    # the generator's loss reaches its parameters only through the cost (the potential is fixed)
    g_out = model.generator_loss(batch)
    g_out.loss.backward()
    assert all(p.grad is None for p in model.network("critic").parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.network("generator").parameters())
    model.zero_grad(set_to_none=True)
    quiet_trainer(limit_train_batches=6).fit(model, dm)
    assert model.g_step == 3 and math.isfinite(float(model._logs["rwgan/distance"]))


def test_relaxed_wgan_clips_to_its_asymmetric_box_and_logs_the_kl_cost():
    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = RelaxedWGAN(data_shape=dm.data_shape, g_width=8, d_width=8, dual="clip", clip_range=(-0.02, 0.005),
                        max_g_steps=1, d_optimizer=lambda p: torch.optim.SGD(p, lr=1.0))
    quiet_trainer(limit_train_batches=5).fit(model, dm)
    weights = torch.cat([p.flatten() for p in model.network("critic").parameters()])
    assert float(weights.max()) <= 0.005 and float(weights.min()) >= -0.02
    assert float(weights.min()) < -0.005  # the box is not symmetric
    assert float(model._logs["rwgan/kl_cost"]) > 0


def test_relaxed_wgan_refuses_inconsistent_settings():
    shape = DigitsDataModule(image_size=16).data_shape
    with pytest.raises(ConfigError, match="clip_range"):
        RelaxedWGAN(data_shape=shape, dual="clip", clip_range=(0.01, -0.01))
    with pytest.raises(ConfigError, match="dual=clip needs model.clip_range"):
        RelaxedWGAN(data_shape=shape, dual="clip")
    with pytest.raises(ConfigError, match="is for model.dual=clip"):
        RelaxedWGAN(data_shape=shape, clip_range=(-0.01, 0.01))
    with pytest.raises(ConfigError, match="model.dual='sinkhorn'"):
        RelaxedWGAN(data_shape=shape, dual="sinkhorn")
    with pytest.raises(ConfigError, match="model.conditional"):
        RelaxedWGAN(data_shape=shape, num_classes=10, conditional=True)
    with pytest.raises(ConfigError, match="squared_euclidean"):
        RelaxedWGAN(data_shape=(2,), architecture="mlp")  # 2-D points may be negative: no KL cost
    RelaxedWGAN(data_shape=(2,), architecture="mlp", bregman="squared_euclidean")


# ---------------------------------------------------------------- configuration errors
def test_bad_values_are_named():
    with pytest.raises(ConfigError, match="model.q=3"):
        McGAN(data_shape=(2,), architecture="mlp", q=3)
    with pytest.raises(ConfigError, match="model.components=9"):
        McGAN(data_shape=(2,), architecture="mlp", features=8, components=9)
    with pytest.raises(ConfigError, match="model.rho=0"):
        FisherGAN(data_shape=(2,), architecture="mlp", rho=0)
    with pytest.raises(ConfigError, match="objective"):
        FisherGAN(data_shape=(2,), architecture="mlp", objective="hinge")
