"""DiffAugment and ADA: their transforms, their arguments, ADA's rule for p, and where the loop applies them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lit_gans.augment import (ADA, Augment, DiffAugment, blit, brightness, color, contrast, cutout, geometric,
                              saturation, translation, warp)
from lit_gans.checkpoints import load_family
from lit_gans.errors import ConfigError
from lit_gans.families import DCGAN
from lit_gans.specs import build
from gloo_procs import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_translation_moves_each_sample_by_whole_pixels_within_an_eighth_and_fills_with_zero():
    torch.manual_seed(0)
    x = -torch.ones(64, 1, 16, 16)
    x[:, :, 7, 9] = 1.0
    y = translation(x)
    assert y.shape == x.shape
    for sample in y:
        peak = (sample[0] == 1).nonzero()
        if len(peak):  # a shift of at most 2 px keeps this pixel inside
            assert abs(int(peak[0, 0]) - 7) <= 2 and abs(int(peak[0, 1]) - 9) <= 2
        assert set(sample.unique().tolist()) <= {-1.0, 0.0, 1.0}  # the border comes in as 0
    assert len({tuple((s[0] == 1).nonzero()[0].tolist()) for s in y}) > 5  # shifts differ per sample


def test_cutout_zeroes_one_square_of_half_the_side_per_sample():
    torch.manual_seed(0)
    x = torch.ones(32, 3, 16, 16)
    y = cutout(x)
    holes = (y == 0).all(dim=1)  # (n, h, w), the same hole in every channel
    assert ((y == 0) | (y == 1)).all() and (holes.sum((1, 2)) <= 64).all() and (holes.sum((1, 2)) > 0).all()
    for hole in holes:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # one rectangle
        assert len(rows) <= 8 and len(cols) <= 8


def test_colour_transforms_follow_the_paper_ranges():
    torch.manual_seed(0)
    x = torch.rand(256, 3, 8, 8) * 2 - 1
    shift = (brightness(x) - x).flatten(1)
    assert torch.allclose(shift, shift[:, :1].expand_as(shift)) and shift.abs().max() <= 0.5
    grey = x[:, :1]
    assert torch.allclose(saturation(grey), grey)  # one channel has no saturation
    c = contrast(x)
    assert torch.allclose(c.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)
    ratio = (c - c.mean((1, 2, 3), keepdim=True)).std((1, 2, 3)) / (x - x.mean((1, 2, 3), keepdim=True)).std((1, 2, 3))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() <= 1.5 + 1e-4


def test_every_transform_passes_gradients():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    DiffAugment(["color", "translation", "cutout"])(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_policy_and_input_errors_name_the_fix():
    with pytest.raises(ConfigError, match="unknown: flip"):
        DiffAugment(["color", "flip"])
    with pytest.raises(ConfigError, match="one or more of color, translation, cutout"):
        DiffAugment([])
    assert DiffAugment("translation").policy == ("translation",)
    with pytest.raises(ConfigError, match="remove model.augment"):
        DiffAugment()(torch.zeros(4, 2))


def test_the_critic_judges_augmented_images_in_training_only():
    model = DCGAN(data_shape=(1, 16, 16), g_width=8, d_width=8, augment=DiffAugment(["translation", "cutout"]))
    seen = []
    model.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    x = torch.ones(8, 1, 16, 16)
    model.train()
    model.judge(x, None)
    assert (seen[-1] == 0).any()  # holes and shifted borders
    model.eval()
    model.judge(x, None)
    assert torch.equal(seen[-1], x)
    # the generator's gradient passes through the augmentation
    model.train()
    latent = model.latent_spec.draw(8)
    logits, _ = model.judge(model.generate(latent), None)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.generator.parameters() if p.requires_grad)


def test_augment_from_the_command_line_trains_and_the_checkpoint_rebuilds_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    result = subprocess.run(
        [sys.executable, "-m", "lit_gans.cli", "fit", "--config", str(ROOT / "configs" / "quickstart.yaml"),
         "--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--trainer.enable_progress_bar", "false",
         "--model.init_args.max_g_steps", "4", "--checkpoint.every_n_g_steps", "4", "--metrics.metrics", "[]",
         "--model.init_args.augment", "lit_gans.augment.DiffAugment",
         "--model.init_args.augment.policy", "[translation, cutout]"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = sorted(tmp_path.rglob("last.ckpt"))[0]
    model = load_family(checkpoint)
    assert isinstance(model.augment, DiffAugment) and model.augment.policy == ("translation", "cutout")
    assert model.g_step == 4


# ---------------------------------------------------------------------------------------------------- ADA


def test_ada_at_p_zero_is_the_identity_and_at_p_one_changes_every_image_keeping_shape_and_dtype():
    torch.manual_seed(0)
    for shape in [(6, 3, 8, 8), (6, 1, 8, 12), (6, 2, 5, 5)]:
        x = torch.rand(shape) * 2 - 1
        assert ADA()(x) is x  # p starts at 0: nothing is drawn, nothing is touched
        for group in (blit, geometric, color):
            assert torch.equal(group(x, 0.0), x)
        for dtype in (torch.float32, torch.float64):
            y = ADA(p=1.0, target=None)(x.to(dtype))
            assert y.shape == x.shape and y.dtype == dtype
            assert (y != x.to(dtype)).flatten(1).any(1).all()
    # samples that drew nothing stay exactly as they were, the others do not
    x = torch.rand(64, 3, 8, 8) * 2 - 1
    y = ADA(p=0.2, target=None)(x)
    unchanged = (y == x).flatten(1).all(1)
    assert 0 < unchanged.sum() < 64


def test_ada_passes_gradients_to_the_images_twice_over_for_r1():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    ADA(p=1.0, target=None)(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # R1 differentiates the critic's gradient with respect to the images, through the augmentation
    critic = torch.nn.Conv2d(3, 1, 3)
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(critic(torch.tanh(ADA(p=1.0, target=None)(x))).sum(), x, create_graph=True)
    grad.square().sum().backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_blit_moves_whole_pixels_by_a_flip_a_quarter_turn_and_a_reflected_shift():
    torch.manual_seed(0)
    for h, w in [(8, 8), (6, 10)]:  # shifts of up to 1 pixel; only half turns keep a non-square shape
        x = torch.randn(12, 2, h, w)
        y = blit(x, 1.0)
        candidates = []
        for flip in (False, True):
            for turns in range(4) if h == w else (0, 2):
                moved = torch.rot90(x.flip(-1) if flip else x, turns, dims=(-2, -1))
                padded = F.pad(moved, (1, 1, 1, 1), mode="reflect")
                candidates += [padded[..., 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
                               for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        matches = (torch.stack(candidates, 1) == y.unsqueeze(1)).flatten(2).all(2)  # (sample, candidate)
        assert matches.any(1).all()


def test_warp_maps_output_pixels_to_input_pixels_through_the_affine_map_on_non_square_images():
    h, w = 20, 32
    u = (torch.arange(w, dtype=torch.float64) - (w - 1) / 2).expand(h, w)
    v = (torch.arange(h, dtype=torch.float64) - (h - 1) / 2).view(h, 1).expand(h, w)
    ramps = torch.stack([u, v]).unsqueeze(0)  # each pixel holds its own coordinates: bilinear reads them exactly
    angle = torch.tensor(0.5, dtype=torch.float64)
    linear = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])]) * 0.8
    offset = torch.tensor([3.0, -2.0], dtype=torch.float64)
    out = warp(ramps, linear.unsqueeze(0), offset.unsqueeze(0))[0]
    expected = torch.einsum("ij,jhw->ihw", linear, ramps[0]) + offset.view(2, 1, 1)
    inside = (expected[0].abs() < (w - 1) / 2) & (expected[1].abs() < (h - 1) / 2)
    assert inside.sum() > 300
    assert torch.allclose(out[:, inside], expected[:, inside], atol=1e-9)


def test_colour_maps_each_sample_s_grey_affinely_and_luma_flip_negates_it_for_half():
    torch.manual_seed(0)
    for channels in (1, 3):  # hue and saturation turn colours about the grey axis: the grey (channel mean) stays
        x = torch.rand(256, channels, 6, 6) * 2 - 1
        grey_in, grey_out = x.mean(1).flatten(1), color(x, 1.0).mean(1).flatten(1)
        centred_in = grey_in - grey_in.mean(1, keepdim=True)
        gain = (grey_out - grey_out.mean(1, keepdim=True)) / centred_in  # brightness, contrast, luma flip
        assert torch.allclose(gain, gain[:, :1].expand_as(gain), rtol=1e-3, atol=1e-3)
        assert 0.35 < (gain[:, 0] < 0).float().mean() < 0.65  # chosen always at p = 1, flipped half the time


def test_ada_raises_p_by_batch_times_interval_over_speed_and_clamps_it_to_zero_and_one():
    ada = ADA(speed_kimg=2.0, interval=4)  # target 0.6
    for _ in range(3):
        logs = ada.observe(torch.ones(8, 1))
        assert float(ada.p) == 0.0 and float(logs["augment/p"]) == 0.0  # not yet: every 4 critic steps
    logs = ada.observe(torch.ones(8, 1))  # r_t = 1 > 0.6: up by 8 * 4 / (2 * 1000)
    assert ada.p.item() == torch.tensor(8 * 4 / 2000).item() and ada.probability() == ada.p.item()
    assert set(logs) == {"augment/p", "augment/rt"} and logs["augment/p"] == ada.p and float(logs["augment/rt"]) == 1.0
    for _ in range(4):  # r_t = -1 < 0.6: down by as much, then it stays at 0
        logs = ada.observe(-torch.ones(8, 1))
    assert float(ada.p) == 0.0 and float(logs["augment/rt"]) == -1.0
    for _ in range(4):
        ada.observe(-torch.ones(8, 1))
    assert float(ada.p) == 0.0
    # r_t counts every logit's sign; the step counts images (``images`` for a packed critic's logits)
    ada = ADA(p=0.5, speed_kimg=1.0, interval=2)
    ada.observe(torch.tensor([1.0, 1.0, -1.0, 2.0]), images=8)
    logs = ada.observe(torch.tensor([1.0, 1.0, 1.0, -3.0]), images=8)
    assert float(logs["augment/rt"]) == 0.5 and ada.p.item() == (torch.tensor(0.5) - torch.tensor(16 / 1000)).item()
    ada = ADA(p=0.99, speed_kimg=0.01, interval=1)
    ada.observe(torch.ones(4))
    assert float(ada.p) == 1.0


def test_ada_with_a_null_target_keeps_p_fixed_and_still_measures_rt():
    ada = ADA(p=0.3, target=None, interval=2)
    for _ in range(6):
        logs = ada.observe(torch.ones(16))
    assert ada.p.item() == torch.tensor(0.3).item() and float(logs["augment/rt"]) == 1.0


def test_ada_state_dict_keeps_p_and_the_partial_sums_and_the_spec_rebuilds_it():
    ada = ADA(speed_kimg=1.0, interval=4, pipeline=["color", "blit"])
    for _ in range(6):  # one update, then two steps of the next interval
        ada.observe(torch.ones(8))
    assert [name for name, _ in ada.named_buffers()] == ["p"]  # DDP copies rank 0's buffers: the sums are not ones
    copy = ADA(speed_kimg=1.0, interval=4, pipeline=["color", "blit"])
    copy.load_state_dict(ada.state_dict())
    assert copy.p.item() == ada.p.item() > 0 and copy.probability() == ada.probability()
    assert str(copy.get_extra_state()) == str(ada.get_extra_state())
    for module in (ada, copy):
        for _ in range(2):  # the interval that began before the save ends at the same step in both
            module.observe(torch.ones(8))
    assert copy.p.item() == ada.p.item() == torch.tensor(2 * 8 * 4 / 1000).item()
    x = torch.rand(4, 1, 8, 8)
    assert not torch.equal(copy(x), x)  # forward reads the loaded p
    spec = ada.spec()
    assert spec == {"class_path": "lit_gans.augment.ADA", "init_args": {
        "p": 0.0, "target": 0.6, "interval": 4, "speed_kimg": 1.0, "pipeline": ["color", "blit"]}}
    rebuilt = build(spec, Augment, "model.augment")
    assert isinstance(rebuilt, ADA) and rebuilt.spec() == spec
    assert (rebuilt.target, rebuilt.interval, rebuilt.speed_kimg, rebuilt.pipeline) == (0.6, 4, 1.0, ("blit", "color"))
    assert DiffAugment().observe(torch.ones(4)) == {}  # the base: nothing to tune, nothing to log


def test_ada_in_a_family_is_rebuilt_from_its_record_with_p_in_the_state_dict():
    model = DCGAN(data_shape=(1, 16, 16), g_width=8, d_width=8,
                  augment={"class_path": "lit_gans.augment.ADA", "init_args": {"target": 0.7, "p": 0.25}})
    assert isinstance(model.augment, ADA) and model.hparams["augment"]["init_args"]["target"] == 0.7
    assert {"augment.p", "augment._extra_state"} <= set(model.state_dict())
    model.eval()
    x = torch.rand(4, 1, 16, 16)
    assert torch.equal(model.judge(x, None)[0], model.discriminator(x, None))  # evaluation sees images as they are


def test_ada_argument_errors_name_the_fix():
    with pytest.raises(ConfigError, match=r"ADA target=1.5 must be in \(0, 1\).*or null to keep p fixed"):
        ADA(target=1.5)
    with pytest.raises(ConfigError, match=r"ADA p=-0.1 must be in \[0, 1\]"):
        ADA(p=-0.1)
    with pytest.raises(ConfigError, match="ADA interval=0 must be a whole number of critic steps"):
        ADA(interval=0)
    with pytest.raises(ConfigError, match="ADA speed_kimg=0 must be a positive number"):
        ADA(speed_kimg=0)
    with pytest.raises(ConfigError, match="one or more of blit, geometric, color .unknown: cutout."):
        ADA(pipeline=["blit", "cutout"])
    with pytest.raises(ConfigError, match="p=0 never augments: set p above 0"):
        ADA(target=None)
    with pytest.raises(ConfigError, match="remove model.augment"):
        ADA(p=0.5)(torch.zeros(4, 2))


_DDP_WORKER = """
import json, sys, torch, torch.distributed as dist
from lit_gans.augment import ADA
from gloo_procs import leave
dist.init_process_group("gloo")
rank = dist.get_rank()
ada = ADA(speed_kimg=1.0, interval=2)
for _ in range(2):
    logs = ada.observe(torch.ones(8) if rank == 0 else torch.tensor([1.0, -1.0, -1.0, -1.0] * 2))
