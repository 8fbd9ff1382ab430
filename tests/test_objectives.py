"""Adversarial objectives and critic regularisers checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from lit_gans.losses import OBJECTIVES, get_objective
from lit_gans.regularizers import (
    apply_spectral_norm,
    clip_weights,
    gradient_penalty,
    r1_penalty,
    r2_penalty,
)

# Small, asymmetric logits: swapping real and fake, or the sign of a term, changes every loss below.
REAL = [2.0, 0.5]
FAKE = [-2.0, 0.5]


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


def _log_sigmoid(x: float) -> float:
    return math.log(1.0 / (1.0 + math.exp(-x)))


def _log_one_minus_sigmoid(x: float) -> float:
    return math.log(1.0 - 1.0 / (1.0 + math.exp(-x)))


def _mean(xs):
    return sum(xs) / len(xs)


# ---------------------------------------------------------------- expected values, by hand

# BCE discriminator loss: -E[log D(x)] - E[log(1 - D(G(z)))], D = sigmoid(logit)
BCE_D = -_mean([_log_sigmoid(r) for r in REAL]) - _mean([_log_one_minus_sigmoid(f) for f in FAKE])
# minimax generator minimises E[log(1 - D(G(z)))] (a negative number)
MINIMAX_G = _mean([_log_one_minus_sigmoid(f) for f in FAKE])
# non-saturating generator minimises -E[log D(G(z))]
NON_SATURATING_G = -_mean([_log_sigmoid(f) for f in FAKE])

EXPECTED = {
    # name: (d_loss, g_loss)
    "minimax": (BCE_D, MINIMAX_G),
    "non_saturating": (BCE_D, NON_SATURATING_G),
    # d: E[f(G(z))] - E[f(x)] = (-2 + 0.5)/2 - (2 + 0.5)/2 = -0.75 - 1.25 = -2.0 ; g: -E[f(G(z))] = 0.75
    "wasserstein": (-2.0, 0.75),
    # d: 0.5 * mean((2-1)^2, (0.5-1)^2) + 0.5 * mean((-2)^2, 0.5^2) = 0.5*0.625 + 0.5*2.125 = 1.375
    # g: 0.5 * mean((-2-1)^2, (0.5-1)^2) = 0.5 * mean(9, 0.25) = 2.3125
    "least_squares": (1.375, 2.3125),
    # d: mean(relu(1-2), relu(1-0.5)) + mean(relu(1-2), relu(1+0.5)) = mean(0, 0.5) + mean(0, 1.5) = 0.25 + 0.75
    # g: -E[f(G(z))] = 0.75
    "hinge": (1.0, 0.75),
}


def test_hand_computed_bce_values_are_sane():
    # guard the by-hand numbers themselves: sigmoid(2) = 0.8808, sigmoid(0.5) = 0.6225, sigmoid(-2) = 0.1192
    assert BCE_D == pytest.approx(
        -(math.log(0.880797) + math.log(0.622459)) / 2 - (math.log(1 - 0.119203) + math.log(1 - 0.622459)) / 2,
        abs=1e-5,
    )
    assert MINIMAX_G < 0 < NON_SATURATING_G


def test_objective_registry_is_exactly_the_documented_five():
    assert set(OBJECTIVES) == set(EXPECTED)
    for name, objective in OBJECTIVES.items():
        assert objective.name == name
        assert get_objective(name) is objective


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_d_loss_matches_hand_computation(name):
    expected_d, _ = EXPECTED[name]
    loss = get_objective(name).d_loss(_t(REAL), _t(FAKE))
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(expected_d, abs=1e-9)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_g_loss_matches_hand_computation(name):
    _, expected_g = EXPECTED[name]
    loss = get_objective(name).g_loss(_t(FAKE))
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(expected_g, abs=1e-9)
    terms = get_objective(name).g_terms(_t(FAKE))  # per sample: each its own one-sample loss, their mean g_loss
    assert terms.shape == (len(FAKE),)
    assert terms.mean().item() == pytest.approx(expected_g, abs=1e-9)
    singles = [get_objective(name).g_loss(_t(FAKE)[i:i + 1]).item() for i in range(len(FAKE))]
    assert terms.tolist() == pytest.approx(singles, abs=1e-12)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_d_loss_is_not_symmetric_in_real_and_fake(name):
    # a swapped argument order inside an objective would make this pass the hand check by accident only
    # if real and fake were interchangeable; they are not for these logits.
    objective = get_objective(name)
    assert objective.d_loss(_t(FAKE), _t(REAL)).item() != pytest.approx(EXPECTED[name][0], abs=1e-6)


def test_bce_is_stable_for_large_logits():
    # softplus formulation: log(sigmoid(100)) ~ 0, no inf/nan for very confident critics
    d = get_objective("minimax").d_loss(torch.tensor([100.0, 100.0]), torch.tensor([-100.0, -100.0]))
    assert torch.isfinite(d) and d.item() == pytest.approx(0.0, abs=1e-6)
    g = get_objective("non_saturating").g_loss(torch.tensor([-100.0]))
    assert g.item() == pytest.approx(100.0, rel=1e-6)  # -log(sigmoid(-100)) = 100 + log(1 + e^-100)


def test_minimax_and_non_saturating_gradients_differ_where_expected():
    # At a confident critic (fake logit -5), minimax G gradient saturates, non-saturating does not.
    fake = torch.tensor([-5.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(get_objective("minimax").g_loss(fake), fake)
    (g_ns,) = torch.autograd.grad(get_objective("non_saturating").g_loss(fake), fake)
    s = 1 / (1 + math.exp(5.0))  # sigmoid(-5)
    # d/df [log(1 - sigmoid(f))] = -sigmoid(f); d/df [-log sigmoid(f)] = -(1 - sigmoid(f))
    assert g_mm.item() == pytest.approx(-s, rel=1e-5)
    assert g_ns.item() == pytest.approx(-(1 - s), rel=1e-5)


def test_unknown_objective_lists_valid_names():
    with pytest.raises(ValueError) as info:
        get_objective("nope")
    message = str(info.value)
    assert "'nope'" in message
    for name in EXPECTED:
        assert name in message


# ---------------------------------------------------------------- gradient penalty


class LinearCritic(nn.Module):
    """f(x) = w . flatten(x) + b; its input gradient is w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float64).flatten())
        self.b = nn.Parameter(torch.tensor(0.3, dtype=torch.float64))

    def forward(self, x):
        return x.flatten(1) @ self.w + self.b


