"""SinGAN (Shaham, Dekel & Michaeli 2019, "SinGAN: Learning a Generative Model from a Single Natural Image")."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.latent import LatentSpec
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.nets.singan import SinGANCritic, SinGANGenerator, copy_weights, image_pyramid, scale_sizes


def resize(x: Tensor, size: Sequence[int]) -> Tensor:
    """``x`` resized to ``size`` (H, W): bicubic, as the reference's upsampling between scales, clamped to [-1, 1]."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False).clamp(-1, 1)


def patches(images: Tensor, size: int = 7) -> Tensor:
    """Every ``size`` x ``size`` patch of the images, flattened: (number of patches, C * size * size)."""
    return F.unfold(images, size).transpose(1, 2).reshape(-1, images.shape[1] * size * size)


def patch_distance(samples: Tensor, image: Tensor, size: int = 7, max_patches: int = 4096) -> Tensor:
    """Mean distance (RMS per pixel) from each patch of ``samples`` to its nearest patch of ``image``: low when the
    samples are made of the image's patches (SinGAN's patch statistics), whatever their arrangement."""
    ours, theirs = patches(samples, size), patches(image, size)
    if len(ours) > max_patches:
        ours = ours[torch.randperm(len(ours), generator=torch.Generator().manual_seed(0))[:max_patches].to(ours.device)]
    return (torch.cdist(ours, theirs).min(dim=1).values / math.sqrt(ours.shape[1])).mean()


