"""Penalties as objects: their math against values by hand, and how the loop applies them (phase,
interval, the lazy scaling by the interval)."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import nn

from lit_gans.checkpoints import load_family
from lit_gans.errors import ConfigError
from lit_gans.families import GAN
from lit_gans.latent import LatentSpec
from lit_gans.loop import StepOutput
from lit_gans.penalties import R1, R2, Drift, GradientPenalty, PathLength, Penalty
from lit_gans.regularizers import orthogonal_penalty

from conftest import quiet_trainer
from test_loop import tiny_toy


class LinearCritic:
    """D(x) = w . x, whose input gradient is w everywhere."""

    def __init__(self, w):
        self.w = w

    def network(self, role):
        raise AssertionError

    def critic_fn(self, labels):
        return lambda x: x.flatten(1) @ self.w


def output(real, fake, **kw):
    return StepOutput(torch.zeros(()), real=real, fake=fake, **kw)


def test_gradient_penalties_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0])
    module, x = LinearCritic(w), torch.randn(8, 2)
    out = output(x, torch.randn(8, 2))
    assert torch.allclose(GradientPenalty(10.0)(module, out, None), torch.tensor((5.0 - 1) ** 2))
    assert torch.allclose(R1(gamma=10.0)(module, out, None), torch.tensor(25.0))
    assert R1(gamma=10.0).weight == 5.0 and R2(gamma=2.0).weight == 1.0  # gamma / 2
    from lit_gans.latent import Latent

    out.latent = Latent(torch.zeros(8, 1))
    assert torch.allclose(R2(gamma=1.0)(module, out, None), torch.tensor(25.0))


def test_drift_is_the_mean_squared_real_logit():
    out = StepOutput(torch.zeros(()), real_logits=torch.tensor([1.0, -3.0]))
    assert torch.allclose(Drift()(None, out, None), torch.tensor(5.0)) and Drift().weight == 0.001


def test_orthogonal_penalty_is_zero_for_orthogonal_rows_and_skips_vectors_and_embeddings():
    net = nn.Sequential(nn.Linear(4, 4, bias=True), nn.Embedding(3, 4))
    with torch.no_grad():
        net[0].weight.copy_(torch.linalg.qr(torch.randn(4, 4))[0] * 2)  # orthogonal rows of any norm
    assert orthogonal_penalty(net).abs() < 1e-4
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]))
    # W W^T off the diagonal: (1, 0) and (0, 1) entries are 1 -> sum of squares 2
    assert torch.allclose(orthogonal_penalty(net), torch.tensor(2.0))


def test_path_length_of_a_linear_generator_tracks_its_mean():
    class Module:
        latent_spec = LatentSpec(3)

        def __init__(self):
            self.g = nn.Linear(3, 4, bias=False)

        def network(self, role):
            return lambda w, labels: self.g(w)

    from lit_gans.latent import Latent

    module, penalty = Module(), PathLength(decay=0.5, batch_shrink=1)
    out = StepOutput(torch.zeros(()), latent=Latent(torch.randn(16, 3)))
    value = penalty(module, out, None)
    assert value >= 0 and penalty.mean > 0 and "mean" in penalty.state_dict()
    value.backward()
    assert module.g.weight.grad is not None


def test_penalty_arguments_are_checked():
    with pytest.raises(ConfigError, match="every=0 must be at least 1"):
        R1(every=0)
    with pytest.raises(ConfigError, match="weight=-1"):
        GradientPenalty(-1)


class Spy(Penalty):
    name = "spy"

    def __init__(self, every, phase=None):
        super().__init__(weight=0.5, every=every, phase=phase)
        self.calls = []

    def forward(self, module, out, batch):
        self.calls.append(module.steps.get(self.phase, 0))
        return out.loss.new_ones(())


def test_lazy_penalty_runs_every_k_steps_of_its_phase_scaled_by_k():
    weights = []

    class Recording(StepOutput):
        def add(self, name, value, weight=1.0):
            weights.append((name, weight))
            return super().add(name, value, weight)

    class Family(GAN):
        def discriminator_loss(self, batch):
            out = super().discriminator_loss(batch)
            return Recording(**vars(out))

    critic, generator = Spy(every=4), Spy(every=3, phase="generator")
    model, dm = tiny_toy(Family, max_g_steps=5, n_critic=2, penalties=[critic, generator])
    quiet_trainer().fit(model, dm)
    assert critic.calls == [0, 4, 8]  # of the 10 critic steps
    assert generator.calls == [0, 3]  # of the 5 generator steps
    assert weights == [("penalty/spy", 0.5 * 4)] * 3
    # what rebuilds it: its class and the arguments it was given
    assert model.hparams["penalties"][0] == {"class_path": "test_penalties.Spy", "init_args": {"every": 4, "phase": None}}


def test_a_penalty_for_a_phase_the_family_lacks_is_one_clear_error():
    model, dm = tiny_toy(GAN, max_g_steps=2, penalties=[R1(1.0, phase="critic")])
    with pytest.raises(ConfigError, match=r"joins phase 'critic', but GAN runs the phases \['discriminator', 'generator'\]"):
        quiet_trainer().fit(model, dm)


def test_shorthand_arguments_build_the_same_penalties():
    model, _ = tiny_toy(GAN, gradient_penalty=10.0, r1_gamma=2.0, r2_gamma=0.0)
    kinds = [(type(p).__name__, p.weight, p.every) for p in model.penalties]
    assert kinds == [("GradientPenalty", 10.0, 1), ("R1", 1.0, 1)]
    assert math.isclose(model.penalties[1].gamma, 2.0)


def test_penalties_may_change_on_resume_and_path_length_keeps_its_mean(tmp_path):
    model, dm = tiny_toy(GAN, max_g_steps=2, penalties=[PathLength(every=1)])
    trainer = quiet_trainer()
    trainer.fit(model, dm)
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    mean = float(model.penalties[0].mean)
    assert mean > 0
    loaded = load_family(tmp_path / "a.ckpt")  # the checkpoint rebuilds the listed penalties, state included
    assert [p.spec() for p in loaded.penalties] == [p.spec() for p in model.penalties]
    assert float(loaded.penalties[0].mean) == mean and loaded.penalties[0].every == 1
    same, _ = tiny_toy(GAN, max_g_steps=3, penalties=[PathLength(every=1)])
    seen = {}

    class Spy(L.Callback):
        def on_train_start(self, trainer, module):
            seen["mean"] = float(module.penalties[0].mean)

    quiet_trainer(callbacks=[Spy()]).fit(same, dm, ckpt_path=tmp_path / "a.ckpt")
    assert seen["mean"] == mean and same.g_step == 3
    for penalties in ([], [R1(1.0), PathLength(every=2)]):
        other, _ = tiny_toy(GAN, max_g_steps=3, penalties=penalties)
        quiet_trainer().fit(other, dm, ckpt_path=tmp_path / "a.ckpt")
        assert other.g_step == 3
