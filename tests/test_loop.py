"""The adversarial loop in the base module: step counts, EMA, regularisers, non-finite losses,
resume, checkpoints and sampling."""

from __future__ import annotations

import warnings

import lightning as L
import pytest
import torch

from datamodules import DigitsDataModule, Toy2DDataModule
from lit_gans.callbacks import GeneratorStepCheckpoint
from lit_gans.checkpoints import load_family
from lit_gans.ema import ema_decay_at, ema_of, update_ema
from lit_gans.errors import CheckpointError, ConfigError, NonFiniteLossError
from lit_gans.families import CGAN, DCGAN, GAN, WGAN, WGANGP
from lit_gans.guards import PendingLosses

from conftest import quiet_trainer

RING = dict(name="ring", n_samples=2048, batch_size=64)


def tiny_toy(cls=GAN, **kwargs):
    dm = Toy2DDataModule(**RING)
    kwargs = {"architecture": "mlp", "g_width": 32, "d_width": 32, "latent_dim": 8, **kwargs}
    return cls(data_shape=dm.data_shape, num_classes=dm.num_classes, **kwargs), dm


def test_max_g_steps_counts_generator_iterations():
    model, dm = tiny_toy(WGANGP, max_g_steps=4)
    trainer = quiet_trainer()
    trainer.fit(model, dm)
    assert (model.g_step, model.d_step) == (4, 20)  # n_critic = 5 critic steps per generator step
    assert trainer.global_step == 24  # Lightning counts both optimizers' steps (issue 17958)


def test_each_critic_step_sees_a_fresh_batch():
    seen = []

    class Spy(WGAN):
        def discriminator_loss(self, batch):
            seen.append(batch.image.clone())
            return super().discriminator_loss(batch)

    model, dm = tiny_toy(Spy, max_g_steps=2)
    quiet_trainer().fit(model, dm)
    assert len(seen) == 10
    assert all(not torch.equal(seen[i], seen[i + 1]) for i in range(len(seen) - 1))


def test_weight_clipping_bounds_the_critic():
    model, dm = tiny_toy(WGAN, max_g_steps=2, clip_value=0.01)
    quiet_trainer().fit(model, dm)
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) <= 0.01 + 1e-7


def test_generator_and_critic_update_only_on_their_own_step():
    model, dm = tiny_toy(GAN, max_g_steps=1, n_critic=2)
    g0 = [p.clone() for p in model.generator.parameters()]
    d0 = [p.clone() for p in model.discriminator.parameters()]

    class Check(L.Callback):
        def on_train_batch_end(self, trainer, module, *args):
            if module.d_step == 1:  # after one critic step, no generator step yet
                assert all(torch.equal(a, b) for a, b in zip(g0, module.generator.parameters()))
                assert not all(torch.equal(a, b) for a, b in zip(d0, module.discriminator.parameters()))

    quiet_trainer(callbacks=[Check()]).fit(model, dm)
    assert not all(torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))


def test_ema_averages_generator_weights():
    model, dm = tiny_toy(GAN, max_g_steps=20, ema_decay=0.9, ema_start=5)
    quiet_trainer().fit(model, dm)
    ema = dict(model.ema_generator.module.named_parameters())
    gen = dict(model.generator.named_parameters())
    gaps = [float((ema[k] - gen[k]).detach().abs().max()) for k in gen]
    assert max(gaps) > 0  # averaging, not copying
    assert int(model.ema_generator.n_averaged) == 15 + 1  # copies until ema_start, then averages
    # samples come from the EMA copy by default
    z = torch.randn(4, 8)
    assert torch.allclose(model.sample(4, z=z), model.ema_generator.module.eval()(z))


def test_ema_before_start_copies_the_generator():
    model, dm = tiny_toy(GAN, max_g_steps=3, ema_decay=0.999, ema_start=100)
    quiet_trainer().fit(model, dm)
    for a, b in zip(model.ema_generator.module.parameters(), model.generator.parameters()):
        assert torch.equal(a, b)


