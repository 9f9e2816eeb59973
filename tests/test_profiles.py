"""The built-in decoder profiles: the contract suite over the registry, then physics."""

import math

import pytest
import torch
from scipy.special import gammainc

import galkin
from galkin.testing import BaseTestIntensityProfile, BaseTestVelocityProfile
from galkin_plugins.profiles.sersic import sersic_b

BUILTIN = {
    "intensity": {"exponential", "sersic", "truncated_gaussian", "truncated_exponential", "rings"},
    "velocity": {"arctan", "courteau", "polyex", "rings"},
}


def _t(*values):
    return torch.tensor(values, dtype=torch.float64)


class TestIntensityContract(BaseTestIntensityProfile):
    """Every registered intensity profile (built-in or installed) obeys the contract."""

    @pytest.fixture(params=galkin.list_profiles("intensity"))
    def profile(self, request):
        return galkin.get_profile(request.param, "intensity")()


class TestVelocityContract(BaseTestVelocityProfile):
    """Every registered velocity profile (built-in or installed) obeys the contract."""

    @pytest.fixture(params=galkin.list_profiles("velocity"))
    def profile(self, request):
        return galkin.get_profile(request.param, "velocity")()


@pytest.mark.parametrize("kind", ["intensity", "velocity"])
def test_builtins_registered(kind):
    assert BUILTIN[kind] <= set(galkin.list_profiles(kind))


def test_default_pair_parameter_names():
    # The fitter reports v_max, r_turn and r_scale for the thesis defaults.
    assert galkin.get_profile("exponential").parameter_names() == ("r_scale",)
    assert galkin.get_profile("arctan").parameter_names() == ("v_max", "r_turn")
    assert galkin.get_profile("arctan").amplitude() == "v_max"


def test_exponential_one_over_e_at_scale_length():
    profile = galkin.get_profile("exponential")()
    r_scale = _t(0.05, 0.2, 0.5)
    out = profile.evaluate(r_scale, r_scale=r_scale)
    torch.testing.assert_close(out, torch.full_like(r_scale, math.exp(-1)))
    assert profile.evaluate(_t(0.0), r_scale=_t(0.1)).item() == 1.0


@pytest.mark.parametrize("n", [0.5, 1.0, 2.0, 4.0])
def test_sersic_b_encloses_half_the_light(n):
    # Light within R of exp(-b (R/r_e)^(1/n)) is gammainc(2n, b (R/r_e)^(1/n)).
    assert gammainc(2 * n, sersic_b(n)) == pytest.approx(0.5, abs=2e-4)


def test_sersic_half_light_radius_numerically():
    profile = galkin.get_profile("sersic")()
    radius = torch.linspace(0.0, 20.0, 400_001, dtype=torch.float64)
    light = profile.evaluate(radius, r_e=_t(0.3), n=_t(2.0)) * radius
    cumulative = torch.cumulative_trapezoid(light, radius)
    half = radius[1:][torch.searchsorted(cumulative, 0.5 * cumulative[-1])]
    assert half.item() == pytest.approx(0.3, rel=1e-3)


def test_sersic_n1_is_exponential():
    sersic = galkin.get_profile("sersic")()
    exponential = galkin.get_profile("exponential")()
    radius = torch.linspace(0.0, 2.0, 201, dtype=torch.float64)
    r_e = _t(0.25)
    torch.testing.assert_close(
        sersic.evaluate(radius, r_e=r_e, n=_t(1.0)),
        exponential.evaluate(radius, r_scale=r_e / sersic_b(1.0)),
    )
    assert sersic_b(1.0) == pytest.approx(1.678347, abs=1e-4)


def test_sersic_n_half_is_gaussian():
    profile = galkin.get_profile("sersic")()
    radius = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)
    expected = torch.exp(-sersic_b(0.5) * (radius / 0.2) ** 2)
    torch.testing.assert_close(profile.evaluate(radius, r_e=_t(0.2), n=_t(0.5)), expected)


def test_truncated_gaussian_shape():
    profile = galkin.get_profile("truncated_gaussian")()
    sigma, r_trunc = _t(0.1), _t(0.4)
    width = profile.edge_width
    out = profile.evaluate(_t(0.0, 0.1, 0.4, 0.4 + 10 * width), sigma=sigma, r_trunc=r_trunc)
    assert out[0].item() == pytest.approx(1.0, abs=1e-12)
    assert out[1].item() == pytest.approx(math.exp(-0.5), rel=1e-6)  # untouched inside
    assert out[2].item() == pytest.approx(0.5 * math.exp(-8.0), rel=1e-6)  # edge mid-point
    assert out[3].item() < 1e-4 * math.exp(-0.5 * 5.0**2)  # gone beyond the edge


