"""Single-image super-resolution data (SRGAN, Ledig et al. 2017): pairs of a low-resolution image and the
high-resolution image it was made from.

Batches are ``(condition, image)`` (``batch_fields``): the LR image (3, hr_size / scale, hr_size / scale)
and the HR image (3, hr_size, hr_size), RGB in [-1, 1]. The LR image is the HR image downsampled by
``scale`` with antialiased bicubic interpolation, ``bicubic_downsample``: ``torch.nn.functional.interpolate(
..., mode="bicubic", antialias=True, align_corners=False)`` of the HR tensor, clamped to [-1, 1] (torch's
antialiased bicubic follows PIL's ``BICUBIC`` resize, within one grey level of it; the paper used MATLAB's
``imresize``). The LR image is kept in floats, not rounded to 8 bits.

Two DataModules:

* ``SuperResolutionDataModule``: the offline demo, random crops of scikit-image's bundled colour photos,
  validated on a photo that no training crop comes from;
* ``SuperResolutionFolderDataModule``: your own folder of HR images (DIV2K, ImageNet photos...).

Both declare no unconditional image metric (``evaluation``): the super-resolution family measures PSNR and
SSIM itself, against bicubic upsampling of the same LR images.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from datamodules.base import GANDataModule, TensorBatches, check_val_fraction
from datamodules.image_folder import _image_files, _load_image, _UnreadableImage
from datamodules.paired import _split
from lit_gans.errors import ConfigError, DatasetNotFoundError
from lit_gans.metrics.spec import DataEvaluation

#: scikit-image's bundled colour photos that load without a download (scikit-image 0.26; ``cat`` is left out:
#: it is ``chelsea`` under another name, so holding one out while training on the other would leak)
PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket")
#: the photos the demo trains on by default
TRAIN_PHOTOS = ("astronaut", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")
#: the photo the demo validates on by default, never cropped for training
VAL_PHOTO = "coffee"
#: crops whose LR images are computed at once at setup
CHUNK = 1024


# ---------------------------------------------------------------------------------------------- helpers
def check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2 or scale & (scale - 1):
        raise ConfigError(
            f"data.scale={scale!r} is not a power of two of at least 2; use 2, 4 (the paper) or 8: the "
            "generator upsamples by pixel-shuffle stages of 2"
        )


def check_hr_size(hr_size: int, scale: int) -> None:
    if isinstance(hr_size, bool) or not isinstance(hr_size, int) or hr_size < 1:
        raise ConfigError(f"data.hr_size={hr_size!r} must be a positive number of pixels, e.g. 32 or 96 (the paper)")
    if hr_size % scale:
        near = max(scale, scale * round(hr_size / scale))
        raise ConfigError(
            f"data.hr_size={hr_size} is not divisible by data.scale={scale}, so the LR image would not be whole "
            f"pixels; use a multiple of {scale} such as {near}"
        )


def bicubic_downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """HR images (N, C, H, W) or (C, H, W) in [-1, 1] -> (N, C, H / scale, W / scale): antialiased bicubic
    interpolation (``F.interpolate(mode="bicubic", antialias=True, align_corners=False)``), clamped to
    [-1, 1]. H and W must be multiples of ``scale``."""
    single = hr.ndim == 3
    x = hr.unsqueeze(0) if single else hr
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise ConfigError(f"an HR image of {h}x{w} cannot be downsampled by {scale}; crop it to a multiple of {scale}")
    x = x if x.is_floating_point() else x.float()
    lr = F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    lr = lr.clamp_(-1.0, 1.0)
    return lr.squeeze(0) if single else lr


def to_unit(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images (..., C, H, W) as floats in [-1, 1]."""
    x = torch.as_tensor(images)
    return x.float() / 127.5 - 1.0


def dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips and 90-degree rotations of an image (H, W, C): ``k % 4`` quarter turns
    (``np.rot90``), then a left-right flip when ``k >= 4``; ``k = 0`` leaves it as it is."""
    out = np.rot90(image, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


def load_photo(name: str) -> np.ndarray:
    """scikit-image's bundled photo ``name`` (``skimage.data.<name>()``), uint8 (H, W, 3)."""
    import skimage.data

    if name not in PHOTOS:
        raise ConfigError(f"{name!r} is not one of scikit-image's bundled colour photos; use one of {list(PHOTOS)}")
    try:
        photo = getattr(skimage.data, name)()
    except Exception as err:  # a photo that would need pooch and a download
        raise DatasetNotFoundError(
            f"scikit-image cannot load its photo {name!r} ({type(err).__name__}); reinstall scikit-image "
            "with its bundled data or choose other photos"
        ) from None
    photo = np.asarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise DatasetNotFoundError(f"scikit-image's photo {name!r} is {photo.shape} {photo.dtype}, not an RGB uint8 image")
    return photo


def photo_tensor(photo: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> uint8 tensor (3, H, W), a copy (PIL's arrays are read-only)."""
    return torch.from_numpy(np.array(photo.transpose(2, 0, 1), order="C"))


def _shown(names: Sequence[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


# ---------------------------------------------------------------------------------------------- datasets
class SuperResPairs(TensorBatches):
    """In-memory (LR, HR) pairs, handed out a whole batch at a time as ``(condition, image)``.

    ``samples`` are the HR crops as uint8 (N, 3, S, S) (served as floats in [-1, 1]); ``conditions`` their
    LR images, float (N, 3, S / scale, S / scale). ``origins`` (N, 4) says where each crop was cut: the
    index of its photo in ``photos``, the top and left pixel of the crop in that photo, and its ``dihedral``
    transform (0: none). ``labels`` are zeros (not served).
    """

    def __init__(self, hr: torch.Tensor, lr: torch.Tensor, origins: torch.Tensor, photos: Sequence[str]):
        super().__init__(hr, torch.zeros(len(hr), dtype=torch.long))
        self.conditions, self.origins, self.photos = lr, origins, tuple(photos)

    def images(self, index) -> torch.Tensor:
        """The HR crops at ``index``, as floats in [-1, 1]."""
        return to_unit(self.samples[index])

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All LR and HR images, as floats."""
        return self.conditions, self.images(slice(None))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conditions[i], self.images(i)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.conditions[index], self.images(index)

    def subset(self, indices: torch.Tensor) -> "SuperResPairs":
        part = copy.copy(self)
        part.samples, part.conditions = self.samples[indices], self.conditions[indices]
        part.labels, part.origins = self.labels[indices], self.origins[indices]
        return part


def pairs_of(crops: torch.Tensor, scale: int, origins: torch.Tensor, photos: Sequence[str]) -> SuperResPairs:
    """``SuperResPairs`` of uint8 HR crops (N, 3, S, S), their LR images computed ``CHUNK`` at a time."""
    lr = [bicubic_downsample(to_unit(crops[i : i + CHUNK]), scale) for i in range(0, len(crops), CHUNK)]
    size = crops.shape[-1] // scale
    lr_all = torch.cat(lr) if lr else torch.zeros((0, 3, size, size))
    return SuperResPairs(crops, lr_all, origins, photos)


def draw_crops(shapes: Sequence[tuple[int, int]], n: int, size: int, seed: int, augment: bool) -> np.ndarray:
    """Where ``n`` random crops of ``size`` are cut: int64 (n, 4) rows (photo, top, left, dihedral k).

    Crop ``i`` comes from photo ``i % len(shapes)`` (every photo gives the same number of crops, whatever its
    size), at a position uniform over the crops that fit in it; ``k`` is uniform over the 8 flips and
    rotations with ``augment``, else 0. All drawn from ``np.random.default_rng(seed)``: the same crops for
    the same arguments.
    """
    rng = np.random.default_rng(seed)
    photo = np.arange(n) % len(shapes)
    heights = np.array([h for h, _ in shapes])[photo]
    widths = np.array([w for _, w in shapes])[photo]
    top = rng.integers(0, heights - size + 1)
    left = rng.integers(0, widths - size + 1)
    k = rng.integers(0, 8, size=n) if augment else np.zeros(n, dtype=np.int64)
    return np.stack([photo, top, left, k], axis=1).astype(np.int64)


def tile_grid(photo_shape: tuple[int, int], size: int) -> tuple[int, int]:
    """Rows and columns of the non-overlapping tiles of ``size`` that fit in a photo (H, W)."""
    return photo_shape[0] // size, photo_shape[1] // size


# ---------------------------------------------------------------------------------------------- demo
class SuperResolutionDataModule(GANDataModule):
    """The offline super-resolution demo: random HR crops of scikit-image's bundled colour photos and their
    bicubic-downsampled LR images, batches ``(condition, image)`` = (LR, HR) in [-1, 1].

    Training: ``crops_per_epoch`` crops of ``hr_size`` from the ``photos`` (the same number from each,
    at positions drawn uniformly from ``seed``; with ``augment`` each crop also gets one of the 8 flips and
    90-degree rotations, drawn from the same seed). They are drawn once, at setup, and held in memory (HR as
    one byte a pixel, LR in floats): every epoch sees the same crops in a new order (the sampler's
    permutation of ``seed + epoch``, resumed mid-epoch like every lit-gans loader), and two DataModules with
    the same arguments hold the same crops.

    Validation: the held-out ``val_photo`` cut into all non-overlapping ``hr_size`` tiles that fit, row by row
    from its top-left corner (``val_grid``: rows and columns), each tile's LR image downsampled on its own as
    the training crops are. ``val_photo_pair()`` gives the whole photo for figures. The held-out photo must
    not be among ``photos``; no training crop is cut from it.

    Photos that load offline (``PHOTOS``, scikit-image 0.26, all 8-bit RGB): astronaut (512x512), chelsea
    (300x451, a cat), coffee (400x600), hubble_deep_field (872x1000), immunohistochemistry (512x512), retina
    (1411x1411, a fundus photo, much of it black) and rocket (427x640). Grey images (camera, coins...) and
    those scikit-image must download are not offered.

    Args:
        photos: the training photos, names from ``PHOTOS``.
        val_photo: the held-out validation photo, a name from ``PHOTOS`` not in ``photos``.
        scale: the upsampling factor, a power of two (4 in the paper).
        hr_size: side of the HR crops (96 in the paper; 32, whose LR side is 8 at scale 4, trains on a CPU);
            a multiple of ``scale``, at most the smallest photo's side.
        crops_per_epoch: training crops (the size of an epoch).
        augment: give each crop one of the 8 flips and 90-degree rotations (drawn once, with the crops).
        seed: seed of the crops (not of the training order, which follows the run's seed).
        batch_size: pairs per batch, per process (16 in the paper).
        num_workers: DataLoader worker processes (0 is fastest: batches are slices of tensors).
        pin_memory: pin host memory.
        train_fraction: share of the training crops kept (the same crops in every run); validation keeps
            all its tiles. 1 keeps all.

    Attributes:
        data_shape: the HR image's shape, ``(3, hr_size, hr_size)``.
        condition_shape: the LR image's shape, ``(3, hr_size // scale, hr_size // scale)``.
        scale, hr_size, lr_size: the factor and the sides of the HR and LR images.
        val_grid: ``(rows, cols)`` of the validation tiles (set by ``setup``; None before).
    """

    batch_fields = ("condition", "image")
    num_classes = 0

    def __init__(
        self,
        photos: Sequence[str] = TRAIN_PHOTOS,
        val_photo: str = VAL_PHOTO,
        scale: int = 4,
        hr_size: int = 32,
        crops_per_epoch: int = 4096,
        augment: bool = True,
        seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        photos = [photos] if isinstance(photos, str) else list(photos)
        if not photos:
            raise ConfigError(f"data.photos is empty; name at least one of {list(PHOTOS)} to train on")
        unknown = [p for p in photos if p not in PHOTOS]
        if unknown:
            raise ConfigError(
                f"data.photos names {unknown}, which are not scikit-image colour photos that load offline; use names "
                f"from {list(PHOTOS)}"
            )
        twice = sorted({p for p in photos if photos.count(p) > 1})
        if twice:
            raise ConfigError(f"data.photos names {twice} more than once; name each photo once (crops are shared out evenly)")
        if val_photo not in PHOTOS:
            raise ConfigError(
                f"data.val_photo={val_photo!r} is not a scikit-image colour photo that loads offline; use one of "
                f"{[p for p in PHOTOS if p not in photos]} (not in data.photos)"
            )
        if val_photo in photos:
            free = [p for p in PHOTOS if p not in photos]
            raise ConfigError(
                f"data.val_photo={val_photo!r} is also in data.photos, so validation would measure photos it trained "
                f"on; remove it from data.photos" + (f" or hold out one of {free}" if free else "")
            )
        check_scale(scale)
        check_hr_size(hr_size, scale)
        if isinstance(crops_per_epoch, bool) or not isinstance(crops_per_epoch, int) or crops_per_epoch < 1:
            raise ConfigError(f"data.crops_per_epoch={crops_per_epoch!r} must be a positive integer; use e.g. 4096")
        self.photos, self.val_photo = tuple(photos), val_photo
        self.scale, self.hr_size, self.lr_size = scale, hr_size, hr_size // scale
        self.crops_per_epoch, self.augment, self.seed = crops_per_epoch, bool(augment), seed
        self.data_shape = (3, hr_size, hr_size)
        self.condition_shape = (3, self.lr_size, self.lr_size)
        self.val_grid: Optional[tuple[int, int]] = None

    @property
    def evaluation(self) -> DataEvaluation:
        """None of the unconditional image metrics: the super-resolution family measures PSNR and SSIM."""
        return DataEvaluation()

    def _check_fits(self, name: str, photo: np.ndarray, setting: str) -> None:
        h, w = photo.shape[:2]
        if min(h, w) < self.hr_size:
            raise ConfigError(
                f"data.hr_size={self.hr_size} is larger than photo {name!r} ({h}x{w}) of {setting}; use "
                f"data.hr_size {min(h, w) - min(h, w) % self.scale} or less, or another photo"
            )

    def train_crops(self) -> SuperResPairs:
        """The training pairs (all ``crops_per_epoch``, before ``train_fraction``), as ``draw_crops`` places them."""
        images = [load_photo(name) for name in self.photos]
        for name, photo in zip(self.photos, images):
            self._check_fits(name, photo, "data.photos")
        size = self.hr_size
        origins = draw_crops([p.shape[:2] for p in images], self.crops_per_epoch, size, self.seed, self.augment)
        crops = np.empty((len(origins), size, size, 3), dtype=np.uint8)
        for i, (p, top, left, k) in enumerate(origins):
            crops[i] = dihedral(images[p][top : top + size, left : left + size], int(k))
        hr = torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous()
        return pairs_of(hr, self.scale, torch.from_numpy(origins), self.photos)

    def val_tiles(self) -> SuperResPairs:
        """The validation pairs: the held-out photo's non-overlapping ``hr_size`` tiles, row by row."""
        photo = load_photo(self.val_photo)
        self._check_fits(self.val_photo, photo, "data.val_photo")
        size = self.hr_size
        rows, cols = tile_grid(photo.shape[:2], size)
        hr = photo_tensor(photo[: rows * size, : cols * size])
        tiles = hr.reshape(3, rows, size, cols, size).permute(1, 3, 0, 2, 4).reshape(rows * cols, 3, size, size)
        r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
        origins = torch.stack([torch.zeros(rows * cols, dtype=torch.long), r.reshape(-1) * size, c.reshape(-1) * size,
                               torch.zeros(rows * cols, dtype=torch.long)], dim=1)
        self.val_grid = (rows, cols)
        return pairs_of(tiles.contiguous(), self.scale, origins, (self.val_photo,))

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        return self.train_crops(), self.val_tiles()

    def val_photo_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole held-out photo, for figures: ``(lr, hr)``, float (1, 3, h / scale, w / scale) and
        (1, 3, h, w) in [-1, 1]; the photo is cropped at its bottom and right to ``h`` and ``w``, the
        largest multiples of ``scale``, and downsampled whole with ``bicubic_downsample``."""
        photo = load_photo(self.val_photo)
        h, w = photo.shape[0] - photo.shape[0] % self.scale, photo.shape[1] - photo.shape[1] % self.scale
        hr = to_unit(photo_tensor(photo[:h, :w])).unsqueeze(0)
        return bicubic_downsample(hr, self.scale), hr


# ---------------------------------------------------------------------------------------------- your folder
class RandomCropPairs(Dataset):
    """Image files -> ``(lr, hr)``: a random ``size`` crop of the image (with ``augment``, also a random
    one of the 8 flips and 90-degree rotations) and its ``bicubic_downsample``. The crop is drawn anew at
    every access from torch's generator (the main process's global one, or the worker's own seeded one).
    A file that fails to decode is skipped, with a warning, in favour of the next."""

    def __init__(self, files: Sequence[Path], size: int, scale: int, augment: bool):
        self.files, self.size, self.scale, self.augment = list(files), size, scale, augment
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> np.ndarray:
        """File ``i`` (or the next one that decodes) as uint8 RGB (H, W, 3)."""
        for k in range(len(self.files)):
            path = str(self.files[(i + k) % len(self.files)])
            try:
                return np.asarray(_load_image(path).convert("RGB"))
            except _UnreadableImage:
                if path not in self._warned:
                    self._warned.add(path)
                    warnings.warn(f"SuperResolutionFolderDataModule: skipped {path}, which cannot be decoded; "
                                  "delete or replace it", stacklevel=2)
        raise DatasetNotFoundError("no image of the folder can be decoded; set data.path to a folder of readable images")

    def window(self, h: int, w: int) -> tuple[int, int, int]:
        """Top, left and dihedral ``k`` of this access's crop of an image of ``h`` x ``w``."""
        top = int(torch.randint(h - self.size + 1, ()).item())
        left = int(torch.randint(w - self.size + 1, ()).item())
        k = int(torch.randint(8, ()).item()) if self.augment else 0
        return top, left, k

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.load(i)
        top, left, k = self.window(*image.shape[:2])
        crop = dihedral(image[top : top + self.size, left : left + self.size], k)
        hr = to_unit(photo_tensor(crop))
        return bicubic_downsample(hr, self.scale), hr


class CentreCropPairs(RandomCropPairs):
    """As ``RandomCropPairs`` with the centre crop and no flip: the same pair at every access."""

    def __init__(self, files: Sequence[Path], size: int, scale: int):
        super().__init__(files, size, scale, augment=False)

    def window(self, h: int, w: int) -> tuple[int, int, int]:
        return (h - self.size) // 2, (w - self.size) // 2, 0


class SuperResolutionFolderDataModule(GANDataModule):
    """Your own HR images for super-resolution (e.g. DIV2K's 800 training images, or ImageNet photos as in
    the paper): batches ``(condition, image)`` = (LR, HR) in [-1, 1], RGB (grey images are converted).

    Training: every access to an image cuts a new random ``hr_size`` crop (and, with ``augment``, one of the
    8 flips and 90-degree rotations): the only random part, drawn from torch's generator (each DataLoader
    worker's own seeded one), so the crops of a resumed run differ from an uninterrupted one's. An epoch is
    one crop per training image. Validation: the centre ``hr_size`` crop of each held-out image.
    Images decode at every access: for large images (DIV2K's are 2K) use ``num_workers`` or pre-cut them into
    sub-images. Images smaller than ``hr_size`` and files that cannot be read are skipped with a warning.

    Args:
        path: the folder of HR images (.png, .jpg...; not searched recursively).
        hr_size: side of the HR crops (96 in the paper); a multiple of ``scale``.
        scale: the upsampling factor, a power of two (4 in the paper).
        val_fraction: share of the images held out for validation (0: one training image validates).
        augment: random flips and 90-degree rotations of the training crops.
        seed: seed of the train/validation split.
        batch_size: pairs per batch, per process (16 in the paper).
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training images kept (the same images in every run). 1 keeps all.

    Attributes:
        data_shape, condition_shape, scale, hr_size, lr_size: as ``SuperResolutionDataModule``'s.
    """

    batch_fields = ("condition", "image")
    num_classes = 0

    def __init__(
        self,
        path: str,
        hr_size: int = 96,
        scale: int = 4,
        val_fraction: float = 0.05,
        augment: bool = True,
        seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        check_scale(scale)
        check_hr_size(hr_size, scale)
        check_val_fraction(val_fraction)
        self.scale, self.hr_size, self.lr_size = scale, hr_size, hr_size // scale
        self.val_fraction, self.augment, self.seed = val_fraction, bool(augment), seed
        self.data_shape = (3, hr_size, hr_size)
        self.condition_shape = (3, self.lr_size, self.lr_size)
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise DatasetNotFoundError(
                f"HR image folder {self.path} does not exist; set data.path to a directory of high-resolution images "
                "(e.g. DIV2K's DIV2K_train_HR)"
            )
        self.files = _image_files(self.path)
        if not self.files:
            raise DatasetNotFoundError(
                f"no images in {self.path}; put high-resolution .png/.jpg files there (e.g. DIV2K's) or set data.path"
            )

    @property
    def evaluation(self) -> DataEvaluation:
        """None of the unconditional image metrics: the super-resolution family measures PSNR and SSIM."""
        return DataEvaluation()

    def usable_files(self) -> list[Path]:
        """The files whose header PIL reads and whose sides are at least ``hr_size``; a warning names the rest."""
        from PIL import Image

        usable, unreadable, small = [], [], []
        for path in self.files:
            try:
                with Image.open(path) as image:
                    w, h = image.size
                    image.verify()
            except Exception:  # PIL raises many types (UnidentifiedImageError, SyntaxError, OSError, ...)
                unreadable.append(str(path))
                continue
            (usable if min(w, h) >= self.hr_size else small).append(path)
        if unreadable:
            warnings.warn(f"SuperResolutionFolderDataModule: skipped {len(unreadable)} file(s) in {self.path} that cannot "
                          f"be decoded: {_shown(unreadable)}; delete or replace them", stacklevel=2)
        if small:
            warnings.warn(f"SuperResolutionFolderDataModule: skipped {len(small)} image(s) smaller than data.hr_size="
                          f"{self.hr_size}: {_shown([p.name for p in small])}; lower data.hr_size to use them", stacklevel=2)
        if not usable:
            raise DatasetNotFoundError(
                f"no image in {self.path} can be decoded and is at least data.hr_size={self.hr_size} px on each side; "
                "add larger images or lower data.hr_size"
            )
        return usable

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        files = self.usable_files()
        train, val = _split(len(files), self.val_fraction, self.seed)
        return (
            RandomCropPairs([files[i] for i in train], self.hr_size, self.scale, self.augment),
            CentreCropPairs([files[i] for i in val], self.hr_size, self.scale),
        )


__all__ = [
    "PHOTOS",
    "TRAIN_PHOTOS",
    "VAL_PHOTO",
    "CentreCropPairs",
    "RandomCropPairs",
    "SuperResPairs",
    "SuperResolutionDataModule",
    "SuperResolutionFolderDataModule",
    "bicubic_downsample",
    "dihedral",
    "draw_crops",
    "load_photo",
    "tile_grid",
]
