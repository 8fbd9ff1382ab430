"""The latent spec: what a sample needs, drawn, fixed, assembled and checked."""

from __future__ import annotations

import pytest
import torch

from lit_gans.errors import ConfigError
from lit_gans.latent import Latent, LatentSpec


SPEC = LatentSpec(5, "uniform", categorical=(10, 3), continuous=2, num_classes=4)


def test_draw_gives_every_part_its_shape_and_range():
    latent = SPEC.draw(200)
    assert latent.z.shape == (200, 5) and latent.z.abs().max() <= 1
    assert latent.codes.shape == (200, 2) and latent.codes[:, 0].max() == 9 and latent.codes[:, 1].max() == 2
    assert latent.continuous.shape == (200, 2) and latent.continuous.abs().max() <= 1
    assert latent.labels.shape == (200,) and set(latent.labels.tolist()) == {0, 1, 2, 3}
    assert SPEC.draw(3, labels=False).labels is None
    assert LatentSpec(4).draw(3).codes is None and LatentSpec(4).draw(1000).z.abs().max() > 1  # normal


def test_assemble_concatenates_z_one_hot_codes_and_continuous_codes():
    latent = SPEC.draw(6)
    x = SPEC.assemble(latent)
    assert x.shape == (6, SPEC.input_dim) == (6, 5 + 10 + 3 + 2)
    assert torch.equal(x[:, :5], latent.z)
    assert torch.equal(x[:, 5:15].argmax(1), latent.codes[:, 0]) and torch.equal(x[:, 15:18].argmax(1), latent.codes[:, 1])
    assert torch.equal(x[:, 18:], latent.continuous)
    assert LatentSpec(4).assemble(Latent(torch.ones(2, 4))) is not None


def test_fixed_batches_are_seeded_and_show_every_class_and_code_in_turn():
    a, b = SPEC.fixed(12, seed=1), SPEC.fixed(12, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.parts(), b.parts()))
    assert a.labels.tolist() == [0, 1, 2, 3] * 3 and a.codes[:, 0].tolist() == list(range(10)) + [0, 1]
    assert not torch.equal(SPEC.fixed(12, seed=2).z, a.z)


def test_check_names_the_part_that_does_not_fit():
    latent = SPEC.draw(4)
    SPEC.check(latent)
    with pytest.raises(ConfigError, match=r"z must have shape \(4, 5\) for 4 samples, got \(4, 6\)"):
        SPEC.check(latent.replace(z=torch.zeros(4, 6)))
    with pytest.raises(ConfigError, match="codes outside their sizes"):
        SPEC.check(latent.replace(codes=torch.tensor([[10, 0]] * 4)))
    with pytest.raises(ConfigError, match="labels outside this 4-class model: 7"):
        SPEC.check(latent.replace(labels=torch.tensor([0, 1, 2, 7])))
    with pytest.raises(ConfigError, match="this model takes no codes"):
        LatentSpec(5).check(latent.replace(z=torch.zeros(4, 5)))
    with pytest.raises(ConfigError, match="each categorical code needs >= 2 values"):
        LatentSpec(5, categorical=(1,))


def test_indexing_and_moving_keep_every_part():
    latent = SPEC.draw(6)
    part = latent[2:4].to("cpu")
    assert len(part) == 2 and torch.equal(part.codes, latent.codes[2:4]) and torch.equal(part.labels, latent.labels[2:4])


@pytest.mark.parametrize("threshold", [0.25, 0.5, 1.0, 2.0])
def test_truncated_noise_stays_within_the_threshold_and_is_a_truncated_normal(threshold):
    import math

    spec = LatentSpec(64)
    z = spec.noise(4000, generator=torch.Generator().manual_seed(0), truncation=threshold)
    assert z.shape == (4000, 64) and z.dtype == torch.float32 and z.abs().max() <= threshold
    # the variance of N(0, 1) conditioned on |x| <= t: 1 - 2 t phi(t) / (2 Phi(t) - 1)
    phi = math.exp(-threshold**2 / 2) / math.sqrt(2 * math.pi)
    expected = 1 - 2 * threshold * phi / math.erf(threshold / math.sqrt(2))
    assert abs(float(z.var()) / expected - 1) < 0.02 and abs(float(z.mean())) < 0.01 * threshold
    # spread over the whole interval, not piled up at its ends
    assert float((z.abs() > 0.9 * threshold).float().mean()) < 0.2


def test_truncated_draws_are_deterministic_under_a_generator():
    spec = LatentSpec(8, num_classes=3)
    a = spec.draw(50, generator=torch.Generator().manual_seed(3), truncation=0.5)
    b = spec.draw(50, generator=torch.Generator().manual_seed(3), truncation=0.5)
    assert torch.equal(a.z, b.z) and torch.equal(a.labels, b.labels)
    assert not torch.equal(spec.draw(50, generator=torch.Generator().manual_seed(4), truncation=0.5).z, a.z)
    # the generator given is the one read: the global generator's state does not matter
    torch.manual_seed(0)
    c = spec.draw(50, generator=torch.Generator().manual_seed(3), truncation=0.5)
    assert torch.equal(c.z, a.z)
    # one seed, two thresholds: the same uniforms, so every entry keeps its sign and rank
    wide = spec.draw(50, generator=torch.Generator().manual_seed(3), truncation=2.0).z
    assert torch.equal(wide.sign(), a.z.sign()) and torch.equal(wide.argsort(1), a.z.argsort(1))
    assert float(a.z.abs().max()) <= 0.5 < float(wide.abs().max())


def test_truncation_needs_normal_noise_and_a_positive_threshold():
    with pytest.raises(ConfigError, match=r"truncation=0.5 applies to normal noise only.*uniform U\(-1, 1\)"):
        SPEC.draw(4, truncation=0.5)
    for bad in (0, -1.0, float("nan"), "0.5"):
        with pytest.raises(ConfigError, match="must be a number > 0"):
            LatentSpec(4).draw(4, truncation=bad)
    LatentSpec(4).check_truncation(None)
    assert LatentSpec(4).draw(3, truncation=None).z.shape == (3, 4)