def test_arctan_half_at_turnover_and_flat_far_out():
    profile = galkin.get_profile("arctan")()
    v_max, r_turn = _t(1.0, 3.0), _t(0.01, 0.3)
    torch.testing.assert_close(profile.evaluate(r_turn, v_max=v_max, r_turn=r_turn), v_max / 2)
    far = profile.evaluate(_t(1e6), v_max=v_max, r_turn=r_turn)
    torch.testing.assert_close(far, v_max, rtol=1e-6, atol=0)


def test_courteau_matches_direct_formula():
    profile = galkin.get_profile("courteau")()
    radius = torch.linspace(0.01, 3.0, 300, dtype=torch.float64)
    v_c, r_t, beta, gamma = _t(2.0), _t(0.1), _t(0.3), _t(2.5)
    x = r_t / radius
    expected = v_c * (1 + x) ** beta / (1 + x**gamma) ** (1 / gamma)
    out = profile.evaluate(radius, v_c=v_c, r_t=r_t, beta=beta, gamma=gamma)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("beta", [-0.4, 0.0, 0.4])
def test_courteau_asymptotes(beta):
    profile = galkin.get_profile("courteau")()
    params = dict(v_c=_t(2.0), r_t=_t(0.1), beta=_t(beta), gamma=_t(3.0))
    # Far out: V = v_c (1 + beta r_t / R) to first order in x = r_t / R.
    far = _t(100.0)
    expected = 2.0 * (1 + beta * 0.1 / 100.0)
    assert profile.evaluate(far, **params).item() == pytest.approx(expected, rel=1e-5)
    # Near the centre: V = v_c (R / r_t)^(1 - beta) -> 0.
    near = _t(1e-6)
    expected = 2.0 * (1e-6 / 0.1) ** (1 - beta)
    assert profile.evaluate(near, **params).item() == pytest.approx(expected, rel=1e-5)
    assert profile.evaluate(_t(0.0), **params).item() == 0.0


def test_courteau_beta0_gamma1_is_rational():
    profile = galkin.get_profile("courteau")()
    radius = torch.linspace(0.0, 2.0, 201, dtype=torch.float64)
    out = profile.evaluate(radius, v_c=_t(1.5), r_t=_t(0.2), beta=_t(0.0), gamma=_t(1.0))
    torch.testing.assert_close(out, 1.5 * radius / (radius + 0.2))


def test_courteau_no_overflow_float32_small_radius():
    profile = galkin.get_profile("courteau")()
    radius = torch.tensor([0.0, 1e-30, 1e-10, 1e-3], dtype=torch.float32)
    params = {k: torch.tensor(v) for k, v in dict(v_c=1.0, r_t=0.5, beta=-0.5, gamma=10.0).items()}
    out = profile.evaluate(radius, **params)
    assert torch.isfinite(out).all() and (out >= 0).all() and (out < 1e-3).all()


def test_polyex_limits():
    profile = galkin.get_profile("polyex")()
    v_0, r_pe, alpha = _t(2.0), _t(0.1), _t(0.05)
    # Inner slope v_0 / r_pe.
    small = _t(1e-7)
    assert profile.evaluate(small, v_0=v_0, r_pe=r_pe, alpha=alpha).item() == pytest.approx(
        2.0 * 1e-7 / 0.1, rel=1e-5
    )
    # At R = r_pe: v_0 (1 - 1/e)(1 + alpha).
    at_scale = profile.evaluate(r_pe, v_0=v_0, r_pe=r_pe, alpha=alpha).item()
    assert at_scale == pytest.approx(2.0 * (1 - math.exp(-1)) * 1.05, rel=1e-12)
    # Far out the linear term: v_0 (1 + alpha R / r_pe).
    radius = _t(3.0, 5.0)
    out = profile.evaluate(radius, v_0=v_0, r_pe=r_pe, alpha=alpha)
    torch.testing.assert_close(out, 2.0 * (1 + 0.05 * radius / 0.1), rtol=1e-12, atol=0)


def test_polyex_declines_for_negative_alpha():
    profile = galkin.get_profile("polyex")()
    radius = torch.linspace(0.5, 3.0, 50, dtype=torch.float64)
    out = profile.evaluate(radius, v_0=_t(1.0), r_pe=_t(0.05), alpha=_t(-0.01))
    assert (out.diff() < 0).all()
