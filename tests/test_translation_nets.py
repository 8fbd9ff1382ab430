"""pix2pix and CycleGAN networks in ``lit_gans.nets.translation``: U-Net, PatchGAN, ResNet generator,
image pool and the normal initialisation, all at tiny widths."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_gans.errors import ConfigError
from lit_gans.nets.translation import (
    CycleGANGenerator,
    ImagePool,
    PatchDiscriminator,
    ResidualBlock,
    UNetGenerator,
    init_weights,
    patch_layers_for,
    patch_output_size,
    patch_receptive_field,
)


def images(n: int, c: int, h: int, w: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w or h, generator=g) * 2 - 1


def count(net: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


def record(module: nn.Module, into: list) -> None:
    """Append ``module``'s outputs to ``into`` (the hook returns None: the output is left as it is)."""

    def hook(m, inputs, output):
        into.append(output)

    module.register_forward_hook(hook)


# ---------------------------------------------------------------------------------------------- U-Net


def test_unet_shape_range_and_1x1_bottleneck_at_32px():
    torch.manual_seed(0)
    net = UNetGenerator(3, 2, 32, width=4)
    assert net.depth == 5 and net.channels == [4, 8, 16, 32, 32]
    seen: list = []
    record(net.encoder[-1], seen)
    out = net(images(2, 3, 32))
    assert seen[0].shape == (2, 32, 1, 1)
    assert out.shape == (2, 2, 32, 32)
    assert out.abs().max() <= 1 and out.std() > 0
    # fully convolutional: a non-square input whose sides 2**5 divides
    assert net(images(1, 3, 32, 64)).shape == (1, 2, 32, 64)


def test_unet_default_depth_at_256px_and_forward_at_64px():
    torch.manual_seed(0)
    net = UNetGenerator(3, 3, 256)  # the reference's unet_256: 8 downsamplings, widths 64 .. 512
    assert net.depth == 8 and net.channels == [64, 128, 256, 512, 512, 512, 512, 512]
    assert count(net, nn.Conv2d) == 8 and count(net, nn.ConvTranspose2d) == 8
    assert count(net, nn.Dropout) == 3  # the three max-width decoder layers next to the innermost
    assert UNetGenerator(3, 3, 128, width=4).depth == 7
    small = UNetGenerator(3, 3, 64, width=8, norm="instance")
    assert small.depth == 6
    out = small(images(2, 3, 64))
    assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1


def test_unet_outermost_skip_carries_the_input_past_dead_inner_layers():
    torch.manual_seed(0)
    net = UNetGenerator(3, 3, 32, width=4, norm="none", dropout=0.0)
    with torch.no_grad():
        for layer in list(net.encoder[1:]) + list(net.decoder[1:]):
            for p in layer.parameters():
                p.zero_()
    seen: list = []
    record(net.decoder[1], seen)
    x = images(1, 3, 32).requires_grad_()
    out = net(x)
    assert seen[0].abs().max() == 0  # nothing comes up from the inner layers
    out[0, 0, 16, 16].backward()
    assert x.grad.abs().sum() > 0  # ... yet the output still depends on the input, through the skip
    assert not torch.equal(net(images(1, 3, 32, seed=1)), net(images(1, 3, 32, seed=2)))


def test_unet_every_skip_reaches_the_decoder():
    torch.manual_seed(0)
    net = UNetGenerator(2, 1, 16, width=2, norm="none", dropout=0.0)  # depth 4
    grads: list = []
    for k in range(net.depth - 1):
        record(net.encoder[k], grads)
    out = net(images(1, 2, 16))
    for g in grads:
        g.retain_grad()
    out.sum().backward()
    # the decoder layer k reads 2 * channels[k]: its own channels from the skip, the rest from below
    for k in range(net.depth - 1):
        assert net.decoder[k][1].in_channels == 2 * net.channels[k]
        assert grads[k].grad is not None and grads[k].grad.abs().sum() > 0


