"""Domain feature networks: the shipped weights classify real held-out images, scores on known logits,
clear errors for missing or corrupt weights, any channel count and size, and the training command."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from datamodules import DigitsDataModule, FashionMNISTDataModule, MNISTDataModule, StackedDigitsDataModule, Toy2DDataModule
from datamodules.torchvision_sets import DEBIAN_FASHION_MNIST
from lit_gans.errors import LitGansError
from lit_gans.metrics.domain import WEIGHTS_DIR, DomainNetwork, classifier_scores, domain_for, load_domain_network
from lit_gans.metrics.train_classifier import main as train_classifier


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def held_out_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The DigitsDataModule's validation digits at 16 px: never seen by the shipped network."""
    dm = DigitsDataModule(image_size=16)
    dm.setup()
    xs, ys = zip(*(dm.val_set[i] for i in range(len(dm.val_set))))
    return torch.stack(xs), torch.stack(ys)


def accuracy(network: DomainNetwork, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((network(x).argmax(1) == y).float().mean())


@pytest.mark.parametrize("name, size", [("digits", 16), ("fashion_mnist", 28)])
def test_shipped_networks_load_small_and_described(name, size):
    path = WEIGHTS_DIR / f"{name}.pt"
    assert path.stat().st_size < 1_000_000
    blob = torch.load(path, weights_only=True)
    assert all(v.dtype in (torch.float32, torch.int64) for v in blob["state_dict"].values())
    net = load_domain_network(name)
    assert isinstance(net, DomainNetwork) and net.name == name and net.native_size == size
    assert 64 <= net.num_features <= 256 and net.num_classes == 10
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    for key in ("dataset", "native_size", "test_accuracy", "seed", "command", "torch_version"):
        assert key in net.meta, key
    assert net.meta["command"].startswith("lit-gans train-classifier --dataset " + name)


def test_digits_network_classifies_held_out_digits(held_out_digits):
    x, y = held_out_digits
    net = load_domain_network("digits")
    assert accuracy(net, x, y) >= 0.9
    # the native 8x8 digits, upsampled inside the network, are recognised as well
    dm = DigitsDataModule(image_size=8)
    dm.setup()
    x8 = torch.stack([dm.val_set[i][0] for i in range(len(dm.val_set))])
    assert accuracy(net, x8, y) >= 0.9


def test_fashion_network_classifies_real_test_images(tmp_path):
    if not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip(f"Fashion-MNIST not at {DEBIAN_FASHION_MNIST}: `apt-get install dataset-fashion-mnist`")
    dm = FashionMNISTDataModule(data_dir=str(tmp_path))
    dm.prepare_data()
    test = dm.dataset(train=False)
    x = test.data[:2000, None].float() / 127.5 - 1
    assert accuracy(load_domain_network("fashion_mnist"), x, test.targets[:2000]) >= 0.8


def test_any_channels_and_sizes(held_out_digits):
    x, y = held_out_digits
    net = load_domain_network("digits")
    logits = net(x)
    # grey replicated to RGB is the same image; other channel counts and sizes are accepted
    assert torch.allclose(net(x.expand(-1, 3, -1, -1)), logits, atol=1e-5)
    for size in (8, 13, 32):
        out = net(F.interpolate(x, size=size, mode="bilinear", antialias=True).expand(-1, 4, -1, -1))
        assert out.shape == (len(x), 10)
    assert net.features(x).shape == (len(x), net.num_features) and net.features(x).dtype == torch.float32
    assert torch.equal(net(x), logits)  # deterministic in eval mode
    with pytest.raises(LitGansError, match="S >= 8"):
        net(torch.zeros(2, 1, 4, 4))
    with pytest.raises(LitGansError, match="square"):
        net(torch.zeros(2, 1, 16, 12))


def test_classifier_scores_on_known_logits():
    eye = torch.eye(10) * 50  # confident, one sample per class
    scores = classifier_scores(eye)
    assert scores["classes"] == 10 and scores["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert scores["confidence"] == pytest.approx(1.0)
    # all samples on class 3 with uniform-ish confidence: one class, KL = log 10
    collapsed = torch.zeros(6, 10)
    collapsed[:, 3] = math.log(9.0)  # softmax: 9 / (9 + 9) = 0.5 on class 3
    scores = classifier_scores(collapsed)
    assert scores["classes"] == 1 and scores["class_kl"] == pytest.approx(math.log(10))
    assert scores["confidence"] == pytest.approx(0.5)
    # two classes, 3:1 -> KL = 0.75 log(7.5) + 0.25 log(2.5)
    half = torch.zeros(4, 10)
    half[:3, 0], half[3, 1] = 5.0, 5.0
    assert classifier_scores(half)["class_kl"] == pytest.approx(0.75 * math.log(7.5) + 0.25 * math.log(2.5))


def test_missing_and_corrupt_weights_give_one_clear_error(tmp_path):
    with pytest.raises(LitGansError, match=r"lit-gans train-classifier --dataset mnist --root DIR --out PATH"):
        load_domain_network("mnist")
    with pytest.raises(LitGansError, match="neither a shipped name"):
        load_domain_network(str(tmp_path / "missing.pt"))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file")
    with pytest.raises(LitGansError, match="not a readable domain-network weights file") as err:
        load_domain_network(str(corrupt))
    assert "\n" not in str(err.value)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(LitGansError, match="holds no domain network"):
        load_domain_network(str(other))


def test_domain_for_datamodules():
    assert domain_for(DigitsDataModule()) == "digits"
    assert domain_for(FashionMNISTDataModule()) == "fashion_mnist"
    assert domain_for(MNISTDataModule()) == "mnist"
    assert domain_for(StackedDigitsDataModule()) is None  # counted by lit_gans.metrics.stacked
    assert domain_for(Toy2DDataModule()) is None


def test_domain_for_reads_the_declaration_of_any_datamodule():
    from datamodules import GANDataModule
    from lit_gans.metrics import DataEvaluation

    class Clothes(GANDataModule):  # not a FashionMNISTDataModule: only its declaration says so
        evaluation = DataEvaluation.for_images("fashion_mnist")

        def make_datasets(self):
            raise NotImplementedError

    class Plain:  # a LightningDataModule of one's own, without a declaration
        data_shape = (1, 28, 28)

    assert domain_for(Clothes()) == "fashion_mnist"
    assert domain_for(Plain()) is None


def test_training_command_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "digits_small.pt"
    assert train_classifier(["--dataset", "digits", "--epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and str(out) in printed
    net = load_domain_network(str(out))
    assert net.name == "digits" and net.meta["epochs"] == 1 and 0.0 <= net.meta["test_accuracy"] <= 1.0
    assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
