"""The latent tools (``lit_gans.latent``): interpolation, class means, projection (with an encoder, in
StyleGAN's W), inpainting by latent optimisation, attribute directions, and their commands."""

from __future__ import annotations

import json

import pytest
import torch
from torchvision.utils import save_image

from conftest import quiet_trainer
from datamodules import DigitsDataModule
from lit_gans.cli import main
from lit_gans.errors import ConfigError
from lit_gans.families import DCGAN, StyleGAN
from lit_gans.latent import (
    Latent,
    center_mask,
    class_means,
    contextual_weights,
    fit_direction,
    inpaint,
    interpolate,
    project,
    psnr,
    train_encoder,
    walk,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dcgan() -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(data_shape=(1, 16, 16), latent_dim=8, g_width=8, d_width=8).eval()


def brightness_classifier(threshold: float):
    """Two classes: class 1 when an image's mean pixel is above ``threshold`` (a smooth, monotonic score)."""
    return lambda x: torch.stack([torch.zeros(len(x)), 40 * (x.flatten(1).mean(1) - threshold)], dim=1)


def test_psnr_and_contextual_weights_by_hand():
    a, b = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    b[0, 0, 0, 0] = 1.0  # MSE 1/4 -> 10 log10(4 / 0.25) = 12.04 dB; inside a mask of that pixel: MSE 1 -> 6.02
    assert float(psnr(a, b)) == pytest.approx(10 * torch.log10(torch.tensor(16.0)).item())
    mask = torch.zeros(1, 1, 2, 2)
    mask[0, 0, 0, 0] = 1
    assert float(psnr(a, b, mask)) == pytest.approx(10 * torch.log10(torch.tensor(4.0)).item())
    hole = torch.ones(1, 5, 5)
    hole[0, 2, 2] = 0  # one missing pixel in the middle
    w = contextual_weights(hole, window=3)[0, 0]
    assert w[2, 2] == 0  # a missing pixel weighs nothing
    assert w[1, 1] == pytest.approx(1 / 9) and w[1, 2] == pytest.approx(1 / 9)  # 1 of its 9 neighbours is missing
    assert w[0, 0] == 0 and w[4, 4] == 0  # far from the hole
    mask = center_mask((1, 8, 8), 0.5)
    assert mask.shape == (1, 8, 8) and mask.sum() == 64 - 16 and mask[0, 2:6, 2:6].sum() == 0


def test_interpolation_ends_at_its_latents_and_linear_passes_the_midpoint(dcgan):
    g = torch.Generator().manual_seed(1)
    start, end = dcgan.latent_spec.draw(3, generator=g), dcgan.latent_spec.draw(3, generator=g)
    for mode in ("slerp", "linear"):
        images = interpolate(dcgan, start, end, steps=5, mode=mode).view(3, 5, 1, 16, 16)
        assert torch.allclose(images[:, 0], dcgan.sample(3, latent=start), atol=1e-5)
        assert torch.allclose(images[:, -1], dcgan.sample(3, latent=end), atol=1e-5)
    images = interpolate(dcgan, start, end, steps=3, mode="linear").view(3, 3, 1, 16, 16)
    assert torch.allclose(images[:, 1], dcgan.sample(3, z=(start.z + end.z) / 2), atol=1e-5)
    with pytest.raises(ConfigError, match="mode 'cubic'"):
        interpolate(dcgan, start, end, mode="cubic")


def test_class_means_average_the_latents_of_each_predicted_class(dcgan):
    threshold = float(dcgan.sample(200).mean())
    classifier = brightness_classifier(threshold)
    means = class_means(dcgan, classifier, n=200, seed=3)
    latent = dcgan.latent_spec.draw(200, generator=torch.Generator().manual_seed(3), labels=False)
    predicted = classifier(dcgan.sample(200, latent=latent)).argmax(1)
    assert set(means) == set(predicted.unique().tolist()) == {0, 1}
    for c, mean in means.items():
        assert isinstance(mean, Latent) and torch.allclose(mean.z[0], latent.z[predicted == c].mean(0), atol=1e-6)


def test_projection_recovers_a_generated_sample_and_beats_its_starts(dcgan):
    torch.manual_seed(5)
    z_star = torch.randn(2, 8)
    target = dcgan.sample(2, z=z_star)
    result = project(dcgan, target, steps=120, lr=0.05, restarts=3, seed=1)
    assert result.image.shape == target.shape and result.latent.z.shape == (2, 8) and len(result.losses) == 120
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert (result.psnr > result.start_psnr + 3).all()  # optimisation beats the best of its random starts
    assert torch.allclose(dcgan.sample(2, latent=result.latent), result.image, atol=1e-5)
    # an encoder that knows the answer: the start is the target itself
    exact = project(dcgan, target, steps=0, encoder=lambda x: z_star, restarts=1)
    assert (exact.psnr > 60).all()
    with pytest.raises(ConfigError, match="do not fit"):
        project(dcgan, torch.zeros(1, 3, 16, 16))


def test_encoder_learns_z_from_the_generators_own_samples(dcgan):
    latent = dcgan.latent_spec.draw(256, generator=torch.Generator().manual_seed(9))
    images = dcgan.sample(256, latent=latent)
    untrained = train_encoder(dcgan, steps=0, seed=2)
    trained = train_encoder(dcgan, steps=150, batch_size=64, seed=2)
    with torch.no_grad():
        before = torch.nn.functional.mse_loss(untrained(images), latent.z)
        after = torch.nn.functional.mse_loss(trained(images), latent.z)
    assert after < 0.6 * before and after < 0.9  # z ~ N(0, I): guessing 0 gives 1


def test_projection_in_stylegans_w_and_w_plus():
    torch.manual_seed(0)
    model = StyleGAN(data_shape=(1, 16, 16), latent_dim=16, g_width=8, d_width=8, mapping_layers=2).eval()
    target = model.sample(2)
    for space in ("w", "w+"):
        result = project(model, target, steps=60, lr=0.05, restarts=2, space=space)
        num_ws = model.sampling_generator.synthesis.num_ws
        assert result.latent is None and result.ws.shape == (2, num_ws, 16)
        assert result.losses[-1] < result.losses[0] and (result.psnr >= result.start_psnr).all()
    with pytest.raises(ConfigError, match="mapping network"):
        project(DCGAN(data_shape=(1, 16, 16), latent_dim=8, g_width=8, d_width=8), target, space="w")


def test_inpainting_keeps_the_known_pixels_and_lowers_its_losses(dcgan):
    torch.manual_seed(7)
    image = dcgan.sample(2)
    mask = center_mask((1, 16, 16))
    result = inpaint(dcgan, image, mask, steps=80, restarts=2, prior_weight=0.003, reference=image, seed=4)
    known = mask.bool().expand_as(image)
    assert torch.equal(result.filled[known], image[known])  # the known pixels are the image's
    assert torch.allclose(result.filled[~known], result.generated[~known])  # the hole is the generator's
    assert result.context[-1] < result.context[0] and len(result.prior) == 80
    assert result.psnr_hole.shape == (2,) and torch.isfinite(result.psnr_hole).all()
    assert len(result.latent) == 2


def test_a_walk_along_a_fitted_direction_raises_the_classifiers_score(dcgan):
    threshold = float(dcgan.sample(400).mean())
    direction = fit_direction(dcgan, brightness_classifier(threshold), target_class=1, n=600, seed=0)
    assert direction.normal.shape == (8,) and float(direction.normal.norm()) == pytest.approx(1.0, abs=1e-5)
    assert direction.accuracy > max(direction.positives, 1 - direction.positives) + 0.1  # above the majority guess
    assert 0.1 < direction.positives < 0.9
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(2))
    images, scores = walk(dcgan, z, direction, [-3, -1.5, 0, 1.5, 3])
    assert images.shape == (30, 1, 16, 16) and scores.shape == (6, 5)
    assert (scores.mean(0).diff() > 0).all()  # the mean score rises at every step
    with pytest.raises(ConfigError, match="no boundary"):
        fit_direction(dcgan, lambda x: torch.stack([torch.ones(len(x)), torch.zeros(len(x))], 1), target_class=1, n=50)