def test_unet_dropout_on_in_train_mode_and_off_in_eval_mode():
    torch.manual_seed(0)
    net = UNetGenerator(3, 3, 32, width=4, max_width=8)  # widths 4, 8, 8, 8, 8: two max-width layers
    assert count(net, nn.Dropout) == 2 and all(m.p == 0.5 for m in net.modules() if isinstance(m, nn.Dropout))
    assert count(UNetGenerator(3, 3, 32, width=4), nn.Dropout) == 0  # depth 5: none, as the reference
    x = images(2, 3, 32)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))
    plain = UNetGenerator(3, 3, 32, width=4, max_width=8, dropout=0.0).train()
    assert count(plain, nn.Dropout) == 0 and torch.equal(plain(x), plain(x))


def test_unet_batch_norm_versus_instance_norm():
    torch.manual_seed(0)
    batch = UNetGenerator(3, 3, 32, width=4, dropout=0.0, norm="batch")
    inst = UNetGenerator(3, 3, 32, width=4, dropout=0.0, norm="instance")
    assert count(batch, nn.BatchNorm2d) == 7 and count(batch, nn.InstanceNorm2d) == 0  # 3 down + 4 up
    assert count(inst, nn.InstanceNorm2d) == 7 and count(inst, nn.BatchNorm2d) == 0
    assert all(not m.affine and not m.track_running_stats for m in inst.modules() if isinstance(m, nn.InstanceNorm2d))
    # convs have a bias only without batch norm (the output conv always has one)
    assert batch.encoder[1][0].bias is None and inst.encoder[1][0].bias is not None
    assert batch.decoder[0][1].bias is not None
    # batch norm mixes the samples of a batch in train mode; instance norm does not
    x = images(2, 3, 32)
    assert not torch.allclose(batch(x)[:1], batch(x[:1]), atol=1e-6)
    assert torch.allclose(inst(x)[:1], inst(x[:1]), atol=1e-6)


def test_unet_bad_sizes_are_config_errors_naming_the_fix():
    with pytest.raises(ConfigError, match=r"24 is not divisible by 2\*\*5=32.*multiple of 32 or depth=3"):
        UNetGenerator(3, 3, 24, depth=5)
    with pytest.raises(ConfigError, match=r"not a power of two.*depth=5 or less"):
        UNetGenerator(3, 3, 96)
    with pytest.raises(ConfigError, match="depth=0"):
        UNetGenerator(3, 3, 32, depth=0)
    with pytest.raises(ConfigError, match="in_channels=0"):
        UNetGenerator(0, 3, 32)
    with pytest.raises(ConfigError, match="norm='layer'"):
        UNetGenerator(3, 3, 32, norm="layer")
    net = UNetGenerator(3, 3, 32, width=2)
    with pytest.raises(ConfigError, match=r"40x40 is not divisible by 32"):
        net(images(1, 3, 40))
    with pytest.raises(ConfigError, match=r"\(N, 3, H, W\)"):
        net(images(1, 1, 32))


# ------------------------------------------------------------------------------------------- PatchGAN