print(json.dumps({"p": ada.p.item(), "rt": float(logs["augment/rt"])}))
leave(2)
"""


@pytest.mark.slow
def test_ada_sums_the_signs_of_every_process_so_every_rank_gets_the_same_p():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    ranks = [subprocess.Popen([sys.executable, "-c", _DDP_WORKER], env={**env, "RANK": str(rank)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(2)]
    results = []
    for process in ranks:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    # r_t = (16 - 8) / 32 = 0.25 on both ranks (rank 1 alone would say -0.5), below 0.6: p stays at 0
    assert results == [{"p": 0.0, "rt": 0.25}] * 2


_FIT_AND_RESUME = """
import sys
from lit_gans.cli import main
fit, checkpoint = sys.argv[1:-1], sys.argv[-1]
sys.argv = sys.argv[:1]  # the arguments go to main, as `lit-gans` passes them
sys.exit(main(fit) or main([*fit, "--model.init_args.max_g_steps", "5", "--ckpt_path", checkpoint]))
"""


def test_ada_from_the_command_line_logs_p_saves_it_and_a_resumed_run_goes_on_from_it(tmp_path):
    """Needs the loop's ``augment.observe`` hook (``AdversarialModule.discriminator_loss``). One process runs
    ``lit-gans fit`` for 3 critic steps and then resumes it for 2 more (one interpreter: half the time)."""
    root = tmp_path / "runs" / "quickstart" / "logs"
    fit = ["fit", "--config", str(ROOT / "configs" / "quickstart.yaml"), "--model.init_args.g_width", "8",
           "--model.init_args.d_width", "8", "--trainer.enable_progress_bar", "false", "--metrics.metrics", "[]",
           "--trainer.log_every_n_steps", "1", "--model.init_args.max_g_steps", "3",
           "--checkpoint.every_n_g_steps", "3",
           "--model.init_args.augment", "lit_gans.augment.ADA", "--model.init_args.augment.p", "0.5",
           # a batch of 64 every critic step: p moves by 64 / 640 = 0.1 at each
           "--model.init_args.augment.interval", "1", "--model.init_args.augment.speed_kimg", "0.64"]
    last = root / "version_0" / "checkpoints" / "last.ckpt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    result = subprocess.run([sys.executable, "-c", _FIT_AND_RESUME, *fit, str(last)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    def logged(version: str) -> list[float]:
        with open(root / version / "metrics.csv") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("augment/p")]
        assert rows and all(-1 <= float(row["augment/rt"]) <= 1 for row in rows)
        return [float(row["augment/p"]) for row in rows]

    first, resumed = logged("version_0"), logged("version_1")
    assert len(first) == 3 and len(resumed) == 2
    for before, after in zip([0.5, *first, *resumed], [*first, *resumed]):
        assert abs(abs(after - before) - 0.1) < 1e-6  # up or down by 0.1 at every critic step, from 0.5 on
    saved = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]["augment.p"]
    assert saved.item() == pytest.approx(first[-1], abs=1e-7) and saved.item() != pytest.approx(0.5, abs=1e-3)
    model = load_family(last)
    assert isinstance(model.augment, ADA) and model.augment.p.item() == saved.item()
    assert model.augment.spec()["init_args"]["speed_kimg"] == 0.64
    # three steps of 0.1 from 0.5 never come back to 0.5: had the resume restarted p, it would read 0.4 or 0.6
    assert abs(abs(resumed[0] - first[-1]) - 0.1) < 1e-6
