"""The base of image-to-image families (pix2pix, CycleGAN): generators that read an image, not z.

A ``TranslationModule`` runs on the same loop as every family (phases, optimizers by name, penalties,
schedules, DDP); what differs is what a generator reads and how samples are shown and measured:

- batches come from paired data (``batch_fields = ("condition", "image")``: input A, target B) or
  unpaired data (``("image", "image_b")``: domains A and B), ``datamodules.paired`` / ``datamodules.unpaired``;
- there is no latent: ``translate(x)`` maps a batch of input images (pix2pix's dropout is its only noise);
- sample grids show fixed validation inputs with their translations (``translation_grid``), and the
  family logs its own validation metrics (``val/...``), since FID-style metrics of unconditional samples do
  not apply; ``lit-gans translate`` writes translations of image files.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch.utils.data import default_collate

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule
from lit_gans.latent import LatentSpec
from lit_gans.loop import Batch

#: how the two image-to-image references scale the loss of their objectives (pytorch-CycleGAN-and-pix2pix's
#: ``GANLoss``): D minimises 0.5 * (L(D(real), 1) + L(D(fake), 0)) and G minimises L(D(fake), 1), L being
#: binary cross-entropy (``non_saturating``) or the squared error (``least_squares``). lit-gans' objectives
#: (``lit_gans.losses``) sum the critic's two terms and halve the least-squares ones, hence these factors.
REFERENCE_SCALES = {"non_saturating": (0.5, 1.0), "least_squares": (1.0, 2.0), "hinge": (0.5, 1.0),
                    "wasserstein": (1.0, 1.0), "minimax": (0.5, 1.0)}


def ssim(fake01: Tensor, real01: Tensor) -> Tensor:
    """SSIM of images in [0, 1] (torchmetrics): the usual Gaussian window (sigma 1.5, 11 px), narrower on images
    smaller than it (torchmetrics sizes the window from sigma: 2 * int(3.5 sigma + 0.5) + 1 px)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    half = (min(fake01.shape[-2:]) - 1) // 2
    if half < 1:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, got {tuple(fake01.shape[-2:])}")
    return structural_similarity_index_measure(fake01, real01, data_range=1.0, sigma=min(1.5, half / 3.5))


def as_rgb(images: Tensor) -> Tensor:
    """Grey images (N, 1, H, W) repeated to 3 channels; others unchanged (for grids that mix both)."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class TranslationModule(AdversarialModule):
    """Base of the image-to-image families: no latent, fixed validation inputs for grids, and the family's
    own validation metrics. A family builds its networks (``build_networks``), declares its phases, and
    defines ``translate(x, direction="a2b", ema=True)`` (its outputs for input images, in eval mode),
    ``input_channels(direction)`` (what ``lit-gans translate`` converts files to) and ``translation_grid()``
    (the rows of its sample grids and the images per row).

    Args:
        data_shape: shape of a target image (C, S, S), linked from the DataModule.
        num_classes: linked from the DataModule (translation data is unlabelled: 0).
        n_fixed_samples: validation inputs shown in sample grids (the first ones of the validation split).
        Others: ``AdversarialModule``'s (optimizers, schedulers, EMA, ``max_g_steps``, ``max_weight``, ``compile``).
    """

    #: read by the sample-grid and metrics callbacks and the CLI: this family translates images
    translates = True
    #: no interpolation strips in sample grids: there is no latent to walk
    interpolates = False
    #: its measures are logged in validation (``val/...``); ``lit-gans evaluate``'s dataset metrics do not apply
    evaluates_itself = True
    #: ``lit-gans translate`` feeds images at their own size (fully convolutional super-resolution) instead of
    #: resizing them to the training size
    any_input_size = False
    #: the DataModule ``batch_fields`` this family needs
    needs_fields: tuple[str, ...] = ("image",)

    def __init__(self, data_shape: Any, num_classes: int = 0, n_fixed_samples: int = 8, **kwargs: Any):
        if len(tuple(data_shape)) != 3:
            raise ConfigError(f"{type(self).__name__} translates images: the DataModule's data_shape {tuple(data_shape)} "
                              "is not (C, H, W); use an image DataModule (datamodules.paired / datamodules.unpaired)")
        kwargs.pop("latent_dim", None)  # recorded in the hyperparameters of checkpoints written outside the CLI
        super().__init__(data_shape=data_shape, num_classes=num_classes, latent_dim=1, n_fixed_samples=n_fixed_samples, **kwargs)
        d_scale, g_scale = REFERENCE_SCALES[self.objective.name]
        self.d_scale, self.g_scale = d_scale, g_scale
        self.n_fixed_samples = n_fixed_samples
        # fixed validation inputs for grids: taken from the DataModule when first needed (not in checkpoints)
        self._fixed: Optional[Batch] = None

    # ------------------------------------------------------------------ no latent
    def make_latent_spec(self) -> LatentSpec:
        return LatentSpec(0)  # nothing: generators read images

    def register_fixed_latent(self, n: int, seed: int) -> None:
        """Translation grids show fixed validation inputs instead of a fixed latent batch."""

    def sample(self, *args: Any, **kwargs: Any) -> Tensor:
        raise ConfigError(f"{type(self).__name__} translates images and does not sample from noise: call "
                          "translate(images), or run `lit-gans translate --ckpt CKPT --input IMAGES --out FOLDER`")

    fixed_samples = sample

    def forward(self, x: Tensor, *args: Any) -> Tensor:
        return self.translate(x)

    def _translated(self, net: torch.nn.Module, x: Tensor, eval_mode: bool = True) -> Tensor:
        """``net(x)`` without gradients, in eval mode unless ``eval_mode`` is False, on this module's device."""
        was_training = net.training
        net.train(not eval_mode)
        try:
            with torch.no_grad():
                return net(x.to(self.device))
        finally:
            net.train(was_training)

    # ------------------------------------------------------------------ data
    def setup(self, stage: str) -> None:
        super().setup(stage)
        missing = [f for f in self.needs_fields if f not in self.batch_fields]
        if missing:
            datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
            raise ConfigError(
                f"{type(self).__name__} needs batches with the fields {list(self.needs_fields)}, but "
                f"{type(datamodule).__name__} yields {list(self.batch_fields)}; use "
                + ("paired data (datamodules.EdgesDataModule, datamodules.PairedFolderDataModule)" if "condition" in self.needs_fields
                   else "unpaired data (datamodules.ClassPairDataModule, datamodules.UnpairedFolderDataModule)"))

    def fixed_inputs(self) -> Batch:
        """The first ``n_fixed_samples`` validation samples of the DataModule (the same in every run and every
        grid), on this module's device."""
        if self._fixed is None:
            datamodule = self.trainer.datamodule
            if datamodule.val_set is None:
                datamodule.setup("fit")
            dataset = datamodule.val_set
            items = [dataset[i] for i in range(min(self.n_fixed_samples, len(dataset)))]
            self._fixed = Batch.of(default_collate(items), self.batch_fields)
        fixed = self._fixed
        return Batch(*(None if t is None else t.to(self.device) for t in (fixed.image, fixed.label, fixed.condition, fixed.image_b)))

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self._fixed = None

    def extra_repr(self) -> str:
        return f"objective={self.objective.name}"


__all__ = ["REFERENCE_SCALES", "TranslationModule", "as_rgb", "ssim"]