def test_ema_rampup_shortens_the_early_half_life_only():
    # the half-life is rampup * step while that is shorter than decay's own (693 iterations for 0.999)
    assert ema_decay_at(0.999, 5000, None) == 0.999
    assert ema_decay_at(0.999, 100, 0.05) == pytest.approx(0.5 ** (1 / 5))
    assert ema_decay_at(0.999, 20_000, 0.05) == 0.999
    assert ema_decay_at(0.9, 1, 0.05) < 1e-5  # the first averaged steps all but copy G


def test_ema_rampup_follows_the_generator_early_in_a_run():
    """At decay 0.999 the average of a short run is still mostly its first weights; with the ramp-up it is near G.
    The raw generator is the same either way."""
    gaps, weights = {}, {}
    for rampup in (None, 0.05):
        L.seed_everything(0)
        model, dm = tiny_toy(GAN, max_g_steps=30, ema_decay=0.999, ema_rampup=rampup)
        quiet_trainer().fit(model, dm)
        pairs = zip(model.ema_generator.module.parameters(), model.generator.parameters())
        gaps[rampup] = max(float((a - b).detach().abs().max()) for a, b in pairs)
        weights[rampup] = [p.detach().clone() for p in model.generator.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(weights[None], weights[0.05]))
    assert gaps[0.05] < 0.5 * gaps[None]


def test_an_average_of_a_spectrally_normalised_layer_divides_by_its_own_spectral_norm():
    """In eval mode torch's spectral norm divides by u.W.v with its stored vectors, without iterating. Averaged
    vectors of a source whose top singular direction moves are short and wrongly placed: the average's layer
    then had a spectral norm of 1.76 here instead of 1 (in BigGAN's EMA, up to 8 times)."""
    torch.manual_seed(0)
    net = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(6, 6, bias=False))
    rotation, _ = torch.linalg.qr(torch.randn(6, 6))
    a = torch.diag(torch.tensor([3.0, 1, 1, 1, 1, 1]))
    b = rotation @ torch.diag(torch.tensor([2.5, 1, 1, 1, 1, 1])) @ rotation.T
    ema = ema_of(net, 0.9)
    for step in range(60):  # the source's weights alternate, its vectors follow them (train-mode forwards)
        with torch.no_grad():
            net.parametrizations.weight.original.copy_(a if step % 2 else b)
        for _ in range(20):
            net(torch.randn(2, 6))
        update_ema(ema, net, copy=step == 0)
    averaged = ema.module.eval()
    assert float(torch.linalg.matrix_norm(averaged.weight.detach(), 2)) == pytest.approx(1.0, abs=0.01)


def test_ema_rampup_must_be_positive():
    with pytest.raises(ConfigError, match="model.ema_rampup=0"):
        tiny_toy(GAN, ema_decay=0.999, ema_rampup=0)


def test_ema_leaves_training_unchanged():
    """The configs that add an EMA for sampling (AC-GAN, cGAN-PD on Fashion-MNIST) say training is the same
    without it: the networks' weights after training are bitwise those of a run without the average."""
    weights = []
    for ema_decay in (None, 0.9):
        L.seed_everything(0)
        model, dm = tiny_toy(GAN, max_g_steps=6, ema_decay=ema_decay)
        quiet_trainer().fit(model, dm)
        weights.append([p.detach().clone() for p in [*model.generator.parameters(), *model.discriminator.parameters()]])
    assert all(torch.equal(a, b) for a, b in zip(*weights))
    assert model.ema_generator is not None


def test_fixed_latents_survive_a_checkpoint(tmp_path):
    model, _ = tiny_toy(GAN)
    path = tmp_path / "m.pt"
    torch.save(model.state_dict(), path)
    other, _ = tiny_toy(GAN, seed=1)
    assert not torch.equal(other.fixed_z, model.fixed_z)
    other.load_state_dict(torch.load(path))
    assert torch.equal(other.fixed_z, model.fixed_z)


class Diverging(GAN):
    """A GAN whose critic loss turns NaN from generator step 3 on."""

    def discriminator_loss(self, batch):
        out = super().discriminator_loss(batch)
        if self.g_step >= 3:
            out.loss = out.loss * float("nan")
        return out


