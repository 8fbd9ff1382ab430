"""SRGAN's networks (``lit_gans.nets.superres``) and the super-resolution data (``datamodules.superres``):
shapes, the layers the paper names, the VGG cut and its errors, and LR/HR pairs cut from scikit-image's
bundled photos or a folder, all small enough for a CPU."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from datamodules.superres import (
    PHOTOS,
    SuperResolutionDataModule,
    SuperResolutionFolderDataModule,
    bicubic_downsample,
    dihedral,
    load_photo,
)
from lit_gans.errors import CheckpointError, ConfigError, DatasetNotFoundError
from lit_gans.metrics.spec import DataEvaluation
from lit_gans.nets.superres import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG19_URL,
    SRDiscriminator,
    SRResidualBlock,
    SRResNetGenerator,
    VGGFeatures,
)


def images(n: int, c: int, h: int, w: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w or h, generator=g) * 2 - 1


def count(net: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


# ---------------------------------------------------------------------------------------------- generator


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_generator_upsamples_by_scale_with_one_pixel_shuffle_per_factor_of_two(scale):
    torch.manual_seed(0)
    net = SRResNetGenerator(channels=3, scale=scale, width=8, n_blocks=3)
    shuffles = [m for m in net.modules() if isinstance(m, nn.PixelShuffle)]
    assert len(shuffles) == {2: 1, 4: 2, 8: 3}[scale]
    assert all(m.upscale_factor == 2 for m in shuffles)
    for stage in net.upsample:  # conv to 4 * width, shuffle back to width, PReLU
        conv, shuffle, act = stage
        assert conv.out_channels == 32 and isinstance(shuffle, nn.PixelShuffle) and isinstance(act, nn.PReLU)
    out = net(images(2, 3, 6, 5))  # fully convolutional: any size, not only squares
    assert out.shape == (2, 3, 6 * scale, 5 * scale)
    assert torch.isfinite(out).all() and out.std() > 0


def test_generator_layers_are_the_papers():
    net = SRResNetGenerator(channels=3, scale=4, width=8, n_blocks=5)
    assert len(net.blocks) == 5 and count(net, SRResidualBlock) == 5
    assert count(net, nn.BatchNorm2d) == 2 * 5 + 1  # two per block and one after them
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [9] + [3] * (2 * 5 + 1) + [3, 3] + [9]
    assert convs[-1].out_channels == 3
    assert not any(isinstance(m, (nn.Tanh, nn.Sigmoid, nn.Hardtanh)) for m in net.modules())
    assert SRResNetGenerator().n_blocks == 16 and count(SRResNetGenerator(), SRResidualBlock) == 16
    # the paper's SRResNet has about 1.5 M parameters
    assert 1.4e6 < sum(p.numel() for p in SRResNetGenerator().parameters()) < 1.6e6


def test_generator_output_is_linear_not_squashed_to_the_image_range():
    torch.manual_seed(0)
    net = SRResNetGenerator(channels=1, scale=2, width=4, n_blocks=1).eval()
    with torch.no_grad():
        net.tail.bias.fill_(3.0)
    out = net(images(1, 1, 4))
    assert out.min() > 1.5  # a tanh or clamp would keep it in [-1, 1]


def test_residual_block_and_long_skip_carry_their_input():
    torch.manual_seed(0)
    block = SRResidualBlock(4).eval()
    with torch.no_grad():
        block.block[-1].weight.zero_()
        block.block[-1].bias.zero_()
    x = images(2, 4, 5)
    assert torch.equal(block(x), x)

    net = SRResNetGenerator(channels=3, scale=2, width=4, n_blocks=2).eval()
    with torch.no_grad():
        net.body_end[1].weight.zero_()  # the blocks' path gives 0: only the long skip is left
        net.body_end[1].bias.zero_()
    lr = images(1, 3, 6)
    with torch.no_grad():
        assert torch.allclose(net(lr), net.tail(net.upsample(net.head(lr))))


@pytest.mark.parametrize("scale", [1, 3, 6, 0, True, 4.0])
def test_generator_scale_must_be_a_power_of_two(scale):
    with pytest.raises(ConfigError, match="scale"):
        SRResNetGenerator(scale=scale, width=4, n_blocks=1)


def test_generator_rejects_wrong_channels():
    with pytest.raises(ConfigError, match=r"\(N, 3, H, W\)"):
        SRResNetGenerator(channels=3, scale=2, width=4, n_blocks=1)(images(1, 1, 8))


# ---------------------------------------------------------------------------------------------- discriminator


def test_discriminator_layers_and_logits():
    torch.manual_seed(0)
    net = SRDiscriminator(channels=3, image_size=32, width=4)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 8, 8, 16, 16, 32, 32]
    assert [c.stride[0] for c in convs] == [1, 2] * 4
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert count(net, nn.BatchNorm2d) == 7 and not isinstance(net.features[1], nn.BatchNorm2d)
    assert all(m.negative_slope == 0.2 for m in net.modules() if isinstance(m, nn.LeakyReLU))
    dense = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(d.in_features, d.out_features) for d in dense] == [(32 * 2 * 2, 1024), (1024, 1)]
    logits = net(images(5, 3, 32))
    assert logits.shape == (5,) and torch.isfinite(logits).all() and logits.std() > 0
    paper = SRDiscriminator()  # 96 px: 512 x 6 x 6 flattened into 1024 units
    assert [m for m in paper.modules() if isinstance(m, nn.Linear)][0].in_features == 512 * 6 * 6


@pytest.mark.parametrize("size", [40, 8, 100])
def test_discriminator_needs_a_multiple_of_16(size):
    with pytest.raises(ConfigError, match="divisible by 16"):
        SRDiscriminator(image_size=size, width=4)


def test_discriminator_rejects_another_size():
    net = SRDiscriminator(image_size=32, width=4)
    with pytest.raises(ConfigError, match="32x32"):
        net(images(2, 3, 48))


# ---------------------------------------------------------------------------------------------- VGG features


@pytest.fixture(scope="module")
def vgg(tmp_path_factory):
    """A randomly initialised torchvision VGG19 and its weights saved as torchvision's file holds them (the
    ``features.*`` entries, and one of the classifier's, which must be ignored)."""
    from torchvision.models import vgg19

    torch.manual_seed(0)
    model = vgg19(weights=None).eval()
    state = {k: v for k, v in model.state_dict().items() if k.startswith("features.")}
    state["classifier.6.bias"] = model.state_dict()["classifier.6.bias"]
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.save(state, path)
    return model, path


