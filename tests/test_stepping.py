"""``lit_gans.stepping``: the loop's backward passes and optimizer steps go straight to what Lightning's
``manual_backward`` and ``LightningOptimizer.step`` end in where their layers do nothing for the run, train
exactly as through Lightning, and go through Lightning wherever a layer has work (a GradScaler, a hook,
a profiler)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision

import lit_gans.stepping as stepping
from datamodules import Toy2DDataModule
from lit_gans.families import GAN, WGANGP

from conftest import quiet_trainer

RING = dict(name="ring", n_samples=512, batch_size=32)


def fit(family=GAN, callbacks=(), max_g_steps=6, **trainer_kwargs):
    L.seed_everything(0)
    dm = Toy2DDataModule(**RING)
    model = family(data_shape=dm.data_shape, architecture="mlp", g_width=32, d_width=32, latent_dim=8,
                   max_g_steps=max_g_steps, **trainer_kwargs.pop("model", {}))
    trainer = quiet_trainer(callbacks=list(callbacks), **trainer_kwargs)
    trainer.fit(model, dm)
    return model, trainer


def lightning_only(monkeypatch):
    monkeypatch.setattr(stepping, "direct_steps_refused", lambda *args: "forced by the test")


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("family, model", [(GAN, {"ema_decay": 0.9, "n_critic": 2}), (WGANGP, {})])
def test_direct_steps_train_exactly_as_lightnings_calls_do(monkeypatch, precision, family, model):
    direct, direct_trainer = fit(family, precision=precision, model=model)
    assert direct._stepper.direct
    lightning_only(monkeypatch)
    through, through_trainer = fit(family, precision=precision, model=model)
    assert not through._stepper.direct
    assert (direct.g_step, direct.d_step) == (through.g_step, through.d_step)
    assert direct_trainer.global_step == through_trainer.global_step == direct.g_step + direct.d_step  # Lightning's count
    # its loops' progress (ready and completed steps: what a resumed run restores) alike
    progress = [{k: v for k, v in t.fit_loop.state_dict().items() if k.startswith("epoch_loop")} for t in (direct_trainer, through_trainer)]
    assert progress[0] == progress[1]
    for key, value in direct.state_dict().items():
        assert torch.equal(value, through.state_dict()[key]), key
    for mine, theirs in zip(direct_trainer.optimizers, through_trainer.optimizers):
        for index, state in mine.state_dict()["state"].items():
            for name, value in state.items():
                assert torch.equal(value, theirs.state_dict()["state"][index][name]), (index, name)


def test_16_mixed_goes_through_lightning_and_its_grad_scaler():
    # on a CPU Lightning swaps 16-mixed for bf16 unless given the plugin
    model, trainer = fit(plugins=[MixedPrecision("16-mixed", "cpu")])
    assert not model._stepper.direct
    assert "GradScaler" in stepping.direct_steps_refused(trainer, model, trainer.optimizers)
    assert trainer.precision_plugin.scaler._scale is not None  # the scaler scaled the losses
    assert model.g_step == 6 and all(torch.isfinite(p).all() for p in model.parameters())


class BackwardHooks(L.Callback):
    def __init__(self):
        self.calls = 0

    def on_after_backward(self, trainer, pl_module):
        self.calls += 1


class StepHooks(GAN):
    calls = 0

    def on_before_optimizer_step(self, optimizer):
        StepHooks.calls += 1


def test_a_callback_hook_on_backward_gets_lightnings_calls():
    hooks = BackwardHooks()
    model, trainer = fit(callbacks=[hooks])
    assert not model._stepper.direct
    assert "BackwardHooks overrides on_after_backward" in stepping.direct_steps_refused(trainer, model, trainer.optimizers)
    assert hooks.calls == model.g_step + model.d_step


def test_a_module_hook_on_the_step_gets_lightnings_calls():
    model, trainer = fit(StepHooks)
    assert not model._stepper.direct
    assert StepHooks.calls == trainer.global_step == model.g_step + model.d_step


def test_lightnings_profiler_sees_lightnings_calls():
    model, trainer = fit(profiler="simple")
    assert not model._stepper.direct
    assert "profiler" in stepping.direct_steps_refused(trainer, model, trainer.optimizers)