def test_gradient_penalty_linear_critic_flat_inputs():
    torch.manual_seed(0)
    critic = LinearCritic([3.0, 4.0])  # ||w|| = 5 -> (5 - 1)^2 = 16
    real = torch.randn(5, 2, dtype=torch.float64)
    fake = torch.randn(5, 2, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake)
    assert gp.dim() == 0
    assert gp.item() == pytest.approx(16.0, abs=1e-9)


def test_gradient_penalty_linear_critic_image_inputs():
    torch.manual_seed(0)
    critic = LinearCritic(torch.full((1, 4, 4), 0.75))  # ||w|| = sqrt(16 * 0.5625) = 3 -> (3 - 1)^2 = 4
    real = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    fake = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(4.0, abs=1e-9)


def test_gradient_penalty_is_zero_for_unit_norm_critic():
    torch.manual_seed(0)
    critic = LinearCritic([0.6, -0.8])  # ||w|| = 1
    real = torch.randn(4, 2, dtype=torch.float64)
    fake = torch.randn(4, 2, dtype=torch.float64)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-12)
    img_critic = LinearCritic(torch.full((1, 4, 4), 0.25))  # ||w|| = 0.25 * 4 = 1
    real = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    fake = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    assert gradient_penalty(img_critic, real, fake).item() == pytest.approx(0.0, abs=1e-12)


def test_gradient_penalty_below_unit_norm_is_penalised_too():
    critic = LinearCritic([0.3, 0.4])  # ||w|| = 0.5 -> (0.5 - 1)^2 = 0.25 (two-sided penalty)
    real, fake = torch.zeros(2, 2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.25, abs=1e-12)