def _normalised(x: torch.Tensor) -> torch.Tensor:
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


@pytest.mark.parametrize("layer, channels, reduction, n_layers", [("relu5_4", 512, 16, 36), ("relu2_2", 128, 2, 9)])
def test_vgg_cut_after_the_named_relu(vgg, layer, channels, reduction, n_layers):
    model, path = vgg
    net = VGGFeatures(str(path), layer=layer)
    assert len(net.features) == n_layers and isinstance(net.features[-1], nn.ReLU)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.features[-2:])  # before the block's max pool
    assert net.out_channels == channels and net.reduction == reduction
    x = images(2, 3, 32)
    with torch.no_grad():
        out = net(x)
        expected = model.features[:n_layers](_normalised(x)) / 12.75
    assert out.shape == (2, channels, 32 // reduction, 32 // reduction)
    assert torch.allclose(out, expected, atol=1e-5) and out.abs().sum() > 0


def test_vgg_is_frozen_but_passes_gradients_to_its_input(vgg):
    net = VGGFeatures(str(vgg[1]), layer="relu2_2")
    assert all(not p.requires_grad for p in net.parameters())
    assert not net.training and not net.train().training
    assert not any(m.training for m in net.modules())
    sr, hr = images(1, 3, 16, seed=1).requires_grad_(True), images(1, 3, 16, seed=2)
    loss = net.loss(sr, hr)
    loss.backward()
    assert loss > 0 and sr.grad is not None and sr.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
    assert net.loss(hr, hr) == 0
    assert "mean" not in net.state_dict() and "features.0.weight" in net.state_dict()


def test_vgg_normalises_and_repeats_grey_inputs(vgg):
    net = VGGFeatures(str(vgg[1]), layer="relu2_2")
    seen = []
    net.features[0].register_forward_hook(lambda m, inputs, out: seen.append(inputs[0]))
    x = images(2, 3, 8)
    net(x)
    assert torch.allclose(seen[0], _normalised(x), atol=1e-6)
    grey = images(2, 1, 8, seed=3)
    with torch.no_grad():
        assert torch.allclose(net(grey), net(grey.repeat(1, 3, 1, 1)))
    white = torch.ones(1, 3, 2, 2)
    net(white)
    assert torch.allclose(seen[-1][0, :, 0, 0], (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD))
    with pytest.raises(ConfigError, match="1 or 3"):
        net(images(1, 2, 8))


def test_vgg_rescale_is_the_papers_by_default(vgg):
    x = images(1, 3, 16)
    with torch.no_grad():
        scaled = VGGFeatures(str(vgg[1]), layer="relu2_2")(x)
        raw = VGGFeatures(str(vgg[1]), layer="relu2_2", rescale=1.0)(x)
    assert torch.allclose(raw, scaled * 12.75, atol=1e-5)


def test_vgg_missing_file_says_where_to_get_it(tmp_path):
    path = tmp_path / "vgg19-dcbbe3c0.pth"
    with pytest.raises(ConfigError) as err:
        VGGFeatures(str(path))
    message = str(err.value)
    assert str(path) in message and VGG19_URL in message and "pixel" in message and "\n" not in message


def test_vgg_rejects_files_that_are_not_vgg19_weights(tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a PyTorch weights file") as err:
        VGGFeatures(str(garbage))
    assert "\n" not in str(err.value) and VGG19_URL in str(err.value)

    vgg16 = tmp_path / "vgg16.pth"  # VGG16's features: 13 convs, so the indices of VGG19's are missing
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}, vgg16)
    with pytest.raises(CheckpointError, match="does not hold VGG19's weights") as err:
        VGGFeatures(str(vgg16))
    assert "\n" not in str(err.value)

    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="missing"):
        VGGFeatures(str(other))
    with pytest.raises(ConfigError, match="relu5_4"):
        VGGFeatures(str(other), layer="conv5_4")