def pixel_gradient_penalty(critic: Any, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP for a critic that scores a map of patches, as SinGAN's reference computes it: the gradient of the
    summed map on random interpolates, its norm taken over the channels at each pixel, and (norm - 1)^2 averaged
    over pixels. (Flattening the whole image into one norm, as ``lit_gans.regularizers.gradient_penalty`` does
    for one score per image, holds the summed map to slope 1, so each patch score to about 1/#patches: the
    critic's mean score then barely moves and stops telling real from generated.)"""
    eps = torch.rand((real.shape[0], 1, 1, 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm(2, dim=1) - 1).pow(2).mean()


class SinGAN(AdversarialModule):
    """SinGAN: a pyramid of small fully convolutional GANs, one per scale of a single training image, trained one
    scale at a time from the coarsest (shorter side ``min_size``, 25 px) to the image's size, the ratio between
    scales close to ``factor`` (0.75). Each scale's generator adds detail to the upsampled output of the scales
    below from noise of an amplitude set, when the scale starts, to 0.1 x the RMS error of the scales below in
    reconstructing the image; its critic scores 11x11 patches (WGAN-GP with weight 0.1, the gradient norm taken per
    pixel as the reference does: ``pixel_gradient_penalty``). The generator also
    minimises ``rec_weight`` (10) times the error of reconstructing the image from one fixed noise map at the
    coarsest scale (zeros above). Each scale starts from the weights of the one below and trains for
    ``steps_per_scale`` generator iterations (one critic step each; the paper: 2,000 iterations of 3 critic and 3
    generator steps), Adam with lr 5e-4 and betas (0.5, 0.999), the rate divided by 10 for the last 20 % of each scale.

    ``sample(n)`` draws images at the training size, ``sample(n, size=(h, w))`` at another (the coarsest noise
    map scaled alike), ``super_resolve(image, factor)`` upsamples an image by repeated passes of the finest
    generator, and ``reconstruct()`` gives the image rebuilt from the fixed noise.

    Validation logs ``val/rec_rmse`` (the reconstruction error at the current scale), ``val/sample_distance``
    (the mean absolute difference between random samples and the image at that scale: above 0 when samples
    differ from it) and ``val/patch_distance`` (the mean distance from the samples' 7x7 patches to the image's
    nearest ones: low when their patch statistics match).

    Args:
        data_shape: the training image's shape (C, H, W), linked from the DataModule (``SingleImageDataModule``).
        min_size: shorter side of the coarsest scale (25).
        factor: the ratio between scales (0.75).
        width: channels of every scale's networks (32; the reference doubles them every 4 scales).
        layers: conv layers of each network (5: 11x11 patches).
        steps_per_scale: generator iterations per scale.
        rec_weight: alpha, the reconstruction weight (10).
        gp_weight: the critic's gradient-penalty weight (0.1).
        noise_amp: the noise amplitude as a share of the scales' reconstruction error (0.1).
        g_optimizer, d_optimizer: Adam lr 5e-4, betas (0.5, 0.999) by default.
        Others: ``AdversarialModule``'s (``max_g_steps``: by default every scale's steps).
    """

    roles = {"generator": "generators", "critic": "critics"}
    #: sample grids without interpolation strips: SinGAN's noise is a map per scale, not a vector
    interpolates = False
    #: its measures are logged in validation (``val/...``); ``lit-gans evaluate``'s dataset metrics do not apply
    evaluates_itself = True

    def __init__(
        self,
        data_shape: Any,
        num_classes: int = 0,
        min_size: int = 25,
        factor: float = 0.75,
        width: int = 32,
        layers: int = 5,
        steps_per_scale: int = 2000,
        rec_weight: float = 10.0,
        gp_weight: float = 0.1,
        noise_amp: float = 0.1,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        max_g_steps: Optional[int] = None,
        n_fixed_samples: int = 8,
        **kwargs: Any,
    ):
        if len(tuple(data_shape)) != 3:
            raise ConfigError(f"SinGAN learns one image: the DataModule's data_shape {tuple(data_shape)} is not (C, H, W); "
                              "use datamodules.SingleImageDataModule")
        if steps_per_scale < 1:
            raise ConfigError(f"model.steps_per_scale={steps_per_scale} must be at least 1 (the paper: 2,000 iterations)")
        for name, value in (("rec_weight", rec_weight), ("gp_weight", gp_weight), ("noise_amp", noise_amp)):
            if value < 0:
                raise ConfigError(f"model.{name}={value} must be >= 0")
        channels, height, width_px = (int(d) for d in data_shape)
        self.sizes = scale_sizes(height, width_px, min_size=min_size, max_size=max(height, width_px), factor=factor)
        self.singan_args = dict(width=width, layers=layers)
        self.steps_per_scale, self.rec_weight, self.gp_weight = int(steps_per_scale), float(rec_weight), float(gp_weight)
        self.noise_amp_ratio = float(noise_amp)
        kwargs.pop("latent_dim", None)  # recorded in checkpoints written outside the CLI
        super().__init__(
            data_shape=data_shape, num_classes=num_classes, latent_dim=1, objective="wasserstein",
            g_optimizer=g_optimizer or adam(5e-4), d_optimizer=d_optimizer or adam(5e-4),
            max_g_steps=max_g_steps or self.steps_per_scale * len(self.sizes), n_fixed_samples=n_fixed_samples, **kwargs,
        )
        n = len(self.sizes)
        # per-scale state, in checkpoints: noise amplitudes, the fixed reconstruction noise, the scales started
        self.register_buffer("noise_amps", torch.ones(n))
        self.register_buffer("rec_noise", torch.randn(1, channels, *self.sizes[0], generator=torch.Generator().manual_seed(0)))
        self.register_buffer("scales_started", torch.zeros((), dtype=torch.long))
        self._pyramid: Optional[list[Tensor]] = None

    # ------------------------------------------------------------------ networks and the schedule
    def make_latent_spec(self) -> LatentSpec:
        return LatentSpec(0)  # noise maps, one per scale, drawn in ``generate``

    def register_fixed_latent(self, n: int, seed: int) -> None:
        self.n_fixed_samples, self.fixed_seed = n, seed

    def build_networks(self, architecture: Any, g_width: Optional[int], d_width: Optional[int], d_batch_norm: bool,
                       **_: Any) -> dict[str, nn.Module]:
        channels, args = self.data_shape[0], self.singan_args
        generators = nn.ModuleList(SinGANGenerator(channels, width=args["width"], layers=args["layers"]) for _ in self.sizes)
        critics = nn.ModuleList(SinGANCritic(channels, width=args["width"], layers=args["layers"]) for _ in self.sizes)
        return {"generators": generators, "critics": critics}

    @property
    def n_scales(self) -> int:
        return len(self.sizes)

    @property
    def scale(self) -> int:
        """The scale in training: 0 (the coarsest) for the first ``steps_per_scale`` generator iterations, and so on."""
        return min(self.g_step // self.steps_per_scale, self.n_scales - 1)

    def phases(self) -> list[Phase]:
        """The current scale's critic (WGAN-GP), then its generator (adversarial + reconstruction), on every batch."""
        return [Phase("discriminator", ("discriminator",), self.discriminator_loss),
                Phase("generator", ("generator",), self.generator_loss, after_step=(self._after_generator_step,))]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        image = Batch.of(batch, self.batch_fields).image[:1]
        self._pyramid = image_pyramid(image, self.sizes)
        while int(self.scales_started) <= self.scale:
            self._start_scale(int(self.scales_started))
        self._set_learning_rates()
        super().training_step(batch, batch_idx)

    @torch.no_grad()
    def _start_scale(self, k: int) -> None:
        """Warm start scale ``k`` from the scale below and set its noise amplitude from the reconstruction error."""
        if k > 0:
            copy_weights(self.generators[k - 1], self.generators[k])
            copy_weights(self.critics[k - 1], self.critics[k])
            below = resize(self._eval(self.generate, k - 1, 1, True), self.sizes[k])
            self.noise_amps[k] = self.noise_amp_ratio * torch.sqrt(F.mse_loss(below, self._pyramid[k]))
        self.scales_started.fill_(k + 1)

    def _set_learning_rates(self) -> None:
        """The paper's rate: as configured for the first 80 % of each scale, a tenth of it for the rest."""
        within = self.g_step - self.scale * self.steps_per_scale
        ratio = 0.1 if within >= 0.8 * self.steps_per_scale else 1.0
        for optimizer in (o.optimizer for o in self.optimizers()):
            for group in optimizer.param_groups:  # the configured rate is the optimizer's default
                group["lr"] = optimizer.defaults["lr"] * ratio

    # ------------------------------------------------------------------ generating
    def generate(self, k: int, n: int = 1, reconstruct: bool = False, sizes: Optional[Sequence[Sequence[int]]] = None,
                 generator: Optional[torch.Generator] = None) -> Tensor:
        """Images from scales 0..``k`` (gradients as the caller has them): fresh noise at every scale, or with
        ``reconstruct`` the fixed noise at the coarsest and none above. ``sizes`` replaces the training sizes."""
        sizes = self.sizes if sizes is None else sizes
        channels = self.data_shape[0]
        x = torch.zeros(n, channels, *sizes[0], device=self.device)
        for i in range(k + 1):
            x = resize(x, sizes[i])
            if reconstruct:
                z = self.rec_noise.expand(n, -1, -1, -1) if i == 0 else torch.zeros_like(x)
            else:
                z = torch.randn(x.shape, device=self.device, generator=generator) * self.noise_amps[i]
            x = self.generators[i](z, x)
        return x

    def _below(self, k: int, n: int, reconstruct: bool = False) -> Tensor:
        """The frozen scales' output upsampled to scale ``k`` (zeros at the coarsest)."""
        if k == 0:
            return torch.zeros(n, self.data_shape[0], *self.sizes[0], device=self.device)
        with torch.no_grad():
            return resize(self.generate(k - 1, n, reconstruct), self.sizes[k])

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        k, real = self.scale, self._pyramid[self.scale]
        below = self._below(k, 1)
        with torch.no_grad():
            fake = self.generators[k](torch.randn_like(below) * self.noise_amps[k], below)
        critic = self.critics[k]
        real_score, fake_score = critic(real).mean(), critic(fake).mean()
        penalty = pixel_gradient_penalty(critic, real, fake)
        loss = fake_score - real_score + self.gp_weight * penalty
        logs = {"loss/d": loss.detach(), "d/real": real_score.detach(), "d/fake": fake_score.detach(),
                "penalty/gp": penalty.detach(), "scale": torch.tensor(float(k))}
        return StepOutput(loss, logs, fake=fake, real=real)

    def generator_loss(self, batch: Batch) -> StepOutput:
        k, real = self.scale, self._pyramid[self.scale]
        below = self._below(k, 1)
        fake = self.generators[k](torch.randn_like(below) * self.noise_amps[k], below)
        adversarial = -self.critics[k](fake).mean()
        below_rec = self._below(k, 1, reconstruct=True)
        z_rec = self.rec_noise if k == 0 else torch.zeros_like(below_rec)
        reconstruction = F.mse_loss(self.generators[k](z_rec, below_rec), real)
        loss = adversarial + self.rec_weight * reconstruction
        logs = {"loss/g": loss.detach(), "loss/g_adv": adversarial.detach(), "loss/reconstruction": reconstruction.detach()}
        return StepOutput(loss, logs, fake=fake)

    # ------------------------------------------------------------------ sampling and its measures
    def _eval(self, fn, *args: Any, **kwargs: Any) -> Tensor:
        was_training = self.generators.training
        self.generators.eval()
        try:
            with torch.no_grad():
                return fn(*args, **kwargs)
        finally:
            self.generators.train(was_training)

    def sample(self, n: int, *args: Any, size: Optional[Sequence[int]] = None, scale: Optional[int] = None,
               generator: Optional[torch.Generator] = None, **kwargs: Any) -> Tensor:
        """``n`` random images from every trained scale (``scale``: up to that one), at the training size or at
        ``size`` (H, W): each scale's size multiplied alike (latent options of other families are ignored)."""
        k = self.n_scales - 1 if scale is None else scale
        sizes = self.sizes
        if size is not None:
            height, width = self.sizes[k]
            sizes = [(max(round(h * size[0] / height), 1), max(round(w * size[1] / width), 1)) for h, w in self.sizes]
        return self._eval(self.generate, k, n, sizes=sizes, generator=generator).clamp(-1, 1)

    def fixed_samples(self) -> Tensor:
        """Samples from a fixed seed, up to the scale in training, for grids comparable across a run."""
        generator = torch.Generator(device=self.device).manual_seed(self.fixed_seed)
        return self.sample(self.n_fixed_samples, scale=self.scale, generator=generator)

    def reconstruct(self, scale: Optional[int] = None) -> Tensor:
        """The image rebuilt from the fixed reconstruction noise (1, C, H, W)."""
        return self._eval(self.generate, self.n_scales - 1 if scale is None else scale, 1, True).clamp(-1, 1)

    def super_resolve(self, image: Tensor, factor: float) -> Tensor:
        """``image`` (N, C, H, W) in [-1, 1] upsampled by ``factor`` in steps of 1/r (r: the ratio between scales),
        the finest generator adding detail at each step with the finest scale's noise amplitude (the paper's
        super-resolution mode)."""
        if factor <= 1:
            raise ConfigError(f"factor={factor} must be > 1 (e.g. 4)")
        ratio = self.sizes[-1][0] / self.sizes[-2][0] if self.n_scales > 1 else 1 / 0.75
        steps = max(math.ceil(math.log(factor) / math.log(ratio)), 1)
        height, width = image.shape[-2:]

        def run(x: Tensor) -> Tensor:
            for i in range(1, steps + 1):
                x = resize(x, (round(height * factor ** (i / steps)), round(width * factor ** (i / steps))))
                x = self.generators[-1](torch.randn_like(x) * self.noise_amps[-1], x)
            return x.clamp(-1, 1)

        return self._eval(run, image.to(self.device))

    def forward(self, n: int = 1, *args: Any) -> Tensor:
        return self.sample(n)

    def _validate(self, batch: Batch) -> None:
        k = self.scale
        real = image_pyramid(batch.image[:1].to(self.device), self.sizes)[k]
        samples = self.sample(4, scale=k, generator=torch.Generator(device=self.device).manual_seed(1))
        rec = self.reconstruct(k)
        self.log_dict({"val/rec_rmse": torch.sqrt(F.mse_loss(rec, real)),
                       "val/sample_distance": (samples - real).abs().mean(),
                       "val/patch_distance": patch_distance(samples, real)}, batch_size=1, sync_dist=True)

    def extra_repr(self) -> str:
        return f"scales={self.sizes}, steps_per_scale={self.steps_per_scale}, rec_weight={self.rec_weight}"


__all__ = ["SinGAN", "patch_distance", "patches", "pixel_gradient_penalty", "resize"]