def test_gradient_penalty_evaluates_on_interpolates_with_one_eps_per_sample():
    seen = []

    def critic(x):
        seen.append(x)
        return 0.5 * x.flatten(1).pow(2).sum(1)  # gradient = x

    torch.manual_seed(1)
    real = torch.randn(6, 1, 2, 2, dtype=torch.float64)
    fake = torch.randn(6, 1, 2, 2, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake)
    (x_hat,) = seen
    # x_hat = eps * real + (1 - eps) * fake with one eps in [0, 1] per sample, shared by all its pixels
    ratio = (x_hat - fake) / (real - fake)
    eps = ratio.flatten(1)
    assert torch.allclose(eps, eps[:, :1].expand_as(eps), atol=1e-9)
    assert ((eps >= 0) & (eps <= 1)).all()
    assert eps[:, 0].std() > 0  # not one eps for the whole batch
    # and the penalty is then mean over samples of (||x_hat|| - 1)^2
    expected = (x_hat.detach().flatten(1).norm(dim=1) - 1).pow(2).mean()
    assert gp.item() == pytest.approx(expected.item(), abs=1e-9)


def test_gradient_penalty_on_identical_endpoints_uses_that_point():
    # real == fake makes x_hat independent of eps: quadratic critic, grad = x, ||x|| = 3 and 0.5
    real = torch.tensor([[3.0, 0.0], [0.0, 0.5]], dtype=torch.float64)
    gp = gradient_penalty(lambda x: 0.5 * x.pow(2).sum(1), real, real.clone())
    assert gp.item() == pytest.approx(((3 - 1) ** 2 + (0.5 - 1) ** 2) / 2, abs=1e-12)  # (4 + 0.25)/2


def test_gradient_penalty_backpropagates_into_critic_parameters():
    critic = LinearCritic([3.0, 4.0])
    real = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    gradient_penalty(critic, real, fake).backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * [0.6, 0.8] = [4.8, 6.4]
    assert torch.allclose(critic.w.grad, torch.tensor([4.8, 6.4], dtype=torch.float64), atol=1e-9)
    # the penalty is about the critic: samples are detached
    assert real.grad is None and fake.grad is None


# ---------------------------------------------------------------- R1 / R2


class QuadraticCritic(nn.Module):
    """f(x) = 0.5 * a * ||x||^2 per sample; its input gradient is a * x."""

    def __init__(self, a: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, x):
        return 0.5 * self.a * x.flatten(1).pow(2).sum(1)


def test_r1_penalty_quadratic_critic():
    critic = QuadraticCritic(3.0)
    real = torch.tensor([[1.0, 2.0], [3.0, 0.0]], dtype=torch.float64)  # ||x||^2 = 5, 9 -> mean 7
    r1 = r1_penalty(critic, real)
    assert r1.dim() == 0
    assert r1.item() == pytest.approx(9.0 * 7.0, abs=1e-9)  # a^2 * mean ||x||^2 = 63


def test_r1_penalty_image_shaped_inputs():
    critic = QuadraticCritic(2.0)
    real = torch.zeros(2, 1, 2, 2, dtype=torch.float64)
    real[0, 0] = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # ||x||^2 = 4
    real[1, 0] = torch.tensor([[0.0, 2.0], [0.0, 0.0]])  # ||x||^2 = 4
    real[1, 0, 1, 1] = 1.0  # ||x||^2 = 5
    # a^2 * mean(4, 5) = 4 * 4.5 = 18
    assert r1_penalty(critic, real).item() == pytest.approx(18.0, abs=1e-9)


def test_r2_penalty_quadratic_critic_on_fakes():
    critic = QuadraticCritic(0.5)
    fake = torch.tensor([[0.0, 1.0], [2.0, 2.0]], dtype=torch.float64)  # ||x||^2 = 1, 8 -> mean 4.5
    assert r2_penalty(critic, fake).item() == pytest.approx(0.25 * 4.5, abs=1e-9)  # 1.125


def test_r1_penalty_is_differentiable_wrt_critic_parameters():
    critic = QuadraticCritic(3.0)
    real = torch.tensor([[1.0, 2.0], [3.0, 0.0]], dtype=torch.float64)
    r1_penalty(critic, real).backward()
    # d/da (a^2 * 7) = 2 * a * 7 = 42 at a = 3; exists only if the input gradient kept its graph
    assert critic.a.grad is not None
    assert critic.a.grad.item() == pytest.approx(42.0, abs=1e-9)


