"""Paired image-to-image data (pix2pix): each sample is an input image A and the target image B it maps to.

Batches are ``(condition, image)``: the input A and the target B (``batch_fields``). Two DataModules:

* ``PairedFolderDataModule``: your own pairs, as pix2pix ships them (facades, edges2shoes: A and B side by
  side in one file) or as two folders of images paired by file name;
* ``EdgesDataModule``: the offline demo, "edges -> item": the Canny edge map of a Fashion-MNIST item (or of
  one of scikit-learn's bundled digits) is the input, the grey item the target.

The in-memory demo data (also ``ClassPairDataModule`` in ``datamodules.unpaired``) is built here too:
``DemoImages`` reads the grey images, ``grey_codes`` turns them into the networks' tensors stored as one
byte a pixel, and ``canny_edges`` finds the edges of a whole stack at once.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.base import (
    SUBSET_SEED,
    GANDataModule,
    ImageTransform,
    TensorBatches,
    build_augmentations,
    check_val_fraction,
    stratified_subset,
)
from datamodules.image_folder import _decodes, _image_files, _load_image, _UnreadableImage
from lit_gans.errors import ConfigError, DatasetNotFoundError
from lit_gans.metrics.spec import DataEvaluation

#: the datasets behind the offline demos (``EdgesDataModule``, ``ClassPairDataModule``)
DEMO_DATASETS = ("fashion_mnist", "digits")
#: the classes of both demo datasets (Fashion-MNIST's items, the digits 0-9)
DEMO_CLASSES = 10
LAYOUTS = ("side_by_side", "folders")
DIRECTIONS = ("AtoB", "BtoA")
#: images per stack that ``transform_stack`` sizes at once (OpenCV handles at most 512 channels)
STACK = 512
#: images per stack that ``canny_edges`` filters at once (a few tens of MB of float64 at 32 px)
CANNY_STACK = 2048


# ---------------------------------------------------------------------------------------------- checks
def check_channels(name: str, channels: Optional[int], optional: bool = False) -> None:
    if optional and channels is None:
        return
    if channels not in (1, 3):
        raise ConfigError(
            f"data.{name}={channels} is not supported: use 1 (grey) or 3 (RGB); images are converted"
            + ("; null: the same as data.channels" if optional else "")
        )


def check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ConfigError(f"data.image_size={image_size} must be a positive number of pixels")


def check_demo_dataset(dataset: str) -> None:
    if dataset not in DEMO_DATASETS:
        raise ConfigError(
            f"data.dataset={dataset!r} is unknown; use 'fashion_mnist' (Fashion-MNIST, found where Debian's "
            "dataset-fashion-mnist installs it or in data.data_dir) or 'digits' (scikit-learn's bundled 8x8 digits)"
        )


def to_unit_tensor(image: np.ndarray) -> torch.Tensor:
    """An albumentations output (H, W[, C]), uint8 in [0, 255] or float in [0, 1], as a float tensor
    (C, H, W) in [-1, 1]."""
    if image.ndim == 2:
        image = image[:, :, None]
    image = image.transpose(2, 0, 1)
    x = torch.from_numpy(np.ascontiguousarray(image) if image.flags.writeable else image.copy())
    if x.dtype == torch.uint8:
        return x.float() / 127.5 - 1.0
    return x.float() * 2.0 - 1.0


# ---------------------------------------------------------------------------------------------- paired folders
class PairedTransform:
    """A pair of images (numpy, (H, W, C) uint8) -> two float tensors (C, S, S) in [-1, 1].

    The user's augmentations see both images as one (albumentations' ``additional_targets``): a random crop
    takes the same window of A and of B, a random flip flips both. Then both are resized to ``image_size``.
    B must have A's height and width (``PairedImages`` resizes it to A's when a folder pair differs).
    """

    def __init__(self, image_size: int, augmentations: Sequence[dict] | None = None):
        import albumentations as A

        self.random = bool(augmentations)
        self.pipeline = A.Compose(
            build_augmentations(augmentations) + [A.Resize(image_size, image_size)],
            additional_targets={"image_b": "image"},
        )

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.pipeline(image=a, image_b=b)
        return to_unit_tensor(out["image"]), to_unit_tensor(out["image_b"])


def _pil_array(image, channels: int) -> np.ndarray:
    """A PIL image as uint8 (H, W, channels)."""
    array = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    return array[:, :, None] if array.ndim == 2 else array


class PairedImages(Dataset):
    """Pairs of image files -> ``(condition, image)``: the input and the target tensors.

    Each item of ``pairs`` is ``(file, None)`` (A and B side by side in one file: A is the left half, B the
    right; an odd last column is dropped) or ``(file_a, file_b)``. ``swap`` makes B the input (``BtoA``).
    A pair whose file cannot be decoded when loaded is skipped, with a warning naming it once, in favour of
    the next pair.
    """

    def __init__(self, pairs: list[tuple[Path, Optional[Path]]], transform: PairedTransform, channels: int,
                 channels_b: int, swap: bool = False):
        self.pairs, self.transform, self.swap = pairs, transform, swap
        self.channels, self.channels_b = channels, channels_b
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``i`` as uint8 arrays (A, B) of the same height and width."""
        from PIL import Image

        path_a, path_b = self.pairs[i]
        if path_b is None:
            both = _load_image(str(path_a))
            half = both.width // 2
            if half < 1:
                raise _UnreadableImage(f"{path_a} (1 px wide: not two images side by side)")
            a, b = both.crop((0, 0, half, both.height)), both.crop((half, 0, 2 * half, both.height))
        else:
            a, b = _load_image(str(path_a)), _load_image(str(path_b))
            if b.size != a.size:
                b = b.resize(a.size, Image.BICUBIC)
        return _pil_array(a, self.channels), _pil_array(b, self.channels_b)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        for k in range(len(self.pairs)):
            try:
                a, b = self.load((i + k) % len(self.pairs))
                break
            except _UnreadableImage as err:
                if str(err) not in self._warned:
                    self._warned.add(str(err))
                    cause = err.__cause__
                    why = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
                    warnings.warn(f"PairedFolderDataModule: skipped {err}, which cannot be decoded{why}; "
                                  "delete or replace it", stacklevel=2)
        else:
            raise DatasetNotFoundError("no image pair can be decoded; set data.path to a folder of readable images")
        a_t, b_t = self.transform(a, b)
        return (b_t, a_t) if self.swap else (a_t, b_t)