def test_non_finite_loss_stops_with_one_error_and_keeps_the_last_checkpoint(tmp_path):
    model, dm = tiny_toy(Diverging, max_g_steps=10)
    ckpt = GeneratorStepCheckpoint(every_n_g_steps=2, dirpath=str(tmp_path))
    with pytest.raises(NonFiniteLossError, match=r"discriminator loss became nan at generator step 3"):
        quiet_trainer(callbacks=[ckpt], enable_checkpointing=True).fit(model, dm)
    restored = GAN.load_from_checkpoint(tmp_path / "last.ckpt")
    assert restored.g_step == 2
    assert all(torch.isfinite(p).all() for p in restored.parameters())
    assert not list(tmp_path.glob("*.tmp*"))


def test_a_non_finite_loss_kept_on_the_device_stops_the_run_at_the_next_check(tmp_path):
    # as on an accelerator, where reading each loss would wait for the device: the NaN reaches the weights,
    # but the check before the next checkpoint stops the run, and the last checkpoint stays the good one
    class DivergingOnDevice(Diverging):
        read_losses_at_once = False

    model, dm = tiny_toy(DivergingOnDevice, max_g_steps=10)
    ckpt = GeneratorStepCheckpoint(every_n_g_steps=2, dirpath=str(tmp_path))
    with pytest.raises(NonFiniteLossError, match=r"the discriminator and generator loss became non-finite at or before generator step 4\. The last good checkpoint is .*g0000002"):
        quiet_trainer(callbacks=[ckpt], enable_checkpointing=True).fit(model, dm)
    assert GAN.load_from_checkpoint(tmp_path / "last.ckpt").g_step == 2
    with pytest.raises(NonFiniteLossError):  # and every later check, so nothing is written after it
        model.check_weights()


def test_losses_kept_on_the_device_are_folded_and_read_at_once():
    losses = PendingLosses()
    for i in range(150):
        losses.add("generator", torch.tensor(float(i)))
        losses.add("discriminator", torch.tensor(float("inf") if i == 100 else 1.0))
    assert all(len(pending) < PendingLosses.fold_every for pending in losses.pending.values())  # folded as they come
    assert losses.non_finite() == ["discriminator"]
    assert losses.non_finite() == ["discriminator"]  # kept once found
    fresh = PendingLosses()
    fresh.add("generator", torch.tensor(1.0))
    assert fresh.non_finite() == [] and not fresh.folded and not fresh.pending  # read, then forgotten


def test_resume_restores_steps_optimizer_and_ema(tmp_path):
    model, dm = tiny_toy(GAN, max_g_steps=6, ema_decay=0.5)
    ckpt = GeneratorStepCheckpoint(every_n_g_steps=3, dirpath=str(tmp_path), save_top_k=-1)
    quiet_trainer(callbacks=[ckpt], enable_checkpointing=True).fit(model, dm)
    first = tmp_path / "g0000003.ckpt"
    assert first.exists() and (tmp_path / "g0000006.ckpt").exists()

    seen = {}

    class AtStart(L.Callback):
        def on_train_start(self, trainer, module):
            g_opt, d_opt = module.optimizers()
            seen.update(
                g_step=module.g_step,
                d_step=module.d_step,
                g_adam_steps=int(next(iter(g_opt.optimizer.state.values()))["step"]),
                ema=int(module.ema_generator.n_averaged),
                ema_weight=next(module.ema_generator.module.parameters()).clone(),
            )

    resumed, _ = tiny_toy(GAN, max_g_steps=6, ema_decay=0.5)
    quiet_trainer(callbacks=[AtStart()]).fit(resumed, dm, ckpt_path=str(first))
    saved = torch.load(first, weights_only=True)
    assert seen["g_step"] == 3 and seen["d_step"] == 3
    assert seen["g_adam_steps"] == 3
    assert seen["ema"] == 3
    assert torch.equal(seen["ema_weight"], saved["state_dict"]["ema_generator.module.net.0.weight"])
    assert (resumed.g_step, resumed.d_step) == (6, 6)