@pytest.mark.parametrize("n_layers, field", [(3, 70), (2, 34), (1, 16)])
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_patch_receptive_field_measured_by_gradient(n_layers, field, norm):
    torch.manual_seed(0)
    net = PatchDiscriminator(2, width=2, n_layers=n_layers, norm=norm).double().eval()
    assert patch_receptive_field(n_layers) == field == net.receptive_field
    x = images(1, 2, 128).double().requires_grad_()
    logits = net(x)
    side = 128 // 2**n_layers - 2
    assert logits.shape == (1, 1, side, side)
    logits[0, 0, side // 2, side // 2].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = touched.any(1).nonzero().flatten(), touched.any(0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == field and cols.max() - cols.min() + 1 == field
    assert touched.sum() == field * field  # every pixel of the window, and none outside it
    assert 0 < rows.min() and rows.max() < 127  # the window lies inside the image, not clipped by padding


@pytest.mark.parametrize("size, n_layers", [(256, 3), (128, 3), (64, 2), (32, 3), (100, 3), (16, 2), (8, 1)])
def test_patch_output_map_sizes(size, n_layers):
    net = PatchDiscriminator(3, width=2, n_layers=n_layers, norm="instance")
    out = net(images(2, 3, size))
    expected = size // 2**n_layers - 2
    assert out.shape == (2, 1, expected, expected)  # a map of logits, not flattened
    assert patch_output_size(size, n_layers) == PatchDiscriminator.output_size(size, n_layers) == expected


def test_patch_layers_for_small_images():
    assert patch_layers_for(32) == 3 and patch_layers_for(256) == 3
    assert patch_layers_for(16) == 2 and patch_layers_for(8) == 1
    for size in (32, 16, 8):
        out = PatchDiscriminator(3, width=2, n_layers=patch_layers_for(size))(images(1, 3, size))
        assert out.shape[-1] >= 2
    with pytest.raises(ConfigError, match="at least 8 px"):
        patch_layers_for(4)


def test_patch_discriminator_layers_and_errors():
    net = PatchDiscriminator(6)  # the reference's "basic" D for pix2pix on RGB pairs
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert count(net, nn.BatchNorm2d) == 3
    assert sum(p.numel() for p in net.parameters()) == 2_768_705
    assert [c.out_channels for c in PatchDiscriminator(3, width=2, n_layers=5).modules() if isinstance(c, nn.Conv2d)] == [
        2, 4, 8, 16, 16, 16, 1
    ]  # capped at 8 * width
    with pytest.raises(ConfigError, match=r"20x20 is too small for n_layers=3.*n_layers=2"):
        PatchDiscriminator(3, width=2)(images(1, 3, 20))
    with pytest.raises(ConfigError, match="n_layers=0"):
        PatchDiscriminator(3, n_layers=0)


# ----------------------------------------------------------------------------------- CycleGAN ResNet


def test_cyclegan_generator_shape_and_range():
    torch.manual_seed(0)
    net = CycleGANGenerator(3, 1, width=4, n_blocks=2)
    out = net(images(2, 3, 32, 48))
    assert out.shape == (2, 1, 32, 48)
    assert out.abs().max() <= 1 and out.std() > 0
    net = CycleGANGenerator(3, 3, width=4, n_blocks=1, n_down=3, norm="batch", dropout=0.5)
    assert net(images(2, 3, 16)).shape == (2, 3, 16, 16)


def test_cyclegan_generator_blocks_counted():
    net = CycleGANGenerator(3, 3)  # the reference's resnet_9blocks
    assert len(net.blocks) == 9 and count(net, ResidualBlock) == 9
    assert sum(p.numel() for p in net.parameters()) == 11_378_179
    assert count(CycleGANGenerator(3, 3, width=4, n_blocks=6), ResidualBlock) == 6
    assert count(CycleGANGenerator(3, 3, width=4, n_blocks=0), ResidualBlock) == 0
    down = [m for m in net.down.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in down] == [(64, 7, 1), (128, 3, 2), (256, 3, 2)]
    ups = [m for m in net.up.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.out_channels, c.output_padding[0]) for c in ups] == [(128, 1), (64, 1)]
    assert count(net, nn.ReflectionPad2d) == 2 + 2 * 9
    assert count(net, nn.InstanceNorm2d) == 1 + 2 + 2 * 9 + 2


def test_residual_block_is_identity_plus_a_branch():
    torch.manual_seed(0)
    block = ResidualBlock(4, norm="none")
    x = images(1, 4, 8)
    assert not torch.allclose(block(x), x)
    with torch.no_grad():
        block.block[-1].weight.zero_()
        block.block[-1].bias.zero_()
    assert torch.equal(block(x), x)


def test_cyclegan_generator_bad_sizes():
    net = CycleGANGenerator(3, 3, width=2, n_blocks=1)
    with pytest.raises(ConfigError, match=r"30x30 is not divisible by 4 \(n_down=2.*multiple of 4"):
        net(images(1, 3, 30))
    with pytest.raises(ConfigError, match=r"4x4 is too small.*at least 8 px"):
        net(images(1, 3, 4))
    with pytest.raises(ConfigError, match="n_blocks=-1"):
        CycleGANGenerator(3, 3, n_blocks=-1)
    with pytest.raises(ConfigError, match="dropout=1"):
        CycleGANGenerator(3, 3, dropout=1.0)


