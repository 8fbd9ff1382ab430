"""Context-encoder masks and networks in ``lit_gans.nets.inpainting``, at tiny widths."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_gans.errors import ConfigError
from lit_gans.nets.inpainting import (
    ChannelWiseLinear,
    ContextDiscriminator,
    ContextEncoder,
    apply_mask,
    center_mask,
    crop_center,
    overlap_weights,
    paste_center,
    random_block_mask,
)


def images(n: int, c: int, h: int, w: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w or h, generator=g) * 2 - 1


def count(net: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


def bbox(mask2d: torch.Tensor) -> tuple[int, int, int, int]:
    """(first row, last row, first column, last column) of the ones of a 2-D mask."""
    rows = mask2d.any(1).nonzero().flatten()
    cols = mask2d.any(0).nonzero().flatten()
    return rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()


# ---------------------------------------------------------------------------------------------- masks


@pytest.mark.parametrize("size, hole, top", [(16, None, 4), (128, None, 32), (16, 6, 5), (16, 5, 5), (9, 3, 3)])
def test_center_mask_hole_position_and_size(size, hole, top):
    mask = center_mask(3, size, hole)
    side = size // 2 if hole is None else hole
    assert mask.shape == (3, 1, size, size) and mask.dtype == torch.get_default_dtype()
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert (mask.sum(dim=(1, 2, 3)) == side * side).all()
    for i in range(3):
        assert bbox(mask[i, 0].bool()) == (top, top + side - 1, top, top + side - 1)
    assert mask[..., top : top + side, top : top + side].all()  # solid: the box is all ones
    assert crop_center(mask, side).all()  # the region crop_center cuts out


def test_center_mask_dtype_and_errors():
    assert center_mask(1, 16, dtype=torch.float64, device="cpu").dtype == torch.float64
    with pytest.raises(ConfigError, match=r"hole_size=16 .*1 <= hole_size < 16"):
        center_mask(1, 16, 16)
    with pytest.raises(ConfigError, match="hole_size=0"):
        center_mask(1, 16, 0)
    with pytest.raises(ConfigError, match="n=0"):
        center_mask(0, 16)


def test_random_block_mask_reproducible_under_a_seed_or_generator():
    torch.manual_seed(3)
    a = random_block_mask(8, 32)
    torch.manual_seed(3)
    b = random_block_mask(8, 32)
    torch.manual_seed(4)
    c = random_block_mask(8, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # each mask of a batch has its own blocks
    # a generator gives the same masks whatever the global state, and leaves the global state alone
    torch.manual_seed(0)
    state = torch.get_rng_state()
    d = random_block_mask(8, 32, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(1)
    e = random_block_mask(8, 32, generator=torch.Generator().manual_seed(7))
    f = random_block_mask(8, 32, generator=torch.Generator().manual_seed(8))
    assert torch.equal(d, e) and not torch.equal(d, f)
    assert random_block_mask(2, 32, generator=torch.Generator().manual_seed(7), dtype=torch.float64).dtype == torch.float64


def test_random_block_mask_covers_up_to_a_quarter():
    torch.manual_seed(0)
    mask = random_block_mask(2000, 32)  # 4 blocks of 8x8 = 1/16 each
    assert mask.shape == (2000, 1, 32, 32) and set(mask.unique().tolist()) == {0.0, 1.0}
    frac = mask.mean(dim=(1, 2, 3))
    assert (frac >= 1 / 16).all() and (frac <= 1 / 4).all()
    assert (frac == 1 / 4).any() and (frac < 1 / 4).any()  # disjoint blocks, and overlapping ones
    assert 0.20 < frac.mean().item() < 0.24  # about 0.22: the documented average
    # one block: a solid square of the given side, anywhere in the image (the corners reach the edges)
    one = random_block_mask(500, 16, hole_size=5, blocks=1)
    assert (one.sum(dim=(1, 2, 3)) == 25).all()
    boxes = torch.tensor([bbox(m[0].bool()) for m in one])
    assert ((boxes[:, 1] - boxes[:, 0]) == 4).all() and ((boxes[:, 3] - boxes[:, 2]) == 4).all()
    assert boxes[:, 0].min() == 0 and boxes[:, 1].max() == 15 and boxes[:, 2].min() == 0 and boxes[:, 3].max() == 15
    # more blocks cover more
    many = random_block_mask(200, 32, blocks=8).mean()
    assert many > frac.mean()


def test_random_block_mask_errors():
    with pytest.raises(ConfigError, match=r"hole_size=32 .*1 <= hole_size < 32"):
        random_block_mask(1, 32, hole_size=32)
    with pytest.raises(ConfigError, match="blocks=0"):
        random_block_mask(1, 32, blocks=0)


def test_overlap_weights_by_hand():
    mask = center_mask(1, 8, 4)  # hole: rows and columns 2 .. 5
    w = overlap_weights(mask, overlap=1, weight=10.0)
    expected = torch.zeros(8, 8)
    expected[2:6, 2:6] = 10.0  # the 1 px ring of the hole ...
    expected[3:5, 3:5] = 1.0  # ... and its 2x2 interior
    assert torch.equal(w[0, 0], expected)
    # the paper's numbers at 32 px: a 16 px hole, a 4 px band at 10x, an 8x8 interior at 1
    w = overlap_weights(center_mask(2, 32))
    assert w.shape == (2, 1, 32, 32)
    hole = crop_center(w, 16)
    assert (hole[..., 4:12, 4:12] == 1).all()
    assert (hole == 10).sum() == 2 * (16 * 16 - 8 * 8) and (hole == 1).sum() == 2 * 64
    assert w.sum() == hole.sum()  # known pixels weigh nothing
    # no overlap: every hole pixel 1; a band as wide as half the hole: every hole pixel at the weight
    assert torch.equal(overlap_weights(mask, overlap=0), mask)
    assert torch.equal(overlap_weights(mask, overlap=2, weight=3.0), 3.0 * mask)


def test_overlap_weights_ignore_the_image_edge():
    mask = torch.zeros(1, 1, 6, 6)
    mask[..., :4, :4] = 1  # a block in the top-left corner
    w = overlap_weights(mask, overlap=1, weight=10.0)[0, 0]
    expected = torch.zeros(6, 6)
    expected[:4, :4] = 10.0
    expected[:3, :3] = 1.0  # next to the image edge only: not near known context
    assert torch.equal(w, expected)


def test_overlap_weights_errors():
    with pytest.raises(ConfigError, match=r"mask of shape \(N, 1, H, W\)"):
        overlap_weights(torch.zeros(8, 8))
    with pytest.raises(ConfigError, match="overlap=-1"):
        overlap_weights(center_mask(1, 8), overlap=-1)
    with pytest.raises(ConfigError, match="weight=-1"):
        overlap_weights(center_mask(1, 8), weight=-1.0)


def test_apply_mask_fills_only_the_hole():
    torch.manual_seed(0)
    x = images(4, 3, 16).requires_grad_()
    mask = random_block_mask(4, 16)
    hole = mask.bool().expand(-1, 3, -1, -1)
    out = apply_mask(x, mask)
    assert out.shape == x.shape
    assert (out[hole] == 0).all() and torch.equal(out[~hole], x[~hole])
    assert (x[hole] != 0).all()  # the test is not vacuous
    out.sum().backward()
    assert (x.grad[hole] == 0).all() and (x.grad[~hole] == 1).all()  # the hole's old pixels are cut off
    # a constant fill, a per-channel fill (the dataset's mean colour) and a single mask for the batch
    assert (apply_mask(x, mask, fill=-0.5)[hole] == -0.5).all()
    mean = torch.tensor([0.1, 0.2, 0.3])
    filled = apply_mask(x.detach(), center_mask(1, 16), fill=mean)
    assert torch.equal(crop_center(filled, 8), mean.view(1, 3, 1, 1).expand(4, 3, 8, 8))
    assert torch.equal(apply_mask(x, torch.zeros(4, 1, 16, 16)), x)
    with pytest.raises(ConfigError, match="do not match"):
        apply_mask(x, center_mask(4, 32))


def test_crop_and_paste_center_round_trip():
    x = images(2, 3, 16)
    patch = images(2, 3, 8, seed=1)
    pasted = paste_center(x, patch)
    assert torch.equal(crop_center(pasted, 8), patch)
    hole = center_mask(2, 16).bool().expand(-1, 3, -1, -1)
    assert torch.equal(pasted[~hole], x[~hole])  # the context is untouched
    assert torch.equal(paste_center(x, crop_center(x, 8)), x)
    assert not torch.equal(x, pasted)  # a copy: the input is left alone
    assert torch.equal(crop_center(x, 8), x[..., 4:12, 4:12])
    assert crop_center(images(1, 1, 12, 20), 4).shape == (1, 1, 4, 4)
    assert torch.equal(crop_center(images(1, 1, 12, 20), 4), images(1, 1, 12, 20)[..., 4:8, 8:12])
    # differentiable with respect to the patch and the context
    p = patch.clone().requires_grad_()
    c = x.clone().requires_grad_()
    paste_center(c, p).sum().backward()
    assert (p.grad == 1).all() and (c.grad[hole] == 0).all() and (c.grad[~hole] == 1).all()
    with pytest.raises(ConfigError, match="does not fit"):
        paste_center(x, images(2, 3, 20))
    with pytest.raises(ConfigError, match="hole_size=17"):
        crop_center(x, 17)


# -------------------------------------------------------------------------------------- ContextEncoder


def test_context_encoder_predicts_the_centre_region():
    torch.manual_seed(0)
    net = ContextEncoder(channels=3, image_size=32, width=4)
    assert net.out_size == 16 and net.code_channels == 32  # defaults: the hole, 8 * width
    x = apply_mask(images(2, 3, 32), center_mask(2, 32))
    out = net(x)
    assert out.shape == (2, 3, 16, 16)
    assert out.abs().max() <= 1 and out.std() > 0
    assert paste_center(x, out).shape == x.shape


def test_context_encoder_whole_image_output_and_1x1_code():
    torch.manual_seed(0)
    net = ContextEncoder(channels=1, image_size=16, width=2, bottleneck=7, out_size=16)
    codes: list = []
    net.code.register_forward_hook(lambda m, i, o: codes.append(o))
    out = net(apply_mask(images(3, 1, 16), random_block_mask(3, 16)))
    assert out.shape == (3, 1, 16, 16) and out.abs().max() <= 1
    assert codes[0].shape == (3, 7, 1, 1)


def test_context_encoder_layers_at_the_papers_size():
    net = ContextEncoder(channels=3, image_size=128, width=4, bottleneck=10)
    convs = [m for m in net.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32, 32]  # doubling, capped at 8 * width, to 4x4
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert net.decoder_channels == [32, 16, 8, 4]  # at 4, 8, 16, 32 px; the output at 64 px
    ups = [m for m in net.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [32, 16, 8, 4, 3] and ups[0].stride == (1, 1)
    assert count(net.encoder, nn.BatchNorm2d) == 4 and count(net.encoder, nn.LeakyReLU) == 5
    assert isinstance(net.encoder[1], nn.LeakyReLU)  # no norm after the first conv
    assert count(net, nn.BatchNorm2d) == 4 + 1 + 4 and count(net.decoder, nn.ReLU) == 4
    assert isinstance(net.decoder[-1], nn.Tanh)
    assert convs[0].bias is not None and convs[1].bias is None  # no bias before a batch norm
    plain = ContextEncoder(3, 128, width=4, bottleneck=10, norm="none")
    assert count(plain, nn.BatchNorm2d) == 0 and all(c.bias is not None for c in plain.modules() if isinstance(c, nn.Conv2d))


@pytest.mark.parametrize("channel_fc", [False, True])
def test_context_encoder_output_depends_on_the_known_context(channel_fc):
    torch.manual_seed(0)
    net = ContextEncoder(channels=1, image_size=16, width=2, channel_fc=channel_fc).eval()
    x = images(1, 1, 16).requires_grad_()
    out = net(apply_mask(x, center_mask(1, 16)))
    out[0, 0, 4, 4].backward()  # the centre of the predicted hole
    assert x.grad[0, 0, 0, 0] != 0 and x.grad[0, 0, 15, 15] != 0  # the far corners of the context
    assert (crop_center(x.grad, 8) == 0).all()  # the hole's old pixels are invisible to it
    other = images(1, 1, 16, seed=1)
    other[..., 4:12, 4:12] = x.detach()[..., 4:12, 4:12]  # same hole contents, other context
    assert not torch.allclose(net(apply_mask(other, center_mask(1, 16))), out)


def test_channel_wise_fully_connected_layer():
    torch.manual_seed(0)
    layer = ChannelWiseLinear(3, 4)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 4**4  # m * n**4, the paper's count
    x = images(2, 3, 4).requires_grad_()
    out = layer(x)
    assert out.shape == (2, 3, 4, 4)
    out[0, 1, 0, 0].backward()
    assert (x.grad[0, 1] != 0).all()  # every position of its own channel ...
    assert (x.grad[0, [0, 2]] == 0).all() and (x.grad[1] == 0).all()  # ... and nothing else
    net = ContextEncoder(channels=1, image_size=32, width=2, channel_fc=True)
    codes: list = []
    net.code.register_forward_hook(lambda m, i, o: codes.append(o))
    assert net(images(2, 1, 32)).shape == (2, 1, 16, 16)
    assert codes[0].shape == (2, 8, 4, 4) and net.code_channels == 8
    assert count(net, ChannelWiseLinear) == 1 and net.decoder[0].kernel_size == (1, 1)
    with pytest.raises(ConfigError, match=r"bottleneck=5 .*channel_fc=True.*bottleneck=None"):
        ContextEncoder(image_size=32, bottleneck=5, channel_fc=True)
    with pytest.raises(ConfigError, match=r"\(N, 3, 4, 4\)"):
        layer(images(1, 3, 8))


def test_context_encoder_bad_sizes_are_config_errors_naming_the_fix():
    with pytest.raises(ConfigError, match=r"image_size=24 is not a power of two >= 16.*image_size=16 or image_size=32"):
        ContextEncoder(image_size=24)
    with pytest.raises(ConfigError, match=r"image_size=8 is not a power of two >= 16.*image_size=16"):
        ContextEncoder(image_size=8)
    with pytest.raises(ConfigError, match=r"out_size=12 .*out_size=8 or out_size=16"):
        ContextEncoder(image_size=32, out_size=12)
    with pytest.raises(ConfigError, match="norm='instance'"):
        ContextEncoder(norm="instance")
    with pytest.raises(ConfigError, match="width=0"):
        ContextEncoder(width=0)
    net = ContextEncoder(channels=1, image_size=16, width=2)
    with pytest.raises(ConfigError, match=r"\(N, 1, 16, 16\).*image_size=32"):
        net(images(1, 1, 32))
    with pytest.raises(ConfigError, match=r"\(N, 1, 16, 16\)"):
        net(images(1, 3, 16))


# -------------------------------------------------------------------------------- ContextDiscriminator


@pytest.mark.parametrize("size, widths", [(8, [2]), (16, [2, 4]), (64, [2, 4, 8, 16])])
def test_context_discriminator_logits(size, widths):
    torch.manual_seed(0)
    net = ContextDiscriminator(channels=3, image_size=size, width=2)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == widths + [1]
    assert convs[-1].kernel_size == (4, 4) and convs[-1].stride == (1, 1) and convs[-1].padding == (0, 0)
    assert count(net, nn.BatchNorm2d) == len(widths) - 1 and count(net, nn.LeakyReLU) == len(widths)
    logits = net(images(5, 3, size))
    assert logits.shape == (5,)
    assert logits.std() > 0  # logits, one per image, not one shared value


def test_context_discriminator_bad_sizes():
    with pytest.raises(ConfigError, match=r"image_size=12 is not a power of two >= 8.*image_size=8 or image_size=16"):
        ContextDiscriminator(image_size=12)
    with pytest.raises(ConfigError, match=r"image_size=4 .*image_size=8"):
        ContextDiscriminator(image_size=4)
    net = ContextDiscriminator(channels=1, image_size=16, width=2)
    with pytest.raises(ConfigError, match=r"\(N, 1, 16, 16\).*image_size=32"):
        net(images(2, 1, 32))


# ------------------------------------------------------------------------------------------- float64


def test_everything_runs_in_float64():
    torch.manual_seed(0)
    dt = torch.float64
    x = images(2, 1, 16).to(dt)
    mask = center_mask(2, 16, dtype=dt)
    blocks = random_block_mask(2, 16, dtype=dt, device=x.device)
    assert mask.dtype == blocks.dtype == overlap_weights(blocks).dtype == dt
    masked = apply_mask(x, mask)
    assert masked.dtype == dt and apply_mask(x, center_mask(2, 16)).dtype == dt  # a float32 mask works too
    for channel_fc in (False, True):
        gen = ContextEncoder(channels=1, image_size=16, width=2, channel_fc=channel_fc).to(dt)
        pred = gen(masked)
        assert pred.dtype == dt and pred.shape == (2, 1, 8, 8)
    full = ContextEncoder(channels=1, image_size=16, width=2, out_size=16).to(dt)(apply_mask(x, blocks))
    assert full.dtype == dt
    disc = ContextDiscriminator(channels=1, image_size=8, width=2).to(dt)
    assert disc(pred).dtype == dt and disc(crop_center(x, 8)).shape == (2,)
    done = paste_center(x, pred)
    assert done.dtype == dt and torch.equal(crop_center(done, 8), pred)
    loss = (crop_center(overlap_weights(mask), 8) * (pred - crop_center(x, 8)) ** 2).mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == dt for p in gen.parameters())