def test_a_run_resumed_in_a_moved_folder_goes_on_writing_its_last_checkpoint(tmp_path):
    model, dm = tiny_toy(GAN, max_g_steps=2)
    quiet_trainer(callbacks=[GeneratorStepCheckpoint(every_n_g_steps=2, dirpath=str(tmp_path / "scratch"))],
                  enable_checkpointing=True).fit(model, dm)
    moved = tmp_path / "project"
    (tmp_path / "scratch").rename(moved)  # the checkpoint still names the old folder
    resumed, _ = tiny_toy(GAN, max_g_steps=4)
    with pytest.warns(UserWarning, match="dirpath has changed"):
        quiet_trainer(callbacks=[GeneratorStepCheckpoint(every_n_g_steps=2, dirpath=str(moved))],
                      enable_checkpointing=True).fit(resumed, dm, ckpt_path=str(moved / "last.ckpt"))
    assert sorted(p.name for p in moved.iterdir()) == ["g0000002.ckpt", "g0000004.ckpt", "last.ckpt"]
    assert load_family(moved / "last.ckpt").g_step == 4


def test_load_family_and_sample(tmp_path):
    model, dm = tiny_toy(CGAN, max_g_steps=2)
    trainer = quiet_trainer(enable_checkpointing=True, default_root_dir=str(tmp_path))
    trainer.fit(model, dm)
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    loaded = load_family(path)
    assert type(loaded) is CGAN and loaded.g_step == 2
    x = loaded.sample(5, labels=[0, 1, 2, 3, 4])
    assert x.shape == (5, 2)
    with pytest.raises(ConfigError, match="class indices"):
        loaded.sample(2, labels=[0, 99])


def test_corrupt_checkpoint_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_family(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_family(tmp_path / "missing.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(CheckpointError, match="not written by a lit-gans family"):
        load_family(tmp_path / "foreign.ckpt")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_critic=0), "n_critic=0 must be at least 1"),
        (dict(ema_decay=1.5), "ema_decay=1.5"),
        (dict(max_g_steps=0), "max_g_steps=0"),
        (dict(objective="wasserstien"), "objective='wasserstien' is unknown"),
        (dict(gradient_penalty=-1.0), "gradient_penalty=-1.0"),
    ],
)
def test_bad_values_are_one_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_toy(GAN, **kwargs)


def test_unconditional_sampling_rejects_labels():
    model, _ = tiny_toy(GAN)
    with pytest.raises(ConfigError, match="unconditional"):
        model.sample(2, labels=[0, 1])


def test_conditional_family_needs_labelled_data():
    with pytest.raises(ConfigError, match="num_classes=0"):
        CGAN(data_shape=(1, 16, 16), num_classes=0)


def test_image_samples_are_in_range():
    dm = DigitsDataModule(image_size=16)
    from lit_gans.families import DCGAN

    model = DCGAN(data_shape=dm.data_shape, g_width=8, d_width=8)
    x = model.sample(8)
    assert x.shape == (8, 1, 16, 16) and x.min() >= -1 and x.max() <= 1


def test_compiled_mode_trains_as_eager_mode_does():
    """``compile: true`` compiles the networks in place (Lightning's ``configure_model``). The ``eager``
    backend runs TorchDynamo's graph capture without generating code, so the test checks the plumbing
    (graphs through the loop's freezing of parameters, names in checkpoints) in seconds; the inductor
    backend is checked by ``bench/throughput.py --gpu`` and by hand on CPUs (README)."""
    runs = {}
    for compiled in (False, True):
        L.seed_everything(0)
        model, dm = tiny_toy(GAN, max_g_steps=3, ema_decay=0.5, compile=compiled, compile_options={"backend": "eager"})
        quiet_trainer().fit(model, dm)
        runs[compiled] = model
    assert runs[True].compile_options == {"backend": "eager"} and runs[False].compile_options is None
    assert "_compiled_call_impl" in vars(runs[True].generator) and runs[True].generator._compiled_call_impl is not None
    eager, compiled = runs[False].state_dict(), runs[True].state_dict()
    assert eager.keys() == compiled.keys()  # checkpoints of both modes load into either
    for key in eager:
        assert torch.allclose(eager[key].float(), compiled[key].float(), atol=1e-5), key