# ---------------------------------------------------------------------------------------- Image pool


def constants(values, shape=(1, 2, 2)) -> torch.Tensor:
    """One image per value, every pixel equal to it."""
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, *shape).clone()


def values(batch: torch.Tensor) -> list[float]:
    return batch[:, 0, 0, 0].tolist()


def test_image_pool_returns_inputs_while_filling():
    pool = ImagePool(5)
    assert list(pool.parameters()) == [] and pool.state_dict() == {}  # not kept by checkpoints
    a, b = constants([0, 1, 2]), constants([3, 4])
    assert torch.equal(pool.query(a), a) and torch.equal(pool.query(b), b)
    assert pool.num_images == 5
    assert values(torch.cat(pool.images)) == [0, 1, 2, 3, 4]
    pool.reset()
    assert pool.num_images == 0


def test_image_pool_about_half_of_returns_are_old_images_once_full():
    torch.manual_seed(0)
    pool = ImagePool(10)
    pool.query(constants(range(10)))
    old = new = 0
    returned_old = []
    for start in range(10, 2010, 20):
        batch = constants(range(start, start + 20))
        out = pool.query(batch)
        assert out.shape == batch.shape
        for got, sent in zip(values(out), values(batch)):
            if got == sent:
                new += 1
            else:
                assert got < sent  # a stored image, queried before this one
                returned_old.append(got)
                old += 1
    assert pool.num_images == 10
    assert len(set(returned_old)) == old  # a stored image leaves the pool when it is returned
    assert 0.45 < old / (old + new) < 0.55


def test_image_pool_reproducible_under_a_seed():
    def run(seed):
        torch.manual_seed(seed)
        pool = ImagePool(4)
        return [values(pool.query(constants(range(i, i + 3)))) for i in range(0, 60, 3)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_image_pool_size_zero_is_a_pass_through():
    pool = ImagePool(0)
    x = constants([1, 2, 3])
    assert pool.query(x) is x and pool(x) is x
    assert pool.num_images == 0
    with pytest.raises(ConfigError, match="size=-1"):
        ImagePool(-1)


def test_image_pool_stores_detached_copies():
    torch.manual_seed(0)
    weight = torch.ones(()).requires_grad_()
    pool = ImagePool(2)
    fake = constants([1, 2]) * weight
    out = pool.query(fake)
    assert out.requires_grad  # new images are returned with their graph
    assert all(not im.requires_grad and im.grad_fn is None for im in pool.images)
    with torch.no_grad():
        fake.zero_()  # changing the batch afterwards does not change the pool
    assert values(torch.cat(pool.images)) == [1, 2]
    outs = [pool.query(constants([10 + i]) * weight) for i in range(20)]
    assert any(not o.requires_grad for o in outs)  # an old image, without a graph


# ---------------------------------------------------------------------------------------- init_weights


def test_init_weights_normal_002():
    torch.manual_seed(0)
    net = nn.Sequential(UNetGenerator(3, 3, 64, width=16), nn.Linear(64, 64), nn.GroupNorm(2, 4))
    assert init_weights(net) is net
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    assert all(m.bias is None or not m.bias.any() for m in convs)
    norms = [m for m in net.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
    gammas = torch.cat([m.weight for m in norms])
    assert abs(gammas.mean().item() - 1) < 0.01 and 0.01 < gammas.std().item() < 0.03
    assert not torch.cat([m.bias for m in norms]).any()
    # reproducible under a seed, and std is honoured
    one, two = nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3)
    torch.manual_seed(5), init_weights(one, std=0.1)
    torch.manual_seed(5), init_weights(two, std=0.1)
    assert torch.equal(one.weight, two.weight) and 0.08 < one.weight.std() < 0.12
    with pytest.raises(ConfigError, match="std=-1"):
        init_weights(one, std=-1)