# ---------------------------------------------------------------------------------------------- commands
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("latent_cli")
    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = DCGAN(data_shape=dm.data_shape, latent_dim=8, g_width=8, d_width=8, max_g_steps=2)
    trainer = quiet_trainer()
    trainer.fit(model, dm)
    trainer.save_checkpoint(folder / "dcgan.ckpt")
    torch.manual_seed(0)
    (folder / "targets").mkdir()
    for i, x in enumerate(model.sample(2)):
        save_image((x + 1) / 2, folder / "targets" / f"target{i}.png")
    return folder


def test_interpolate_project_and_inpaint_commands_write_images_and_json(checkpoint, capsys):
    ckpt = str(checkpoint / "dcgan.ckpt")
    assert main(["interpolate", "--ckpt", ckpt, "--out", str(checkpoint / "strips.png"), "--rows", "3", "--steps", "4"]) == 0
    report = json.loads((checkpoint / "strips.json").read_text())
    assert (checkpoint / "strips.png").is_file() and report["rows"] == 3 and report["mode"] == "slerp"
    out = checkpoint / "projected"
    assert main(["project", "--ckpt", ckpt, "--target", str(checkpoint / "targets" / "target0.png"), "--out", str(out),
                 "--steps", "20", "--restarts", "2", "--encoder-steps", "5"]) == 0
    report = json.loads((out / "projected.json").read_text())
    assert len(report["losses"]) == 20 and len(report["psnr"]) == 1 and report["encoder_steps"] == 5
    assert torch.load(out / "latents.pt")["z"].shape == (1, 8)
    assert "projected 1 image(s): PSNR" in capsys.readouterr().out
    out = checkpoint / "filled"
    assert main(["inpaint", "--ckpt", ckpt, "--image", str(checkpoint / "targets"), "--out", str(out), "--steps", "10", "--restarts", "1"]) == 0
    report = json.loads((out / "inpainted.json").read_text())
    assert len(report["psnr_hole"]) == 2 and len(report["losses"]) == 10 and (out / "inpainted.png").is_file()


def test_commands_refuse_bad_input_with_one_line(checkpoint, capsys):
    ckpt = str(checkpoint / "dcgan.ckpt")
    assert main(["inpaint", "--ckpt", ckpt, "--image", str(checkpoint / "targets" / "target0.png"), "--out", str(checkpoint / "x"),
                 "--mask", str(checkpoint / "nothing.png")]) == 2
    assert "--mask" in capsys.readouterr().err
    assert main(["project", "--ckpt", ckpt, "--target", str(checkpoint / "targets" / "missing.png"), "--out", str(checkpoint / "y")]) == 2
    assert "missing.png does not exist" in capsys.readouterr().err
    assert main(["interpolate", "--ckpt", ckpt, "--steps", "1", "--out", str(checkpoint / "z.png")]) == 2