def test_cuda_graph_mode_marks_a_new_step_before_each_phase(monkeypatch):
    """With ``compile_options: {mode: reduce-overhead}`` (CUDA graphs) each phase starts a new step of the graph
    trees, so a graph's replay may overwrite the outputs of the phase before (the generator runs twice per
    iteration). The compilation itself is skipped here: this checks the marks, not the graphs."""
    from lit_gans.families.base import AdversarialModule

    marks = []
    monkeypatch.setattr(AdversarialModule, "configure_model", lambda self: None)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    model, _ = tiny_toy(GAN, max_g_steps=3, compile=True, compile_options={"mode": "reduce-overhead"})
    eager, dm = tiny_toy(GAN, max_g_steps=3, compile=True, compile_options={"mode": "max-autotune-no-cudagraphs"})
    quiet_trainer().fit(eager, dm)
    assert marks == []
    quiet_trainer().fit(model, dm)
    assert len(marks) == 6  # 3 critic steps and 3 generator steps


def test_batches_arrive_by_name_in_the_order_the_data_declares():
    from lit_gans.loop import Batch

    x, y, c = torch.zeros(3, 2), torch.arange(3), torch.ones(3, 2)
    assert Batch.of((x, y)).label is y and len(Batch.of((x, y))) == 3
    assert Batch.of((x, c, y), ("image", "condition", "label")).condition is c
    assert Batch.of({"image": x, "image_b": c}).image_b is c and Batch.of(x).label is None


def test_a_family_adds_a_phase_with_its_own_interval_without_touching_the_loop():
    """A third phase (here: an extra generator step on every 2nd generator step, as a lazily applied
    regulariser phase would run) needs only ``phases()``."""
    from lit_gans.loop import Phase

    class Extra(GAN):
        def phases(self):
            return super().phases() + [Phase("extra", ("generator",), self.generator_loss, every=2, of="generator")]

    model, dm = tiny_toy(Extra, max_g_steps=5, n_critic=2)
    quiet_trainer().fit(model, dm)
    assert model.steps == {"discriminator": 10, "generator": 5, "extra": 2}  # after generator steps 2 and 4
    assert model.batches == 10


def test_progress_bar_counts_are_logged_as_cpu_tensors(monkeypatch):
    # Lightning turns progress-bar values into numbers after every batch until they are next logged; on a
    # GPU a count logged as a float would become a tensor there, and every one of those batches would wait
    # for the device (the GPU test below)
    logged = []
    monkeypatch.setattr(GAN, "log_dict", lambda self, values, **kwargs: logged.append((values, kwargs)))
    model, dm = tiny_toy(GAN, max_g_steps=3)
    quiet_trainer().fit(model, dm)
    counts = [values for values, kwargs in logged if kwargs.get("prog_bar")]
    assert counts and all(isinstance(v, torch.Tensor) and v.device.type == "cpu" for c in counts for v in c.values())
    assert float(counts[-1]["g_step"]) == 3.0