# ---------------------------------------------------------------------------------------------- demo data


def small(**kwargs) -> SuperResolutionDataModule:
    args = dict(crops_per_epoch=60, batch_size=8, hr_size=32, scale=4)
    args.update(kwargs)
    dm = SuperResolutionDataModule(**args)
    dm.setup("fit")
    return dm


@pytest.fixture(scope="module")
def demo():
    return small()


def test_offline_photos_are_rgb_and_the_default_split_is_disjoint():
    dm = SuperResolutionDataModule()
    assert dm.val_photo not in dm.photos and dm.val_photo == "coffee"
    assert set(dm.photos) | {dm.val_photo} <= set(PHOTOS) and "cat" not in PHOTOS
    for name in PHOTOS:
        photo = load_photo(name)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3


def test_batches_through_the_train_dataloader(demo):
    assert demo.batch_fields == ("condition", "image")
    assert demo.data_shape == (3, 32, 32) and demo.condition_shape == (3, 8, 8)
    assert demo.num_classes == 0 and demo.scale == 4 and demo.lr_size == 8
    assert demo.evaluation == DataEvaluation()
    batch = next(iter(demo.train_dataloader()))
    lr, hr = batch
    assert lr.shape == (8, 3, 8, 8) and hr.shape == (8, 3, 32, 32)
    assert lr.dtype == hr.dtype == torch.float32
    for x in (lr, hr):
        assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.05
    val = next(iter(demo.val_dataloader()))
    assert val[0].shape == (8, 3, 8, 8) and val[1].shape == (8, 3, 32, 32)