def _shown(names: Sequence[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def pair_by_name(folder_a: Path, folder_b: Path) -> list[tuple[Path, Path]]:
    """The images of two folders paired by file name without its extension (``1.jpg`` pairs with
    ``1.png``), sorted by name. A name found in one folder only, or twice in one folder, is an error."""
    found = {}
    for folder in (folder_a, folder_b):
        names: dict[str, Path] = {}
        for path in _image_files(folder):
            if path.stem in names:
                raise DatasetNotFoundError(
                    f"{folder} holds two images named {path.stem} ({names[path.stem].name}, {path.name}); "
                    "images are paired by name, so keep one of them"
                )
            names[path.stem] = path
        found[folder] = names
    a, b = found[folder_a], found[folder_b]
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        parts = [f"{len(names)} in {folder} only ({_shown(names)})"
                 for names, folder in ((only_a, folder_a), (only_b, folder_b)) if names]
        raise DatasetNotFoundError(
            f"images of data.path and data.path_b are paired by file name, but {len(only_a) + len(only_b)} names "
            f"have no partner: {'; '.join(parts)}; give each A image a B image of the same name"
        )
    return [(a[name], b[name]) for name in sorted(a)]


def _folder_images(path: Path, name: str) -> list[Path]:
    if not path.is_dir():
        raise DatasetNotFoundError(f"image folder {path} does not exist; set data.{name} to a directory of images")
    files = _image_files(path)
    if not files:
        raise DatasetNotFoundError(f"no images in {path}; put .png/.jpg files there or set data.{name}")
    return files


def _split(n: int, val_fraction: float, seed) -> tuple[list[int], list[int]]:
    """Training and validation indices of ``n`` items, as ``ImageFolderDataModule`` splits them: with
    ``val_fraction`` 0, one training item validates."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = int(round(val_fraction * n))
    return order[n_val:], order[:n_val] or order[:1]


class PairedFolderDataModule(GANDataModule):
    """Your own image pairs for pix2pix (Isola et al. 2017): batches ``(condition, image)``, the input A
    and the target B.

    Two layouts: ``side_by_side`` (pix2pix's facades, maps, edges2shoes...: every image in ``path`` is A and
    B concatenated horizontally, A on the left; it is split at half its width) and ``folders`` (A images in
    ``path``, B images in ``path_b``, paired by file name without extension: ``0001.jpg`` with ``0001.png``;
    a B image of another size is resized to its A's). ``direction: BtoA`` learns B -> A instead (pix2pix
    trains facades that way: labels -> photo).

    Augmentations apply to A and B alike (the same crop window, the same flip), then both are resized to
    ``image_size``. pix2pix's jitter is ``[{name: Resize, height: 286, width: 286}, {name: RandomCrop,
    height: 256, width: 256}, {name: HorizontalFlip, p: 0.5}]``. Files that cannot be decoded are skipped
    with a warning, as ``ImageFolderDataModule`` skips them.

    Args:
        path: the folder of side-by-side images, or of the A images (``layout: folders``).
        layout: ``"side_by_side"`` or ``"folders"``.
        path_b: the folder of the B images (``layout: folders`` only).
        direction: ``"AtoB"`` (A is the input, B the target) or ``"BtoA"``.
        channels: channels of the A images (left halves, or ``path``): 1 (grey) or 3 (RGB).
        channels_b: channels of the B images (right halves, or ``path_b``); null: as ``channels``.
        image_size: side of the square images the networks see.
        augmentations: albumentations transforms applied to both images alike, as
            ``[{name: HorizontalFlip, p: 0.5}]``.
        val_fraction: share of the pairs held out for validation (0: one training pair validates).
        seed: seed of the train/validation split.
        batch_size: pairs per batch, per process (pix2pix: 1).
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training pairs kept (the same pairs in every run); validation keeps its
            whole split. 1 keeps all.

    Attributes:
        data_shape: the target's shape (C_b, S, S) (``channels`` instead with ``BtoA``).
        condition_shape: the input's shape (C_a, S, S).
    """

    batch_fields = ("condition", "image")
    num_classes = 0

    def __init__(
        self,
        path: str,
        layout: str = "side_by_side",
        path_b: Optional[str] = None,
        direction: str = "AtoB",
        channels: int = 3,
        channels_b: Optional[int] = None,
        image_size: int = 256,
        augmentations: list[dict] | None = None,
        val_fraction: float = 0.05,
        seed: int = 0,
        batch_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        if layout not in LAYOUTS:
            raise ConfigError(f"data.layout={layout!r} is unknown; use 'side_by_side' (A|B in one image) or 'folders' "
                              "(data.path and data.path_b)")
        if direction not in DIRECTIONS:
            raise ConfigError(f"data.direction={direction!r} is unknown; use 'AtoB' or 'BtoA'")
        if layout == "folders" and path_b is None:
            raise ConfigError("data.layout='folders' needs data.path_b, the folder of the B images")
        if layout == "side_by_side" and path_b is not None:
            raise ConfigError("data.path_b is for data.layout='folders'; side-by-side images hold A and B in one file")
        check_channels("channels", channels)
        check_channels("channels_b", channels_b, optional=True)
        check_image_size(image_size)
        check_val_fraction(val_fraction)
        self.layout, self.direction, self.image_size = layout, direction, image_size
        self.channels, self.channels_b = channels, channels if channels_b is None else channels_b
        self.val_fraction, self.seed = val_fraction, seed
        self.transform = PairedTransform(image_size, augmentations)
        shape_a, shape_b = (self.channels, image_size, image_size), (self.channels_b, image_size, image_size)
        self.condition_shape, self.data_shape = (shape_b, shape_a) if direction == "BtoA" else (shape_a, shape_b)
        self.path = Path(path).expanduser()
        self.path_b = None if path_b is None else Path(path_b).expanduser()
        files = _folder_images(self.path, "path")
        if self.path_b is None:
            self.pairs: list[tuple[Path, Optional[Path]]] = [(f, None) for f in files]
        else:
            _folder_images(self.path_b, "path_b")
            self.pairs = pair_by_name(self.path, self.path_b)

    @property
    def evaluation(self) -> DataEvaluation:
        """None of the unconditional image metrics: the image-to-image families compute their own."""
        return DataEvaluation()

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        skipped = [str(f) for pair in self.pairs for f in pair if f is not None and not _decodes(f)]
        if skipped:
            warnings.warn(
                f"PairedFolderDataModule: skipped {len(skipped)} image file(s) that cannot be decoded (corrupt, "
                f"truncated or not images), and their pairs: {_shown(skipped)}; delete or replace them", stacklevel=2
            )
        bad = set(skipped)
        pairs = [pair for pair in self.pairs if not any(str(f) in bad for f in pair if f is not None)]
        if not pairs:
            raise DatasetNotFoundError(f"no image pair in {self.path} can be decoded; set data.path to a folder of readable images")
        train, val = _split(len(pairs), self.val_fraction, self.seed)
        swap = self.direction == "BtoA"

        def subset(indices: list[int]) -> PairedImages:
            return PairedImages([pairs[i] for i in indices], self.transform, self.channels, self.channels_b, swap)

        return subset(train), subset(val)


# ---------------------------------------------------------------------------------------------- in-memory demo data
class DemoImages:
    """The grey images behind the offline demos: Fashion-MNIST's train and test splits, read by
    ``FashionMNISTDataModule`` (Debian's copy, ``data_dir``, or a download), or scikit-learn's bundled digits
    split as ``DigitsDataModule`` splits them (``val_fraction``, ``seed``).

    ``transform`` is the ``ImageTransform`` that sizes them (``fit``: None pads Fashion-MNIST's 28 px and
    resizes the 8 px digits).
    """

    def __init__(self, dataset: str, data_dir: str, image_size: int, fit: Optional[str], val_fraction: float, seed: int,
                 download: bool = False):
        check_demo_dataset(dataset)
        check_image_size(image_size)
        check_val_fraction(val_fraction)
        self.dataset, self.data_dir, self.download = dataset, data_dir, download
        self.val_fraction, self.seed = val_fraction, seed
        self.fit = fit if fit is not None else ("pad" if dataset == "fashion_mnist" else "resize")
        self.transform = ImageTransform(1, image_size, self.fit)
        self._fashion = None

    def fashion(self):
        """The ``FashionMNISTDataModule`` that finds and reads Fashion-MNIST (made when first needed)."""
        if self._fashion is None:
            from datamodules.torchvision_sets import FashionMNISTDataModule

            self._fashion = FashionMNISTDataModule(data_dir=self.data_dir, download=self.download, fit=self.fit)
        return self._fashion

    def prepare_data(self) -> None:
        if self.dataset == "fashion_mnist":
            self.fashion().prepare_data()

    def splits(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``((images, labels), (images, labels))`` of the training and validation splits: uint8 (N, H, W)
        and int64 (N,)."""
        if self.dataset == "digits":
            from datamodules.digits import split_digits

            images, labels, train, val = split_digits(self.val_fraction, self.seed)
            return (images[train], labels[train]), (images[val], labels[val])
        self.prepare_data()
        parts = []
        for train in (True, False):
            reader = self.fashion().dataset(train=train)
            parts.append((reader.data.numpy(), reader.targets.numpy().astype(np.int64)))
        return parts[0], parts[1]


def transform_stack(transform: ImageTransform, images: np.ndarray) -> torch.Tensor:
    """``transform`` of each grey uint8 image of ``images`` (N, H, W): float (N, S, S), equal to
    transforming them one by one but many times faster: up to ``STACK`` images go through the pipeline at
    once, as the channels of one image (sizing and normalising treat channels alike). For transforms without
    random augmentations."""
    out = []
    for start in range(0, len(images), STACK):
        chunk = np.ascontiguousarray(images[start : start + STACK].transpose(1, 2, 0))
        sized = transform.pipeline(image=chunk)["image"]
        out.append(sized.reshape(chunk.shape[2], *sized.shape[-2:]))
    if not out:
        size = transform.pipeline(image=np.zeros((*images.shape[1:], 1), np.uint8))["image"].shape[-1]
        return torch.zeros((0, size, size))
    return torch.cat(out)


def grey_codes(transform: ImageTransform, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``transform`` of grey uint8 images (N, H, W), stored as one byte a pixel: ``(codes, levels)``, uint8
    codes (N, 1, S, S) and the float value of each of the 256 codes, so that ``levels[codes.long()]`` is
    exactly what ``transform`` makes of each image (sizing without random augmentations keeps uint8 values,
    and the scaling to [-1, 1] maps each value alone). A quarter of the memory of float tensors: 60,000
    Fashion-MNIST items at 32 px take 61 MB."""
    levels_in = np.broadcast_to(np.arange(256, dtype=np.uint8)[:, None, None], (256, *images.shape[1:]))
    sized = transform_stack(transform, levels_in)
    levels = sized[:, sized.shape[1] // 2, sized.shape[2] // 2].contiguous()  # a pixel of the image, not of padding
    if not bool((levels[1:] > levels[:-1]).all()):
        raise RuntimeError("the image transform does not map grey levels to increasing values; it cannot be stored as codes")
    codes = []
    for start in range(0, len(images), STACK * 8):
        x = transform_stack(transform, images[start : start + STACK * 8])
        code = ((x + 1.0) * 127.5).round_().clamp_(0, 255).long()  # levels[v] is v / 127.5 - 1 up to rounding
        if not torch.equal(levels[code], x):
            raise RuntimeError("the image transform made values that are no grey level; it cannot be stored as codes")
        codes.append(code.to(torch.uint8).unsqueeze(1))
    size = sized.shape[-1]
    return (torch.cat(codes) if codes else torch.zeros((0, 1, size, size), dtype=torch.uint8)), levels


def canny_edges(images: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """``skimage.feature.canny(image, sigma)`` of each image of a stack (N, H, W) of floats in [0, 1], with
    its default thresholds: bool (N, H, W), the same edges, bit for bit.

    A call per image spends ~0.5 ms on overhead at 32 px (half a minute for Fashion-MNIST); this runs
    Canny's steps on ``CANNY_STACK`` images at once: the Gaussian smoothing and Sobel gradients image by
    image along the image axes, then the non-maximum suppression and hysteresis of scikit-image on the
    images stacked vertically (the border pixels of each image are never edges, so neither step mixes two
    images). Where scikit-image's non-maximum suppression is not where this version expects it, the images
    go through ``canny`` one by one.
    """
    import scipy.ndimage as ndi
    from skimage.feature import canny
    from skimage.filters import gaussian

    n, h, w = images.shape
    try:
        from skimage.feature._canny_cy import _nonmaximum_suppression_bilinear as suppress
    except ImportError:  # a private function: fall back to the public one, slower
        suppress = None
    if suppress is None or h < 3 or w < 3:
        return np.stack([canny(np.asarray(image, np.float64), sigma) for image in images]) if n else np.zeros((0, h, w), bool)
    # as canny's _preprocess without a mask: the smoothing renormalised at the borders (mode 'constant')
    smoothing = dict(sigma=sigma, mode="constant", cval=0.0, preserve_range=False)
    bleed_over = gaussian(np.ones((h, w)), **smoothing) + np.finfo(np.float64).eps
    inside = np.ones((h, w), bool)
    inside[0, :] = inside[-1, :] = inside[:, 0] = inside[:, -1] = False
    edges = np.empty((n, h, w), bool)
    for start in range(0, n, CANNY_STACK):
        x = np.ascontiguousarray(images[start : start + CANNY_STACK], dtype=np.float64)
        k = len(x)
        smoothed = gaussian(x, channel_axis=0, **smoothing)
        smoothed /= bleed_over
        # ndi.sobel(smoothed, axis) of each image: the derivative along axis, then [1, 2, 1] along the other
        jsobel = ndi.correlate1d(smoothed, [-1, 0, 1], 2, mode="reflect")
        ndi.correlate1d(jsobel, [1, 2, 1], 1, jsobel, mode="reflect")
        isobel = ndi.correlate1d(smoothed, [-1, 0, 1], 1, mode="reflect")
        ndi.correlate1d(isobel, [1, 2, 1], 2, isobel, mode="reflect")
        magnitude = isobel * isobel
        magnitude += jsobel * jsobel
        np.sqrt(magnitude, out=magnitude)
        mask = np.broadcast_to(inside, (k, h, w)).reshape(k * h, w)
        low = suppress(isobel.reshape(k * h, w), jsobel.reshape(k * h, w), magnitude.reshape(k * h, w), mask, 0.1)
        low_mask = low > 0
        labels, count = ndi.label(low_mask, np.ones((3, 3), bool))
        keep = np.zeros(count + 1, bool)
        keep[np.unique(labels[low_mask & (low >= 0.2)])] = True
        keep[0] = False
        edges[start : start + k] = keep[labels].reshape(k, h, w)
    return edges


class PairedTensors(TensorBatches):
    """In-memory pairs, handed out a whole batch at a time: ``(condition, image)``, the edge map (uint8 0/1,
    served as -1/+1) and the grey target (uint8 codes into ``levels``, served as floats in [-1, 1]).

    ``labels`` keeps each pair's class (not served; for metrics and ``train_fraction``).
    """

    def __init__(self, conditions: torch.Tensor, samples: torch.Tensor, levels: torch.Tensor, labels: torch.Tensor):
        super().__init__(samples, torch.as_tensor(labels))
        self.conditions, self.levels = conditions, levels

    def images(self, index) -> torch.Tensor:
        """The targets at ``index``, as floats."""
        return self.levels[self.samples[index].long()]

    def edges(self, index) -> torch.Tensor:
        """The inputs at ``index``, as floats: +1 on edges, -1 elsewhere."""
        return self.conditions[index].float() * 2.0 - 1.0

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All inputs and targets, as floats."""
        everything = slice(None)
        return self.edges(everything), self.images(everything)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.edges(i), self.images(i)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.edges(index), self.images(index)

    def subset(self, indices: torch.Tensor) -> "PairedTensors":
        part = copy.copy(self)
        part.conditions, part.samples, part.labels = self.conditions[indices], self.samples[indices], self.labels[indices]
        return part


class EdgesDataModule(GANDataModule):
    """The offline pix2pix demo, "edges -> item" (as pix2pix's edges2shoes, Isola et al. 2017): the input is
    the Canny edge map of a grey image, the target the image. Batches ``(condition, image)``, one channel
    each: edges +1 on black (-1), and the image in [-1, 1].

    The images are Fashion-MNIST's (``dataset: fashion_mnist``: shoes, bags, shirts...; its own train/test
    splits, found where Debian's ``dataset-fashion-mnist`` installs it) or scikit-learn's bundled 8x8 digits
    (``dataset: digits``: seconds on a CPU). Each image is sized to ``image_size`` first; its edges are
    ``skimage.feature.canny(image, sigma)`` of the sized image rescaled to [0, 1] (default thresholds). Both
    are computed once, at setup (seconds for Fashion-MNIST's 70,000), and held in memory, one byte a pixel.
    The classes are kept, not served: ``train_set.labels``.

    Args:
        dataset: ``"fashion_mnist"`` or ``"digits"``.
        data_dir: where Fashion-MNIST is looked for (``data_dir/FashionMNIST/raw``; Debian's copy is
            unpacked there).
        image_size: side of the square images the networks see.
        fit: ``"pad"`` or ``"resize"``; null: pad Fashion-MNIST's 28 px, resize the 8 px digits.
        sigma: the width of Canny's Gaussian smoothing (more: fewer, smoother edges).
        val_fraction: share of the digits held out for validation (Fashion-MNIST validates on its test split).
        seed: seed of the digits' train/validation split.
        batch_size: pairs per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training pairs kept, each class in proportion (the same pairs in every
            run); validation keeps its whole split. 1 keeps all.
        download: let torchvision download Fashion-MNIST into ``data_dir`` (needs internet).

    Attributes:
        data_shape, condition_shape: ``(1, image_size, image_size)``.
    """

    batch_fields = ("condition", "image")
    num_classes = 0

    def __init__(
        self,
        dataset: str = "fashion_mnist",
        data_dir: str = "data",
        image_size: int = 32,
        fit: Optional[str] = None,
        sigma: float = 1.0,
        val_fraction: float = 0.1,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
        download: bool = False,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 <= sigma < float("inf"):
            raise ConfigError(f"data.sigma={sigma} must be >= 0: the width of Canny's smoothing, e.g. 1")
        self.source = DemoImages(dataset, data_dir, image_size, fit, val_fraction, seed, download)
        self.dataset, self.sigma, self.image_size = dataset, float(sigma), image_size
        self.val_fraction, self.seed = val_fraction, seed
        self.data_shape = self.condition_shape = (1, image_size, image_size)

    @property
    def evaluation(self) -> DataEvaluation:
        """None of the unconditional image metrics: the image-to-image families compute their own."""
        return DataEvaluation()

    def prepare_data(self) -> None:
        self.source.prepare_data()

    def pairs(self, images: np.ndarray, labels: np.ndarray) -> PairedTensors:
        """The edge maps and sized images of grey uint8 images (N, H, W)."""
        codes, levels = grey_codes(self.source.transform, images)
        edges = torch.empty_like(codes)
        for start in range(0, len(codes), CANNY_STACK):  # a stack at a time: float64 copies of all would be large
            unit = (levels[codes[start : start + CANNY_STACK, 0].long()].double() + 1.0) / 2.0
            edges[start : start + CANNY_STACK, 0] = torch.from_numpy(canny_edges(unit.numpy(), self.sigma))
        return PairedTensors(edges, codes, levels, torch.as_tensor(labels, dtype=torch.long))

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        train, val = self.source.splits()
        return self.pairs(*train), self.pairs(*val)

    def training_subset(self, dataset: Dataset) -> Dataset:
        """``train_fraction`` of each class (the pairs are labelled, though batches do not carry labels)."""
        if self.train_fraction >= 1.0:
            return dataset
        return dataset.subset(stratified_subset(len(dataset), self.train_fraction, dataset.labels, SUBSET_SEED))


__all__ = [
    "DEMO_DATASETS",
    "DemoImages",
    "EdgesDataModule",
    "PairedFolderDataModule",
    "PairedImages",
    "PairedTensors",
    "PairedTransform",
    "canny_edges",
    "grey_codes",
    "transform_stack",
]
