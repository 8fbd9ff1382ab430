"""Image-moment properties (``lit_gans.metrics.shape``) on hand-made images, and the effect of a continuous
code measured on a toy family whose code sets the width of a blob."""

from __future__ import annotations

import math

import pytest
import torch

from lit_gans.latent import LatentSpec
from lit_gans.metrics.shape import PROPERTIES, code_property_effects, shape_properties


def blank(size: int = 16) -> torch.Tensor:
    return -torch.ones(1, 1, size, size)


def bar(rows: range, column_of_row, size: int = 16) -> torch.Tensor:
    """One pixel of ink per row (y counted upward), split between the two columns around
    ``column_of_row(y)`` so that each row's centre of ink is exactly there."""
    ink = torch.zeros(size, size)
    for y in rows:
        x = column_of_row(y)
        left = math.floor(x)
        ink[size - 1 - y, left] += 1 - (x - left)
        if x > left:
            ink[size - 1 - y, left + 1] += x - left
    return (ink * 2 - 1)[None, None]


def blob(width: float, height: float, size: int = 32, shear: float = 0.0) -> torch.Tensor:
    """A Gaussian blob at the centre, standard deviations ``width`` along x and ``height`` along y, sheared
    by ``shear`` (x moves ``shear`` px right per px up)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y = ((size - 1) / 2 - torch.arange(size, dtype=torch.float64))[:, None]
    ink = torch.exp(-0.5 * (((x - shear * y) / width) ** 2 + (y / height) ** 2))
    return (ink * 2 - 1).float()[None, None]


def test_ink_mass_of_blank_and_full_images():
    props = shape_properties(torch.cat([blank(), -blank()]))
    assert props["ink"].tolist() == [0.0, 1.0]
    assert props["width"][0].isnan() and props["width"][1] > 0  # no ink: no shape


def test_vertical_bar_is_upright_and_one_column_wide():
    props = {k: float(v) for k, v in shape_properties(bar(range(2, 14), lambda y: 7)).items()}
    assert props["slant"] == 0
    assert props["width"] == 0 and props["upright_width"] == 0
    assert props["height"] == pytest.approx(math.sqrt((12**2 - 1) / 12))  # 12 rows, uniform
    assert (props["centroid_x"], props["centroid_y"]) == (7, 7.5)
    assert props["ink"] == pytest.approx(12 / 256)


@pytest.mark.parametrize("shear", [0.5, -0.25, 1.0])
def test_sheared_bar_has_the_slant_of_its_shear(shear):
    props = shape_properties(bar(range(2, 14), lambda y: 7.5 + shear * (y - 7.5)))
    assert float(props["slant"]) == pytest.approx(shear)
    # deskewing a one-pixel stroke leaves at most the split between two columns
    assert float(props["upright_width"]) <= 0.5 + 1e-9 < float(props["width"])


def test_wider_blob_has_larger_width_and_the_same_height():
    narrow, wide = shape_properties(torch.cat([blob(1.5, 3.0), blob(3.0, 3.0)]))["width"].tolist()
    assert narrow == pytest.approx(1.5, rel=1e-3) and wide == pytest.approx(3.0, rel=1e-3)
    heights = shape_properties(torch.cat([blob(1.5, 3.0), blob(3.0, 3.0)]))["height"]
    assert heights[0] == pytest.approx(float(heights[1]), rel=1e-6)


def test_sheared_blob_slant_and_upright_width():
    props = shape_properties(blob(1.5, 4.0, shear=0.5))
    assert float(props["slant"]) == pytest.approx(0.5, rel=1e-3)
    assert float(props["upright_width"]) == pytest.approx(1.5, rel=1e-3)
    assert float(props["width"]) == pytest.approx(math.hypot(1.5, 0.5 * 4.0), rel=1e-3)


class WidthCodeToy:
    """A family-like module: a blob whose width is 2 + 0.5 z0 + code0 (code 1 changes nothing), height
    3 + 0.5 z1, shear 0.2 z2 and position shifted by z3, z4."""

    device = torch.device("cpu")
    latent_spec = LatentSpec(5, "uniform", (), 2)

    def sample(self, n, latent):
        z, c = latent.z.double(), latent.continuous.double()
        size = 32
        x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        y = ((size - 1) / 2 - torch.arange(size, dtype=torch.float64))[:, None]
        x, y = x - z[:, 3, None, None], y - z[:, 4, None, None]
        width = (2 + 0.5 * z[:, 0] + c[:, 0])[:, None, None]
        height = (3 + 0.5 * z[:, 1])[:, None, None]
        ink = torch.exp(-0.5 * (((x - 0.2 * z[:, 2, None, None] * y) / width) ** 2 + (y / height) ** 2))
        return (ink * 2 - 1).float()[:, None]


def test_code_property_effects_finds_the_width_code():
    effects = code_property_effects(WidthCodeToy(), 0, n=64)
    assert set(effects) == set(PROPERTIES)
    upright = effects["upright_width"]
    # width moves 1 px per unit of code; its spread at code 0 is 0.5 std(z0) = 0.5 / sqrt(3)
    assert upright["slope"] == pytest.approx(1.0, rel=0.02)
    assert upright["effect"] == pytest.approx(math.sqrt(3) / 0.5, rel=0.25) and upright["consistency"] == 1.0
    assert effects["width"]["effect"] > 2 and effects["width"]["consistency"] == 1.0
    assert all(a < b for a, b in zip(upright["mean"], upright["mean"][1:]))  # grows along the code
    for name in ("height", "slant", "centroid_x", "centroid_y"):
        assert abs(effects[name]["effect"]) < 0.05, name
    # the other code changes nothing
    other = code_property_effects(WidthCodeToy(), 1, n=64)
    assert all(abs(other[name]["effect"]) < 1e-6 for name in PROPERTIES)


def test_code_property_effects_rejects_a_code_the_family_lacks():
    with pytest.raises(ValueError, match="continuous codes"):
        code_property_effects(WidthCodeToy(), 2, n=4)
