"""The shared scalers: reference semantics on ordinary data, sane on extreme scales."""

import pytest
import torch
from gluonts.torch.scaler import MeanScaler as GluonTSMeanScaler
from gluonts.torch.scaler import StdScaler as GluonTSStdScaler

from lagllama_gluonts.common.scaling import SCALINGS, make_scaler

torch.manual_seed(0)
DATA = 5 + 3 * torch.randn(4, 50)
OBSERVED = (torch.rand(4, 50) > 0.1).float()


def test_mean_scaling_equals_gluonts_on_ordinary_data():
    ours = make_scaler("mean", dim=1)(DATA, OBSERVED)
    theirs = GluonTSMeanScaler(dim=1, keepdim=True)(DATA, OBSERVED)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_std_scaling_equals_gluonts_up_to_its_absolute_variance_floor():
    ours = make_scaler("std", dim=1)(DATA, OBSERVED)
    theirs = GluonTSStdScaler(dim=1, keepdim=True, minimum_scale=0.0)(DATA, OBSERVED)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_robust_scaling_is_median_and_iqr_with_the_lower_middle_value():
    data = torch.tensor([[1.0, 2.0, 3.0, 4.0, 10.0, 20.0]])
    _, loc, scale = make_scaler("robust")(data, torch.ones_like(data))
    assert loc.item() == 3.0  # torch.nanmedian: the lower of 3 and 4, as the reference
    assert scale.item() == pytest.approx(torch.quantile(data, 0.75).item() - torch.quantile(data, 0.25).item())


@pytest.mark.parametrize("name", ["robust", "mean", "std"])
@pytest.mark.parametrize("magnitude", [1e-30, 1.0, 1e30])
def test_scaled_values_do_not_depend_on_the_magnitude(name, magnitude):
    """The floor is relative and sums run in float64: 1e-30 data is not flattened, 1e30 does not overflow."""
    scaled_unit, _, _ = make_scaler(name)(DATA, OBSERVED)
    scaled, loc, scale = make_scaler(name)(DATA * magnitude, OBSERVED)
    assert torch.isfinite(scaled).all() and torch.isfinite(loc).all() and torch.isfinite(scale).all()
    assert scaled.dtype == DATA.dtype
    torch.testing.assert_close(scaled, scaled_unit, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["robust", "mean", "std"])
def test_a_constant_row_gets_a_floor_relative_to_its_level(name):
    data = torch.full((1, 10), 3e-30)
    _, _, scale = make_scaler(name)(data, torch.ones_like(data))
    assert 0 < scale.item() <= 3.001e-30  # not the absolute 1e-10 of GluonTS's scalers


def test_rows_without_observations():
    data = torch.randn(2, 6)
    observed = torch.tensor([[0.0] * 6, [1.0] * 6])
    for name in ("robust", "std"):
        _, loc, scale = make_scaler(name)(data, observed)
        assert loc[0].item() == 0 and scale[0].item() == 1
    _, _, scale = make_scaler("mean")(data, observed)
    assert scale[0].item() == pytest.approx(data[1].abs().mean().item(), rel=1e-5)  # the batch's


def test_none_and_unknown_names():
    scaled, loc, scale = make_scaler(None)(DATA, OBSERVED)
    assert torch.equal(scaled, DATA) and (loc == 0).all() and (scale == 1).all()
    assert "none" in SCALINGS
    with pytest.raises(ValueError, match="scaling must be one of"):
        make_scaler("robst")