def test_progress_bar_redraws_at_its_rate_and_always_at_an_epochs_end_or_a_stop(monkeypatch):
    """Each redraw costs a host-bound run about 2 ms (``bench/results/progress_bar_cost.md``): the bar's
    per-batch work runs ``refresh_rate`` times a second (default 2), and on the batches that end the run
    or (the epoch bar, here: the module has no ``max_g_steps``) an epoch."""
    from types import SimpleNamespace

    from lightning.pytorch.callbacks import RichProgressBar

    import lit_gans.callbacks.progress as progress

    now = [0.0]
    monkeypatch.setattr(progress, "time", SimpleNamespace(monotonic=lambda: now[0]))
    drawn = []
    monkeypatch.setattr(RichProgressBar, "on_train_batch_end", lambda self, trainer, module, out, batch, i: drawn.append(i))
    monkeypatch.setattr(progress.GANProgressBar, "total_train_batches", property(lambda self: 150))
    trainer = SimpleNamespace(should_stop=False)
    for rate, expected in ((progress.GANProgressBar().refresh_rate, 2), (10, 10)):
        bar, drawn[:] = progress.GANProgressBar(refresh_rate=rate), []
        for i in range(100):  # 5 s at 20 batches a second
            now[0] += 0.05
            bar.on_train_batch_end(trainer, None, None, None, i)
        assert abs(len(drawn) - 5 * expected) <= 1, (rate, drawn)
    drawn[:] = []
    bar.on_train_batch_end(trainer, None, None, None, 149)  # the epoch's last batch, at once after a redraw
    trainer.should_stop = True
    bar.on_train_batch_end(trainer, None, None, None, 100)
    assert drawn == [149, 100]


@pytest.mark.parametrize("max_epochs", [-1, 3])
def test_progress_bar_counts_generator_steps_over_a_run_that_they_end(monkeypatch, max_epochs):
    """With ``max_g_steps`` and no epoch limit (every shipped config) one bar counts generator steps over the
    run, never reset (a reset draws at once on the training thread); with an epoch limit, Lightning's bar of
    each epoch's batches."""
    from rich.progress import Progress

    from lit_gans.callbacks import GANProgressBar

    resets = []
    reset = Progress.reset
    monkeypatch.setattr(Progress, "reset", lambda self, *args, **kwargs: (resets.append(kwargs), reset(self, *args, **kwargs))[1])
    bar = GANProgressBar()
    model, dm = tiny_toy(GAN, max_g_steps=80)  # 32 batches an epoch: the run ends in its third
    trainer = quiet_trainer(enable_progress_bar=True, callbacks=[bar], max_epochs=max_epochs)
    trainer.fit(model, dm)
    task = bar.progress.tasks[bar.train_progress_bar_id]
    assert model.g_step == 80
    if max_epochs == -1:
        assert (task.total, task.completed) == (80, 80) and len(resets) == 1
        assert "g_step" not in bar.get_metrics(trainer, model) and bar.get_metrics(trainer, model)["d_step"] == "80"
        model.steps["generator"] += 1  # a step after the last redraw: a validation's end shows the count of now
        bar.on_validation_end(trainer, model)
        assert bar.progress.tasks[bar.train_progress_bar_id].completed == 81
    else:
        assert (task.total, task.completed) == (32, 16) and len(resets) == 2
        assert bar.get_metrics(trainer, model)["g_step"] == "80/80"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])  # 16-mixed: GradScaler's step reads the device
def test_no_batch_waits_for_the_gpu_between_logging_steps(precision):
    """A read of a value on the device (``.item()``, ``bool``, a copy to the host) makes the host wait for the
    GPU's queue, and the host stops running ahead of the device. Outside the logging steps none may happen."""
    every, starts = 10, {}

    def syncs() -> int:
        return sum("synchroniz" in str(w.message) for w in caught)

    class Mark(L.Callback):  # each batch's span: its start to the next one's (Lightning's bookkeeping included)
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            starts[pl_module.batches] = syncs()

    L.seed_everything(0)
    dm = DigitsDataModule(image_size=16, batch_size=16, pin_memory=True)  # over 40 batches an epoch
    model = DCGAN(data_shape=dm.data_shape, g_width=8, d_width=8, latent_dim=16, max_g_steps=4 * every)
    trainer = quiet_trainer(accelerator="gpu", precision=precision, log_every_n_steps=every, callbacks=[Mark()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.fit(model, dm)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    spans = {b: starts[b + 1] - starts[b] for b in starts if b + 1 in starts}
    assert model.g_step == 4 * every and len(spans) == 4 * every - 1
    logging = {b for b in spans if (b + 1) % every == 0}
    assert {b: n for b, n in spans.items() if n and b >= 2 and b not in logging} == {}
    assert any(spans[b] for b in logging)  # the check does see the reads at logging steps
