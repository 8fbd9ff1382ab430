"""Networks of SRGAN (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network").

- ``SRResNetGenerator``: the paper's SRResNet. A 9x9 conv and PReLU; ``n_blocks`` residual blocks (3x3 conv,
  batch norm, PReLU, 3x3 conv, batch norm, plus the block's input); a 3x3 conv and batch norm plus the first
  layer's output (the long skip); ``log2(scale)`` stages of a 3x3 conv to ``4 * width`` channels, a pixel
  shuffle (Shi et al. 2016) that trades them for twice the height and width, and PReLU; a last 9x9 conv to
  the image's channels. The output is linear: it is trained towards images in [-1, 1] but not clamped
  there (clamp it for display).
- ``SRDiscriminator``: the paper's discriminator. Eight 3x3 convs with LeakyReLU 0.2 (``width``, ``width``,
  ``2 width``, ``2 width``, ``4 width``, ``4 width``, ``8 width``, ``8 width`` channels, strides alternating
  1 and 2, batch norm on all but the first), then a dense layer of 1024 units, LeakyReLU 0.2 and a dense
  layer to one logit per image. The dense layer reads the flattened ``8 width x image_size/16 x
  image_size/16`` features, so the discriminator takes images of the size it was built for only.
- ``VGGFeatures``: the frozen VGG19 (Simonyan and Zisserman 2015) of the paper's perceptual content loss,
  cut after a named ReLU (``relu5_4``: the paper's VGG54; ``relu2_2``: its VGG22), with ImageNet weights
  read from a local torchvision file that users download themselves.

Convs followed by a batch norm have no bias (the norm's shift replaces it); all others have one. The
constructors keep PyTorch's default initialisation (the paper names none); ``init_weights`` of
``lit_gans.nets.translation`` applies N(0, 0.02) if a family wants it. PReLUs have one slope per channel
(He et al. 2015's channel-wise form), initialised to 0.25.
"""

from __future__ import annotations

import math
from pathlib import Path
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import CheckpointError, ConfigError

#: where torchvision's ImageNet weights of VGG19 are published (``torchvision.models.VGG19_Weights``)
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbbe3c0.pth"
#: the paper's scaling of the VGG features: divided by 12.75 before their mean squared error
VGG_RESCALE = 1 / 12.75
#: ImageNet's mean and standard deviation per RGB channel, of images in [0, 1]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: VGG19's convs per block (torchvision's configuration "E"): 64, 128, 256, 512, 512 channels
VGG19_BLOCKS = (2, 2, 4, 4, 4)
VGG19_WIDTHS = (64, 128, 256, 512, 512)