def test_r2_penalty_is_differentiable_wrt_critic_parameters():
    critic = QuadraticCritic(0.5)
    fake = torch.tensor([[0.0, 1.0], [2.0, 2.0]], dtype=torch.float64)
    r2_penalty(critic, fake).backward()
    assert critic.a.grad.item() == pytest.approx(2 * 0.5 * 4.5, abs=1e-9)  # 4.5


def test_r1_penalty_does_not_touch_callers_tensor():
    real = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    r1_penalty(QuadraticCritic(1.0), real)
    assert not real.requires_grad and real.grad is None


# ---------------------------------------------------------------- weight clipping


def test_clip_weights_clamps_outside_and_keeps_inside():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -2.0], [0.01, 3.0]]))
        layer.bias.copy_(torch.tensor([-0.2, 0.7]))
    module = nn.Sequential(layer, nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        module[2].weight.copy_(torch.tensor([[-0.05, 0.1]]))
        module[2].bias.fill_(-9.0)
    clip_weights(module, 0.3)
    assert torch.equal(layer.weight, torch.tensor([[0.3, -0.3], [0.01, 0.3]]))
    assert torch.equal(layer.bias, torch.tensor([-0.2, 0.3]))
    assert torch.equal(module[2].weight, torch.tensor([[-0.05, 0.1]]))  # inside: untouched
    assert torch.equal(module[2].bias, torch.tensor([-0.3]))
    bound = torch.tensor(0.3)  # float32 0.3, as clamp_ sees it
    for p in module.parameters():
        assert (p.abs() <= bound).all()


def test_clip_weights_random_module_in_bound_and_inside_unchanged():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(3.0)
    before = [p.detach().clone() for p in module.parameters()]
    c = 0.5
    clip_weights(module, c)
    saw_clipped = saw_kept = False
    for b, p in zip(before, module.parameters()):
        assert (p >= -c).all() and (p <= c).all()
        inside = b.abs() <= c
        assert torch.equal(p[inside], b[inside])
        assert torch.equal(p[~inside], b[~inside].sign() * c)
        saw_clipped |= bool((~inside).any())
        saw_kept |= bool(inside.any())
    assert saw_clipped and saw_kept
    assert all(p.requires_grad for p in module.parameters())  # still trainable, clipped in place
    assert torch.equal(module[1].running_var, torch.ones(8))  # buffers are not parameters


# ---------------------------------------------------------------- spectral norm


def _effective_sigma(layer: nn.Module) -> float:
    w = layer.weight
    return torch.linalg.matrix_norm(w.flatten(1), ord=2).item()


def test_apply_spectral_norm_normalises_every_linear():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    with torch.no_grad():
        for layer in mlp:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(5.0)
    raw = [_effective_sigma(layer) for layer in mlp if isinstance(layer, nn.Linear)]
    assert all(s > 1.5 for s in raw)  # far from 1 before: the check below is not vacuous
    assert apply_spectral_norm(mlp) is mlp
    mlp.train()
    x = torch.randn(8, 4)
    for _ in range(20):
        mlp(x)
    mlp.eval()
    for layer in mlp:
        if isinstance(layer, nn.Linear):
            assert parametrize.is_parametrized(layer, "weight")
            assert abs(_effective_sigma(layer) - 1.0) < 0.05
            # the stored original weight is the unnormalised one
            assert abs(torch.linalg.matrix_norm(layer.parametrizations.weight.original, ord=2).item() - 1.0) > 0.5


def test_apply_spectral_norm_covers_convolutions():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.mul_(10.0)
    apply_spectral_norm(net)
    x = torch.randn(2, 1, 5, 5)
    for _ in range(20):
        net(x)
    for layer in (net[0], net[2]):
        assert abs(_effective_sigma(layer) - 1.0) < 0.05


def test_apply_spectral_norm_twice_does_not_double_wrap():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
    apply_spectral_norm(mlp)
    apply_spectral_norm(mlp)
    for layer in (mlp[0], mlp[2]):
        assert len(layer.parametrizations.weight) == 1
    # non-weight layers untouched
    assert not parametrize.is_parametrized(mlp[1])
    assert sum(1 for n, _ in mlp.named_parameters() if n.endswith("original")) == 2