def test_lr_is_the_antialiased_bicubic_downsample_of_hr(demo):
    lr, hr = next(iter(demo.train_dataloader()))
    expected = F.interpolate(hr, size=(8, 8), mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
    assert torch.allclose(lr, expected, atol=1e-6)
    plain = F.interpolate(hr, size=(8, 8), mode="bicubic", align_corners=False).clamp(-1, 1)
    assert (lr - plain).abs().max() > 0.05  # antialiased: not bicubic sampling alone
    # close to PIL's BICUBIC resize of the 8-bit crop
    crop = ((hr[0] + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    pil = np.asarray(Image.fromarray(crop).resize((8, 8), Image.BICUBIC)).astype(np.float32) / 127.5 - 1
    assert np.abs(pil - lr[0].permute(1, 2, 0).numpy()).max() < 2 / 127.5


def test_training_crops_are_cut_from_the_training_photos_only(demo):
    train = demo.train_set
    assert train.photos == demo.photos and demo.val_photo not in train.photos
    photos = [load_photo(name) for name in train.photos]
    counts = np.bincount(train.origins[:, 0].numpy(), minlength=len(photos))
    assert counts.tolist() == [12] * 5  # 60 crops shared out evenly
    for (p, top, left, k), crop in zip(train.origins.tolist(), train.samples):
        window = photos[p][top : top + 32, left : left + 32]
        assert np.array_equal(dihedral(window, k), crop.permute(1, 2, 0).numpy())
    assert len(set(train.origins[:, 3].tolist())) > 1  # augment: flips and rotations
    held_out = {tile.numpy().tobytes() for tile in demo.val_set.samples}
    assert not any(crop.numpy().tobytes() in held_out for crop in train.samples)


def test_dihedral_gives_the_8_flips_and_rotations():
    image = np.arange(2 * 3 * 1).reshape(2, 3, 1)
    outs = [dihedral(image, k) for k in range(8)]
    assert np.array_equal(outs[0], image)
    assert np.array_equal(outs[1][:, :, 0], [[2, 5], [1, 4], [0, 3]])  # a quarter turn anticlockwise
    assert np.array_equal(outs[4][:, :, 0], [[2, 1, 0], [5, 4, 3]])  # a left-right flip
    assert len({o.tobytes() + bytes(o.shape) for o in outs}) == 8


def test_validation_tiles_cover_the_held_out_photo(demo):
    photo = load_photo("coffee")
    rows, cols = demo.val_grid
    assert (rows, cols) == (400 // 32, 600 // 32)
    tiles = demo.val_set.samples
    assert len(tiles) == rows * cols
    whole = tiles.reshape(rows, cols, 3, 32, 32).permute(2, 0, 3, 1, 4).reshape(3, rows * 32, cols * 32)
    assert np.array_equal(whole.permute(1, 2, 0).numpy(), photo[: rows * 32, : cols * 32])
    assert photo.shape[0] - rows * 32 < 32 and photo.shape[1] - cols * 32 < 32
    lr, hr = demo.val_set[5]
    assert torch.allclose(lr, bicubic_downsample(hr, 4))

    lr, hr = demo.val_photo_pair()
    assert hr.shape == (1, 3, 400, 600) and lr.shape == (1, 3, 100, 150)
    assert torch.equal(((hr[0] + 1) * 127.5).round().byte().permute(1, 2, 0), torch.from_numpy(photo))
    assert torch.allclose(lr, bicubic_downsample(hr, 4))


def test_crops_are_reproducible_and_follow_the_seed(demo):
    again = small()
    assert torch.equal(again.train_set.samples, demo.train_set.samples)
    assert torch.equal(again.train_set.conditions, demo.train_set.conditions)
    other = small(seed=1)
    assert not torch.equal(other.train_set.origins, demo.train_set.origins)
    plain = small(augment=False)
    assert (plain.train_set.origins[:, 3] == 0).all()
    half = small(train_fraction=0.5)
    assert len(half.train_set) == 30 and len(half.val_set) == len(demo.val_set)
    photos = [load_photo(name) for name in half.train_set.photos]
    (p, top, left, k), crop = half.train_set.origins[0].tolist(), half.train_set.samples[0]
    assert np.array_equal(dihedral(photos[p][top : top + 32, left : left + 32], k), crop.permute(1, 2, 0).numpy())
    lr, hr = half.train_set[0]
    assert torch.allclose(lr, bicubic_downsample(hr, 4))


def test_other_scales_and_sizes():
    dm = small(scale=2, hr_size=16, photos=["rocket"], val_photo="chelsea", crops_per_epoch=8)
    lr, hr = next(iter(dm.train_dataloader()))
    assert lr.shape == (8, 3, 8, 8) and hr.shape == (8, 3, 16, 16)
    assert dm.condition_shape == (3, 8, 8) and dm.val_grid == (300 // 16, 451 // 16)


@pytest.mark.parametrize(
    "kwargs, setting",
    [
        (dict(hr_size=30), "data.hr_size=30"),
        (dict(hr_size=0), "data.hr_size"),
        (dict(scale=3, hr_size=36), "data.scale=3"),
        (dict(scale=1), "data.scale=1"),
        (dict(photos=["astronaut", "lena"]), "data.photos"),
        (dict(photos=[]), "data.photos"),
        (dict(photos=["astronaut", "astronaut"]), "more than once"),
        (dict(photos=["astronaut", "coffee"], val_photo="coffee"), "data.val_photo='coffee' is also in data.photos"),
        (dict(val_photo="camera"), "data.val_photo='camera'"),
        (dict(crops_per_epoch=0), "data.crops_per_epoch=0"),
        (dict(train_fraction=0), "data.train_fraction"),
    ],
)
def test_bad_arguments_name_the_setting(kwargs, setting):
    with pytest.raises(ConfigError) as err:
        SuperResolutionDataModule(**kwargs)
    assert setting in str(err.value)


def test_crops_larger_than_a_photo_are_refused_at_setup():
    dm = SuperResolutionDataModule(hr_size=320, photos=["astronaut", "chelsea"])
    with pytest.raises(ConfigError, match="data.hr_size=320 is larger than photo 'chelsea'"):
        dm.setup("fit")


# ---------------------------------------------------------------------------------------------- your folder


def _write_images(folder, sizes, seed=0):
    rng = np.random.default_rng(seed)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")


def test_folder_module_errors(tmp_path):
    missing = tmp_path / "DIV2K_train_HR"
    with pytest.raises(DatasetNotFoundError, match="does not exist") as err:
        SuperResolutionFolderDataModule(str(missing))
    assert str(missing) in str(err.value) and "data.path" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetNotFoundError, match="no images in") as err:
        SuperResolutionFolderDataModule(str(empty))
    assert str(empty) in str(err.value)
    with pytest.raises(ConfigError, match="data.hr_size=30"):
        SuperResolutionFolderDataModule(str(empty), hr_size=30)
    with pytest.raises(ConfigError, match="data.val_fraction"):
        SuperResolutionFolderDataModule(str(empty), val_fraction=1.0)
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    _write_images(tiny, [(20, 20)])
    dm = SuperResolutionFolderDataModule(str(tiny), hr_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DatasetNotFoundError, match="at least data.hr_size=32"):
            dm.setup("fit")


def test_folder_module_random_crops_and_centre_validation(tmp_path):
    _write_images(tmp_path, [(40, 48), (36, 50), (44, 40), (48, 48), (20, 20)])
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    dm = SuperResolutionFolderDataModule(str(tmp_path), hr_size=32, scale=4, val_fraction=0.25, batch_size=2)
    assert dm.data_shape == (3, 32, 32) and dm.condition_shape == (3, 8, 8) and dm.batch_fields == ("condition", "image")
    assert dm.evaluation == DataEvaluation()
    with pytest.warns(UserWarning) as caught:
        dm.setup("fit")
    text = " ".join(str(w.message) for w in caught)
    assert "broken.png" in text and "04.png" in text  # unreadable, and smaller than hr_size
    assert len(dm.train_set) == 3 and len(dm.val_set) == 1
    torch.manual_seed(0)
    lr, hr = next(iter(dm.train_dataloader()))
    assert lr.shape == (2, 3, 8, 8) and hr.shape == (2, 3, 32, 32)
    assert hr.min() >= -1 and hr.max() <= 1
    assert torch.allclose(lr, bicubic_downsample(hr, 4), atol=1e-6)

    # a training crop is a window of its image, in one of the 8 flips and rotations; crops differ by access
    train = dm.train_set
    image = np.asarray(Image.open(train.files[0]).convert("RGB"))
    torch.manual_seed(1)
    _, crop = train[0]
    crop = ((crop + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    h, w = image.shape[:2]
    found = any(
        np.array_equal(dihedral(image[t : t + 32, l : l + 32], k), crop)
        for t in range(h - 31) for l in range(w - 31) for k in range(8)
    )
    assert found
    crops = [train[0][1] for _ in range(6)]
    assert any(not torch.equal(crops[0], other) for other in crops[1:])

    # validation: the centre crop, the same at every access
    val_file = dm.val_set.files[0]
    image = np.asarray(Image.open(val_file).convert("RGB"))
    top, left = (image.shape[0] - 32) // 2, (image.shape[1] - 32) // 2
    lr, hr = dm.val_set[0]
    assert torch.equal(((hr + 1) * 127.5).round().byte().permute(1, 2, 0), torch.from_numpy(image[top : top + 32, left : left + 32].copy()))
    assert torch.equal(dm.val_set[0][1], hr) and torch.allclose(lr, bicubic_downsample(hr, 4))