def _vgg19_layer_ends() -> dict[str, int]:
    """``{"relu1_1": 2, ..., "relu5_4": 36}``: how many layers of ``vgg19().features`` end with the output of
    ReLU ``j`` of block ``i`` (block ``i`` is followed by a 2x2 max pool)."""
    ends, index = {}, 0
    for block, convs in enumerate(VGG19_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            index += 2  # the conv and its ReLU
            ends[f"relu{block}_{conv}"] = index
        index += 1  # the max pool
    return ends


#: the ReLUs ``VGGFeatures`` can cut VGG19 after, and the number of ``features`` layers up to each
VGG19_LAYERS = _vgg19_layer_ends()


def _check_positive(net: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not (isinstance(value, int) and value >= 1):
            raise ConfigError(f"{net}: {name}={value!r} must be a positive integer; use {name} >= 1")


def check_scale(scale: int, where: str = "SRResNetGenerator") -> int:
    """``scale`` is a power of two of at least 2 (one pixel-shuffle stage per factor of 2); its log2."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2 or scale & (scale - 1):
        raise ConfigError(
            f"{where}: scale={scale!r} is not a power of two of at least 2; use scale 2, 4 (the paper) or 8: "
            "the generator upsamples by pixel-shuffle stages of 2"
        )
    return int(math.log2(scale))


def _check_images(net: str, x: Tensor, channels: int) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ConfigError(f"{net} takes images of shape (N, {channels}, H, W), not {tuple(x.shape)}")


# ---------------------------------------------------------------------------------------------- generator


class SRResidualBlock(nn.Module):
    """x + [3x3 conv, batch norm, PReLU, 3x3 conv, batch norm](x): SRResNet's residual block.

    Args:
        channels: channels in and out.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class SRResNetGenerator(nn.Module):
    """SRResNet: a low-resolution image (N, channels, H, W) -> (N, channels, H * scale, W * scale).

    Images are in [-1, 1] on both sides; the output is linear (no tanh, as in the paper), so it can leave
    that range slightly: clamp it for display and metrics. Fully convolutional: any H and W.

    Args:
        channels: channels of the images (3 for RGB).
        scale: upsampling factor, a power of two (4 in the paper); ``log2(scale)`` pixel-shuffle stages.
        width: channels of the feature maps (64 in the paper).
        n_blocks: residual blocks (16 in the paper).

    Attributes:
        head: the 9x9 conv and PReLU whose output the long skip carries.
        blocks: the ``n_blocks`` ``SRResidualBlock``.
        body_end: the 3x3 conv and batch norm after the blocks, before the long skip is added.
        upsample: the pixel-shuffle stages, each (3x3 conv to ``4 * width``, ``PixelShuffle(2)``, PReLU).
        tail: the last 9x9 conv to ``channels``.
    """

    def __init__(self, channels: int = 3, scale: int = 4, width: int = 64, n_blocks: int = 16):
        super().__init__()
        net = type(self).__name__
        _check_positive(net, channels=channels, width=width)
        if isinstance(n_blocks, bool) or not (isinstance(n_blocks, int) and n_blocks >= 0):
            raise ConfigError(f"{net}: n_blocks={n_blocks!r} must be a non-negative integer; use n_blocks >= 0 (16 in the paper)")
        stages = check_scale(scale, net)
        self.channels, self.scale, self.width, self.n_blocks = channels, scale, width, n_blocks
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.blocks = nn.Sequential(*[SRResidualBlock(width) for _ in range(n_blocks)])
        self.body_end = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        self.upsample = nn.Sequential(
            *[
                nn.Sequential(nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width))
                for _ in range(stages)
            ]
        )
        self.tail = nn.Conv2d(width, channels, 9, 1, 4)

    def forward(self, lr: Tensor) -> Tensor:
        _check_images(type(self).__name__, lr, self.channels)
        skip = self.head(lr)
        x = self.body_end(self.blocks(skip)) + skip
        return self.tail(self.upsample(x))


# ------------------------------------------------------------------------------------------ discriminator


class SRDiscriminator(nn.Module):
    """SRGAN's discriminator: images (N, channels, image_size, image_size) -> logits (N,).

    Eight 3x3 convs (padding 1) with LeakyReLU 0.2: ``width`` channels with stride 1 and no norm, then
    ``width`` (stride 2), ``2 width`` (1), ``2 width`` (2), ``4 width`` (1), ``4 width`` (2), ``8 width`` (1),
    ``8 width`` (2), each with batch norm; the four stride-2 convs divide the side by 16. The features are
    flattened (``8 width * (image_size / 16)**2`` values: 18,432 at the paper's 96 px) into a dense layer of
    1024 units, LeakyReLU 0.2, and a dense layer to one logit (no sigmoid: use a with-logits loss).

    Args:
        channels: channels of the images.
        image_size: side of the square images it judges; a multiple of 16 (96 in the paper).
        width: channels of the first conv (64 in the paper).
        hidden: units of the first dense layer (1024 in the paper).
    """

    def __init__(self, channels: int = 3, image_size: int = 96, width: int = 64, hidden: int = 1024):
        super().__init__()
        net = type(self).__name__
        _check_positive(net, channels=channels, image_size=image_size, width=width, hidden=hidden)
        if image_size % 16:
            fits = max(16, 16 * round(image_size / 16))
            raise ConfigError(
                f"{net}: image_size={image_size} is not divisible by 16, which its four stride-2 convs need; "
                f"use a multiple of 16 such as {fits} (the paper: 96)"
            )
        self.channels, self.image_size, self.width = channels, image_size, width
        plan = [(width, 1), (width, 2), (2 * width, 1), (2 * width, 2), (4 * width, 1), (4 * width, 2), (8 * width, 1), (8 * width, 2)]
        layers: list[nn.Module] = []
        c_in = channels
        for i, (c_out, stride) in enumerate(plan):
            layers.append(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = image_size // 16
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * side * side, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        net = type(self).__name__
        _check_images(net, x, self.channels)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ConfigError(
                f"{net} was built for {self.image_size}x{self.image_size} images (its dense layer reads their "
                f"flattened features), not {x.shape[-2]}x{x.shape[-1]}; set its image_size to the HR crop size"
            )
        return self.head(self.features(x)).squeeze(1)


# ------------------------------------------------------------------------------------------ VGG features


def _vgg19_features() -> nn.Sequential:
    """The layers of torchvision's ``vgg19(weights=None).features``, built without its 120M-parameter
    classifier."""
    try:
        from torchvision.models.vgg import cfgs, make_layers

        return make_layers(cfgs["E"], batch_norm=False)
    except (ImportError, KeyError):  # torchvision reorganised its module: build the whole network
        from torchvision.models import vgg19

        return vgg19(weights=None).features


def _check_input_channels(net: str, x: Tensor) -> None:
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ConfigError(f"{net} takes images of shape (N, 1 or 3, H, W) in [-1, 1], not {tuple(x.shape)}")


def _missing_weights(path: Path) -> ConfigError:
    return ConfigError(
        f"VGG19 weights file {path} does not exist; download torchvision's ImageNet weights from {VGG19_URL} "
        "and set the path to it, or leave the VGG content loss off: without it the pixel (MSE) content loss is used"
    )


class VGGFeatures(nn.Module):
    """The frozen VGG19 feature map of SRGAN's content loss: images (N, C, H, W) in [-1, 1] ->
    ``rescale`` times the output of ReLU ``layer`` (N, K, H / 2**p, W / 2**p), ``p`` the max pools before it.

    Images are mapped to [0, 1] and normalised with ImageNet's mean and standard deviation, as VGG19 was
    trained; grey images (C = 1) are repeated to three channels. ``layer`` is ``"reluI_J"``, the ReLU after
    conv ``J`` of block ``I``, before that block's max pool: ``"relu5_4"`` is the paper's VGG54 (512
    channels at 1/16 of the size), ``"relu2_2"`` its VGG22 (128 channels at 1/2). The weights are read from
    ``weights_path``, torchvision's ``vgg19-dcbbe3c0.pth`` (``VGG19_URL``; only its ``features.*`` entries
    are used, the classifier's are ignored); nothing is downloaded. The parameters are frozen and the
    network stays in eval mode whatever ``train()`` asks; gradients still flow to the input.

    The paper divides the features by 12.75 (``rescale = 1 / 12.75``) so that their mean squared error is
    on the scale of the pixel loss; ``loss(sr, hr)`` is that error.

    Args:
        weights_path: a torchvision VGG19 state dict (the file at ``VGG19_URL``).
        layer: the ReLU to cut after, one of ``VGG19_LAYERS`` (``relu1_1`` .. ``relu5_4``).
        rescale: factor applied to the features (1 / 12.75 in the paper; 1 leaves them as they are).

    Raises:
        ConfigError: an unknown ``layer``, or no file at ``weights_path``.
        CheckpointError: a file that does not hold VGG19's weights.
    """

    def __init__(self, weights_path: str, layer: str = "relu5_4", rescale: float = VGG_RESCALE):
        super().__init__()
        net = type(self).__name__
        if layer not in VGG19_LAYERS:
            raise ConfigError(
                f"{net}: layer={layer!r} is not a ReLU of VGG19; use 'relu5_4' (the paper's VGG54), 'relu2_2' "
                f"(VGG22) or another of {list(VGG19_LAYERS)}"
            )
        if isinstance(rescale, bool) or not isinstance(rescale, (int, float)) or not 0 < rescale < float("inf"):
            raise ConfigError(f"{net}: rescale={rescale!r} must be a positive number; use 1/12.75 (the paper) or 1")
        self.layer, self.rescale = layer, float(rescale)
        self.weights_path = path = Path(weights_path).expanduser()
        if not path.is_file():
            raise _missing_weights(path)
        features = _vgg19_features()
        features.load_state_dict(self._read_features(path, features))
        end = VGG19_LAYERS[layer]
        self.features = features[:end]
        block = int(layer[4])
        self.out_channels = VGG19_WIDTHS[block - 1]
        self.reduction = 2 ** (block - 1)  # the max pools before the layer
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def _read_features(path: Path, features: nn.Sequential) -> dict[str, Tensor]:
        """The ``features.*`` entries of the file, renamed as ``features``' own and checked against them."""
        fix = f"use torchvision's VGG19 ImageNet weights, {VGG19_URL}"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle, zip and torch errors alike: not a weights file
            why = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise CheckpointError(
                f"{path} is not a PyTorch weights file ({type(err).__name__}{': ' + why[:120] if why else ''}); {fix}"
            ) from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict of VGG19's weights; {fix}")
        ours = features.state_dict()
        found = {k[len("features."):]: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
        missing = [k for k in ours if k not in found]
        if missing:
            raise CheckpointError(
                f"{path} does not hold VGG19's weights: {len(missing)} of its {len(ours)} feature tensors are "
                f"missing (features.{missing[0]} first); {fix}"
            )
        for key, value in ours.items():
            theirs = found[key]
            if not isinstance(theirs, Tensor) or theirs.shape != value.shape:
                shape = tuple(theirs.shape) if isinstance(theirs, Tensor) else type(theirs).__name__
                raise CheckpointError(
                    f"{path} does not hold VGG19's weights: features.{key} is {shape}, VGG19's is "
                    f"{tuple(value.shape)} (another network's weights?); {fix}"
                )
        extra = sorted(set(found) - set(ours))
        if extra:
            raise CheckpointError(
                f"{path} does not hold VGG19's weights: it has feature tensors VGG19 lacks (features.{extra[0]}; "
                f"VGG19 with batch norm?); {fix}"
            )
        return {k: found[k] for k in ours}

    def train(self, mode: bool = True) -> "VGGFeatures":
        """Stays in eval mode: the features are a fixed loss network."""
        return super().train(False)

    def normalize(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] (N, 1 or 3, H, W) as VGG19 reads them: RGB in [0, 1], ImageNet-normalised."""
        _check_input_channels(type(self).__name__, x)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return ((x + 1.0) / 2.0 - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.features(self.normalize(x)) * self.rescale

    def loss(self, sr: Tensor, hr: Tensor) -> Tensor:
        """The paper's VGG content loss: the mean squared error between the (rescaled) features of the
        super-resolved ``sr`` and of the real ``hr``; gradients flow to ``sr`` only."""
        with torch.no_grad():
            target = self(hr)
        return F.mse_loss(self(sr), target)

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}, rescale={self.rescale:.6g}, weights_path={str(self.weights_path)!r}"


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SRDiscriminator",
    "SRResNetGenerator",
    "SRResidualBlock",
    "VGG19_LAYERS",
    "VGG19_URL",
    "VGG_RESCALE",
    "VGGFeatures",
    "check_scale",
]
