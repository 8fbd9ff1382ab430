"""Generators and discriminators in ``lit_gans.nets``: one shared mixin of checks, many small configurations."""

from __future__ import annotations

from abc import ABC, abstractmethod

import pytest
import torch
from torch import nn

from lit_gans.errors import ConfigError
from lit_gans.nets import (
    BigGANDiscriminator,
    BigGANGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
)
from lit_gans.nets.factory import build_networks


class NetworkTesterMixin(ABC):
    """Checks every generator/discriminator pair must pass (after diffusers' ModelTesterMixin).

    Subclasses set ``data_shape`` (and optionally ``num_classes``, ``latent_dim``, ``bounded``) and
    implement ``make_generator`` / ``make_discriminator`` with small widths.
    """

    data_shape: tuple[int, ...]
    latent_dim: int = 8
    num_classes: int = 0
    batch: int = 2
    bounded: bool = True  # generator output in [-1, 1] (tanh)

    @abstractmethod
    def make_generator(self) -> nn.Module:
        """The generator under test."""

    @abstractmethod
    def make_discriminator(self) -> nn.Module:
        """The discriminator under test."""

    # ------------------------------------------------------------ helpers

    def labels(self, batch: int | None = None, offset: int = 0):
        if self.num_classes <= 0:
            return None
        n = batch or self.batch
        return (torch.arange(n) + offset) % self.num_classes

    def z(self, batch: int | None = None, seed: int = 123):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(batch or self.batch, self.latent_dim, generator=g)

    def x(self, batch: int | None = None, seed: int = 321):
        g = torch.Generator().manual_seed(seed)
        return torch.rand(batch or self.batch, *self.data_shape, generator=g) * 2 - 1

    def build(self, kind: str, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return self.make_generator() if kind == "generator" else self.make_discriminator()

    def run(self, net: nn.Module, kind: str, labels_offset: int = 0):
        inp = self.z() if kind == "generator" else self.x()
        return net(inp, self.labels(offset=labels_offset))

    # ------------------------------------------------------------ shapes and ranges

    def test_generator_output_shape(self):
        g = self.build("generator", 0)
        out = g(self.z(), self.labels())
        assert out.shape == (self.batch, *self.data_shape)
        assert out.dtype == torch.float32 and torch.isfinite(out).all()

    def test_discriminator_output_shape(self):
        d = self.build("discriminator", 0)
        out = d(self.x(), self.labels())
        assert out.shape == (self.batch,)
        assert torch.isfinite(out).all()

    def test_discriminator_output_shape_batch_of_one_in_eval(self):
        d = self.build("discriminator", 0).eval()
        assert d(self.x(1), self.labels(1)).shape == (1,)

    def test_generator_output_range(self):
        g = self.build("generator", 0)
        with torch.no_grad():
            for p in g.parameters():
                p.mul_(20.0)  # push pre-activations of the output layer far beyond [-1, 1]
            out = g(self.z() * 10, self.labels())
        if self.bounded:
            assert out.min() >= -1 and out.max() <= 1
            assert out.abs().max() > 0.9  # really pushed to saturation
        else:
            assert out.abs().max() > 1

    def test_backward_reaches_every_parameter(self):
        for kind in ("generator", "discriminator"):
            net = self.build(kind, 0)
            self.run(net, kind).square().mean().backward()
            missing = [n for n, p in net.named_parameters() if p.grad is None]
            assert not missing, f"{kind}: no gradient for {missing}"

    # ------------------------------------------------------------ persistence and determinism

    @pytest.mark.parametrize("kind", ["generator", "discriminator"])
    def test_state_dict_round_trip(self, kind, tmp_path):
        net = self.build(kind, 0)
        self.run(net, kind)  # a train-mode step updates batch-norm running statistics (buffers)
        path = tmp_path / f"{kind}.pt"
        torch.save(net.state_dict(), path)

        fresh = self.build(kind, 99)
        net.eval(), fresh.eval()
        with torch.no_grad():
            expected = self.run(net, kind)
            assert not torch.allclose(self.run(fresh, kind), expected)  # really a different net before loading
            fresh.load_state_dict(torch.load(path, weights_only=True))
            assert torch.equal(self.run(fresh, kind), expected)

    @pytest.mark.parametrize("kind", ["generator", "discriminator"])
    def test_seed_determinism(self, kind):
        a, b, c = self.build(kind, 7), self.build(kind, 7), self.build(kind, 8)
        sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert any(not torch.equal(sa[k], sc[k]) for k in sa)  # the seed matters
        with torch.no_grad():
            # train mode (batch statistics, dropout): same seed before the call -> same output
            torch.manual_seed(1)
            out_a = self.run(a, kind)
            torch.manual_seed(1)
            assert torch.equal(self.run(b, kind), out_a)
            a.eval(), b.eval()
            assert torch.equal(self.run(a, kind), self.run(b, kind))

    # ------------------------------------------------------------ conditioning

    @pytest.mark.parametrize("kind", ["generator", "discriminator"])
    def test_conditional_requires_labels(self, kind):
        if self.num_classes <= 0:
            pytest.skip("unconditional network")
        net = self.build(kind, 0)
        inp = self.z() if kind == "generator" else self.x()
        with pytest.raises(ValueError, match=str(self.num_classes)):
            net(inp)

    @pytest.mark.parametrize("kind", ["generator", "discriminator"])
    def test_conditional_output_depends_on_labels(self, kind):
        if self.num_classes <= 0:
            pytest.skip("unconditional network")
        net = self.build(kind, 0).eval()
        with torch.no_grad():
            a = self.run(net, kind, labels_offset=0)
            b = self.run(net, kind, labels_offset=1)
        assert a.shape == b.shape
        for i in range(self.batch):
            assert not torch.allclose(a[i], b[i])


# ---------------------------------------------------------------- MLP


class TestMLPVectors(NetworkTesterMixin):
    data_shape = (2,)
    bounded = False

    def make_generator(self):
        return MLPGenerator(self.latent_dim, self.data_shape, hidden=(16, 16), output="linear", num_classes=self.num_classes)

    def make_discriminator(self):
        return MLPDiscriminator(self.data_shape, hidden=(16, 16), num_classes=self.num_classes)


class TestMLPImages(NetworkTesterMixin):
    data_shape = (1, 16, 16)

    def make_generator(self):
        return MLPGenerator(self.latent_dim, self.data_shape, hidden=(16,), num_classes=self.num_classes)

    def make_discriminator(self):
        return MLPDiscriminator(self.data_shape, hidden=(16,), dropout=0.1, num_classes=self.num_classes)


class TestMLPConditional(TestMLPVectors):
    num_classes = 3


# ---------------------------------------------------------------- DCGAN


class _DCGAN(NetworkTesterMixin):
    features = 8
    d_batch_norm = True

    def make_generator(self):
        return DCGANGenerator(self.latent_dim, self.data_shape, features=self.features, num_classes=self.num_classes)

    def make_discriminator(self):
        return DCGANDiscriminator(
            self.data_shape, features=self.features, batch_norm=self.d_batch_norm, num_classes=self.num_classes
        )


class TestDCGAN1x16(_DCGAN):
    data_shape = (1, 16, 16)


class TestDCGAN3x32(_DCGAN):
    data_shape = (3, 32, 32)
    features = 4
    d_batch_norm = False  # the WGAN-GP variant


class TestDCGAN1x64(_DCGAN):
    data_shape = (1, 64, 64)
    features = 4


class TestDCGAN1x8(_DCGAN):
    data_shape = (1, 8, 8)  # the smallest size: a single up/down-sampling step


class TestDCGANConditional(_DCGAN):
    data_shape = (1, 16, 16)
    num_classes = 4


# ---------------------------------------------------------------- ResNet


class _ResNet(NetworkTesterMixin):
    features = 8

    def make_generator(self):
        return ResNetGenerator(self.latent_dim, self.data_shape, features=self.features, num_classes=self.num_classes)

    def make_discriminator(self):
        return ResNetDiscriminator(self.data_shape, features=self.features, num_classes=self.num_classes)


class TestResNet3x32(_ResNet):
    data_shape = (3, 32, 32)


class TestResNet1x16(_ResNet):
    data_shape = (1, 16, 16)


class TestResNetConditional(_ResNet):
    data_shape = (3, 32, 32)
    num_classes = 5


# ---------------------------------------------------------------- BigGAN (cGAN-PD, SAGAN, BigGAN switches)


class _BigGAN(NetworkTesterMixin):
    features = 8
    options: dict = {}
    attention = None

    def make_generator(self):
        return BigGANGenerator(self.latent_dim, self.data_shape, features=self.features, num_classes=self.num_classes,
                               attention=self.attention, **self.options)

    def make_discriminator(self):
        return BigGANDiscriminator(self.data_shape, features=self.features, num_classes=self.num_classes,
                                   attention=self.attention, init=self.options.get("init", "default"))


class TestBigGANUnconditional(_BigGAN):
    data_shape = (1, 16, 16)


class TestBigGANPerClass(_BigGAN):  # cGAN-PD / SAGAN: per-class batch norm, attention
    data_shape = (1, 16, 16)
    num_classes = 3
    attention = 8


class TestBigGANShared(_BigGAN):  # BigGAN: shared embedding, hierarchical z, attention, orthogonal init
    data_shape = (3, 32, 32)
    num_classes = 3
    attention = 16
    options = dict(shared_embedding=4, hierarchical=True, init="orthogonal")


class TestBigGANHierarchicalUnconditional(_BigGAN):
    data_shape = (1, 16, 16)
    options = dict(hierarchical=True)


# ---------------------------------------------------------------- construction-time shape checks


@pytest.mark.parametrize(
    "build, shape, hint",
    [
        (lambda s: DCGANGenerator(8, s, features=8), (1, 28, 28), "data.image_size: 32"),
        (lambda s: DCGANDiscriminator(s, features=8), (1, 28, 28), "data.image_size: 32"),
        (lambda s: DCGANGenerator(8, s, features=8), (1, 4, 4), "data.image_size: 8"),
        (lambda s: ResNetDiscriminator(s, features=8), (3, 8, 8), "data.image_size: 16"),
        (lambda s: ResNetGenerator(8, s, features=8), (3, 8, 8), "data.image_size: 16"),
        (lambda s: ResNetGenerator(8, s, features=8), (3, 48, 48), "data.image_size: 64"),
    ],
)
def test_impossible_image_size_raises_with_fix(build, shape, hint):
    with pytest.raises(ValueError) as info:
        build(shape)
    message = str(info.value)
    assert str(shape) in message
    assert "set data.image_size" in message
    assert hint in message


@pytest.mark.parametrize(
    "shape",
    [(3, 32, 16), (32, 32), (2,), (1, 256, 256)],  # not square, no channels, a vector, too large
)
def test_non_square_or_unsupported_shapes_raise(shape):
    for build in (
        lambda: DCGANGenerator(8, shape, features=8),
        lambda: DCGANDiscriminator(shape, features=8),
        lambda: ResNetGenerator(8, shape, features=8),
        lambda: ResNetDiscriminator(shape, features=8),
    ):
        with pytest.raises(ValueError, match="data.image_size") as info:
            build()
        assert str(tuple(shape)) in str(info.value)


def test_mlp_generator_rejects_unknown_output():
    with pytest.raises(ValueError, match="sigmoid"):
        MLPGenerator(8, (2,), output="sigmoid")


# ---------------------------------------------------------------- factory


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
def test_build_networks_image_architecture_on_vectors_raises(architecture):
    with pytest.raises(ConfigError, match="mlp") as info:
        build_networks(architecture, latent_dim=8, data_shape=(2,))
    assert isinstance(info.value, ValueError)
    assert "(2,)" in str(info.value)


def test_build_networks_unknown_architecture_raises():
    with pytest.raises(ConfigError) as info:
        build_networks("vgg", latent_dim=8, data_shape=(3, 32, 32))
    message = str(info.value)
    assert "'vgg'" in message
    for name in ("mlp", "dcgan", "resnet"):
        assert name in message


@pytest.mark.parametrize(
    "architecture, shape, g_type, d_type",
    [
        ("mlp", (2,), MLPGenerator, MLPDiscriminator),
        ("mlp", (1, 16, 16), MLPGenerator, MLPDiscriminator),
        ("dcgan", (1, 16, 16), DCGANGenerator, DCGANDiscriminator),
        ("resnet", (3, 16, 16), ResNetGenerator, ResNetDiscriminator),
    ],
)
def test_build_networks_types_and_shapes(architecture, shape, g_type, d_type):
    torch.manual_seed(0)
    g, d = build_networks(architecture, latent_dim=8, data_shape=shape, num_classes=2, g_width=8, d_width=8)
    assert isinstance(g, g_type) and isinstance(d, d_type)
    labels = torch.tensor([0, 1, 1])
    fake = g(torch.randn(3, 8), labels)
    assert fake.shape == (3, *shape)
    assert d(fake, labels).shape == (3,)
    with pytest.raises(ValueError):
        g(torch.randn(3, 8))


def test_build_networks_mlp_output_layer_depends_on_data():
    g_points, _ = build_networks("mlp", latent_dim=4, data_shape=(2,), g_width=8, d_width=8)
    g_images, _ = build_networks("mlp", latent_dim=4, data_shape=(1, 8, 8), g_width=8, d_width=8)
    assert isinstance(g_points.net[-1], nn.Linear)  # unbounded points
    assert isinstance(g_images.net[-1], nn.Tanh)  # images in [-1, 1]


def test_mlp_generator_for_points_is_unbounded():
    torch.manual_seed(0)
    g, _ = build_networks("mlp", latent_dim=4, data_shape=(2,), g_width=8, d_width=8)
    with torch.no_grad():
        g.net[-1].bias.fill_(5.0)  # a linear output just shifts by the bias; tanh would cap it at 1
    g.eval()
    with torch.no_grad():
        out = g(torch.randn(4, 4))
    assert out.min() > 1


@pytest.mark.parametrize("architecture, shape", [("mlp", (1, 8, 8)), ("dcgan", (1, 8, 8)), ("resnet", (1, 16, 16))])
def test_image_generators_are_bounded(architecture, shape):
    torch.manual_seed(0)
    g, _ = build_networks(architecture, latent_dim=4, data_shape=shape, g_width=8, d_width=8)
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(20.0)  # saturate
        out = g(torch.randn(4, 4) * 10)
    assert out.min() >= -1 and out.max() <= 1
    assert out.abs().max() > 0.9  # saturated, not just small


def test_build_networks_default_widths_and_d_batch_norm():
    g, d = build_networks("dcgan", latent_dim=4, data_shape=(1, 16, 16), d_batch_norm=False)
    assert g.net[0].out_channels == 64 * 2  # DCGAN's 64 features, doubled once for 16 px
    assert d.net[0].out_channels == 64
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    _, d_bn = build_networks("dcgan", latent_dim=4, data_shape=(1, 16, 16), d_width=8)
    assert any(isinstance(m, nn.BatchNorm2d) for m in d_bn.modules())
