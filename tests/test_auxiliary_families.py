"""InfoGAN and AC-GAN: three networks, an auxiliary head on the critic's trunk, codes and classes that
the generator learns to obey."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from datamodules import DigitsDataModule
from lit_gans.errors import ConfigError
from lit_gans.families import ACGAN, InfoGAN
from lit_gans.loop import Batch
from lit_gans.metrics import class_accuracy, code_class_accuracy, load_domain_network

from conftest import quiet_trainer


def digits(cls, **kwargs):
    dm = DigitsDataModule(image_size=16, batch_size=64)
    kwargs = {"g_width": 16, "d_width": 16, **kwargs}
    return cls(data_shape=dm.data_shape, num_classes=dm.num_classes, **kwargs), dm


def test_infogan_declares_three_networks_and_steps_q_with_the_discriminator():
    model, _ = digits(InfoGAN)
    assert model.network_names == ("generator", "discriminator", "q_head")
    assert model.latent_spec.input_dim == 62 + 10 + 2 and model.latent_spec.distribution == "uniform"
    groups = model.optimizer_groups()
    assert groups["discriminator"][1] == ("discriminator", "q_head") and groups["generator"][1] == ("generator",)
    optimizers = model.configure_optimizers()
    d_params = {id(p) for g in optimizers[1]["optimizer"].param_groups for p in g["params"]}
    assert {id(p) for p in model.q_head.parameters()} <= d_params
    assert [g["lr"] for c in optimizers for g in c["optimizer"].param_groups] == [1e-3, 2e-4]  # the reference launcher's
    logits, q = model.judge(torch.zeros(3, 1, 16, 16), None)
    assert logits.shape == (3,) and q.shape == (3, 12)
    # D's logit and Q read one shared 1,024-unit layer on the convolutions, as in the reference
    shared = model.discriminator.trunk[-3]
    assert isinstance(shared, torch.nn.Linear) and shared.out_features == 1024
    assert model.discriminator.head.in_features == 1024 and model.q_head.net[0].in_features == 1024
    assert model.fixed_codes[:12, 0].tolist() == list(range(10)) + [0, 1]


def test_infogan_samples_follow_the_codes_they_are_given():
    model, _ = digits(InfoGAN)
    latent = model.latent_spec.draw(4)
    a = model.sample(4, latent=latent)
    assert torch.equal(a, model.sample(4, latent=latent))
    assert not torch.equal(a, model.sample(4, latent=latent.replace(codes=(latent.codes + 1) % 10)))
    assert not torch.equal(a, model.sample(4, latent=latent.replace(continuous=-latent.continuous)))
    assert model.sample(5, codes=torch.zeros(5, 1, dtype=torch.long)).shape == (5, 1, 16, 16)
    with pytest.raises(ConfigError, match=r"codes must have shape \(5, 1\)"):
        model.sample(5, codes=torch.zeros(5, dtype=torch.long))


def test_acgan_critic_reads_no_label_and_its_classifier_is_stepped_with_it():
    model, _ = digits(ACGAN)
    assert model.network_names == ("generator", "discriminator", "classifier")
    assert model.latent_spec.num_classes == 10 and model.conditional
    x = torch.randn(2, 1, 16, 16)
    model.eval()
    logits, classes = model.judge(x, torch.tensor([0, 1]))
    assert torch.equal(logits, model.judge(x, torch.tensor([5, 9]))[0]) and classes.shape == (2, 10)
    assert isinstance(model.discriminator.head, torch.nn.Conv2d)  # AC-GAN: the DCGAN critic's own last layer
    assert model.optimizer_groups()["discriminator"][1] == ("discriminator", "classifier")


@pytest.mark.parametrize("fake_class_loss", [True, False])
def test_acgan_discriminator_class_loss_reads_fakes_only_when_asked(fake_class_loss):
    model, dm = digits(ACGAN, fake_class_loss=fake_class_loss)
    dm.setup("fit")
    batch = Batch.of(next(iter(dm.train_dataloader())), dm.batch_fields)
    out = model.discriminator_loss(batch)
    expected = F.cross_entropy(out.real_aux, batch.label)
    if fake_class_loss:  # the paper's L_C: real images and generated ones, each with its label
        expected = expected + F.cross_entropy(out.fake_aux, out.latent.labels)
    assert float(out.logs["loss/d_class"]) == pytest.approx(float(expected.detach()), abs=1e-6)
    g_out = model.generator_loss(batch)  # the generator's class loss is the same either way
    g_expected = F.cross_entropy(g_out.fake_aux, g_out.latent.labels).detach()
    assert float(g_out.logs["loss/g_class"]) == pytest.approx(float(g_expected), abs=1e-6)


@pytest.mark.parametrize("cls", [InfoGAN, ACGAN])
def test_auxiliary_critics_refuse_what_they_cannot_do(cls):
    with pytest.raises(ConfigError, match="model.pack=2"):
        digits(cls, pack=2)
    with pytest.raises(ConfigError, match="set model.architecture to mlp or dcgan"):
        digits(cls, architecture="resnet")


def test_infogan_refuses_labels_and_a_model_without_codes():
    with pytest.raises(ConfigError, match="remove model.conditional"):
        digits(InfoGAN, conditional=True)
    with pytest.raises(ConfigError, match="needs at least one code"):
        digits(InfoGAN, categorical=[], continuous=0)
    with pytest.raises(ConfigError, match="shared_units=-1 must be >= 0"):
        digits(InfoGAN, shared_units=-1)
    plain, _ = digits(InfoGAN, shared_units=0)  # Q and D's logit on the convolutions' features
    assert isinstance(plain.discriminator.head, torch.nn.Conv2d) and plain.q_head.net[0].in_features == 32 * 4 * 4


@pytest.mark.slow
def test_acgan_generates_the_class_it_is_asked_for():
    L.seed_everything(0)
    model, dm = digits(ACGAN, g_width=32, d_width=32, max_g_steps=500)
    classifier = load_domain_network("digits")
    before = class_accuracy(model, classifier, n_per_class=50)
    quiet_trainer().fit(model, dm)
    after = class_accuracy(model, classifier, n_per_class=50)
    print(f"AC-GAN: requested-class accuracy {before:.2f} -> {after:.2f}")
    assert after > max(0.6, before + 0.4)


@pytest.mark.slow
def test_infogan_categorical_code_comes_to_pick_the_digit():
    L.seed_everything(0)
    # Q on the convolutions' features (no shared layer): the code picks the digit within 300 steps. With the
    # default 1,024-unit shared layer D wins the first few hundred steps of so short a run (0.87 after 500
    # steps at batch 128, width 32: seven minutes here); bench/auxiliary_families.py measures the default.
    model, dm = digits(InfoGAN, g_width=32, d_width=32, max_g_steps=300, shared_units=0)
    classifier = load_domain_network("digits")
    before = code_class_accuracy(model, classifier, n_per_value=50)["accuracy"]
    quiet_trainer().fit(model, dm)
    after = code_class_accuracy(model, classifier, n_per_value=50)
    info = model.information_loss(model.judge(model.sample(256, ema=False), None)[1], model.latent_spec.draw(256))
    print(f"InfoGAN: code-to-class accuracy {before:.2f} -> {after['accuracy']:.2f}, matching {after['matching']}")
    assert after["accuracy"] > max(0.3, before + 0.1)
    assert len(set(after["matching"].values())) == 10
    assert torch.isfinite(info)
