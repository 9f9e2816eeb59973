"""Quality flags (:mod:`galkin.quality`): fits that must not look clean say so."""

import warnings

import numpy as np
import pytest
from astropy import units as u

import galkin
from galkin.exceptions import GalkinWarning
from galkin.quality import FitQualityWarning, quality_flags, warn_about

BASE = dict(inclination=60 * u.deg, position_angle=40 * u.deg, r_scale=6 * u.arcsec)


def fit_quietly(data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitQualityWarning)
        return galkin.fit(data, **kwargs)


def test_a_curve_that_never_flattens_is_flagged_extrapolated():
    """r_turn far beyond the gas: v_max is an asymptote the data never reach."""
    cube = galkin.simulate_cube(
        **BASE, v_max=300 * u.km / u.s, r_turn=40 * u.arcsec, beam=3 * u.arcsec, snr=20, seed=1
    )
    with pytest.warns(FitQualityWarning, match="extrapolated"):
        result = galkin.fit(cube)
    flags = result.flags()
    assert flags["extrapolated"]
    v_outer, v_outer_err = result.v_outer()
    # the speed the data reach is what the truth gives at r_max, well below v_max
    r_max = result.r_max.to_value(u.arcsec)
    truth_outer = 300 * 2 / np.pi * np.arctan(r_max / 40)
    assert v_outer.to_value(u.km / u.s) == pytest.approx(truth_outer, rel=0.1)
    assert v_outer < 0.9 * result.v_max and v_outer_err > 0
    table = result.to_table()
    assert table["flag_extrapolated"][0] and table["v_outer"].unit == u.km / u.s


def test_a_network_only_fit_warns_without_a_refinement():
    """``refine=False``: a flagged network-only fit warns (its reasons quote no
    refinement it does not have), here the extrapolated curve above."""
    cube = galkin.simulate_cube(
        **BASE, v_max=300 * u.km / u.s, r_turn=40 * u.arcsec, beam=3 * u.arcsec, snr=20, seed=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitQualityWarning)
        result = galkin.fit(cube, refine=False, mc_samples=4)
    assert result.output.refinement is None
    raised = {"at_bound": True, "extrapolated": True, "poor_fit": True, "profile_mismatch": True}
    with pytest.warns(FitQualityWarning, match="extrapolated beyond the data") as caught:
        warn_about(result, raised)
    assert "intensity='rings'" in str(caught[0].message)


def test_a_flat_curve_inside_the_data_is_not_flagged():
    cube = galkin.simulate_cube(
        **BASE, v_max=200 * u.km / u.s, r_turn=1.5 * u.arcsec, beam=2 * u.arcsec, snr=20, seed=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitQualityWarning)
        result = galkin.fit(cube)
    flags = result.flags()
    assert not flags["extrapolated"] and not flags["at_bound"] and not flags["poor_fit"]
    kms = u.km / u.s
    assert result.v_outer()[0].to_value(kms) == pytest.approx(result.v_max.to_value(kms), rel=0.1)


def test_a_parameter_at_its_bound_is_flagged_and_named():
    """A rotation curve that rises across the whole map pushes r_turn to its upper bound."""
    cube = galkin.simulate_cube(
        **BASE, v_max=400 * u.km / u.s, r_turn=400 * u.arcsec, beam=3 * u.arcsec, snr=30, seed=3
    )
    with pytest.warns(GalkinWarning) as record:  # its estimated PA is restarted, too
        result = galkin.fit(cube)
    assert any(isinstance(w.message, FitQualityWarning) for w in record)
    assert result.flags()["at_bound"]
    named = result.at_bound
    assert named and all(name in result.output.refinement.names for name in named)
    assert any(name in str(w.message) for w in record for name in named)
    assert result.to_table()["at_bound"][0] == ",".join(named)


def test_disordered_velocities_are_a_poor_fit():
    """A velocity field with strong non-circular motions is flagged and warned about."""
    cube = galkin.simulate_cube(
        **BASE, v_max=150 * u.km / u.s, r_turn=3 * u.arcsec, beam=3 * u.arcsec, snr=20, seed=4
    )
    maps = galkin.maps_from_cube(cube)
    y, x = np.indices(maps.shape)
    streaming = 60 * np.sin(x / 4.0) * np.cos(y / 5.0) * u.km / u.s  # large-scale, not rotation
    disturbed = maps.replace(moment1=maps.moment1 + streaming)
    quiet = fit_quietly(maps)
    assert not quiet.flags()["poor_fit"]
    with pytest.warns(FitQualityWarning, match="does not describe"):
        result = galkin.fit(disturbed)
    assert quality_flags(result)["poor_fit"]
    assert result.to_table()["residual_moment1"][0] > 3 * quiet.to_table()["residual_moment1"][0]


def test_gas_in_a_ring_is_refitted_with_a_free_surface_density():
    """A ring of gas with a central hole: the exponential does not follow it, so the fit
    is redone with ring surface densities (and says so); intensity_fallback=False keeps
    the exponential and points at intensity='rings'; an exponential disc is untouched."""
    from galkin.quality import profile_mismatch

    common = dict(inclination=55 * u.deg, position_angle=40 * u.deg, beam=3 * u.arcsec, snr=20)
    ring = galkin.simulate_cube(
        **common,
        v_max=200 * u.km / u.s,
        r_turn=3 * u.arcsec,
        surface_density=(
            [0, 6, 10, 14, 18, 30] * u.arcsec,
            [0.0, 0.05, 1.0, 1.0, 0.1, 0.0] * u.one,
        ),
        seed=4,
    )
    with pytest.warns(FitQualityWarning, match="intensity='rings'"):
        first = galkin.fit(ring, intensity_fallback=False)
    assert first.intensity.name == "exponential" and first.flags()["profile_mismatch"]
    assert profile_mismatch(first) > 0.3
    with pytest.warns(FitQualityWarning, match=r"refit with a free \(rings\) surface density"):
        refit = galkin.fit(ring)
    assert refit.intensity.name == "rings" and refit.output.fallback["profile"] == "exponential"
    table = refit.to_table()
    assert table["flag_profile_mismatch"][0] and table["intensity_profile"][0] == "rings"
    assert profile_mismatch(refit) == pytest.approx(profile_mismatch(first), rel=0.05)
    inc = {k: r.inclination.to_value(u.deg) for k, r in (("first", first), ("refit", refit))}
    assert abs(inc["refit"] - 55) < 1.5 and abs(inc["refit"] - 55) < abs(inc["first"] - 55)
    disc = fit_quietly(
        galkin.simulate_cube(
            **common, v_max=200 * u.km / u.s, r_turn=3 * u.arcsec, r_scale=6 * u.arcsec, seed=5
        )
    )
    assert profile_mismatch(disc) < 0.05 and not disc.flags()["profile_mismatch"]
    assert disc.intensity.name == "exponential" and disc.output.fallback is None


@pytest.mark.parametrize("edge", [None, 20.0])
def test_a_disc_with_a_sharp_edge_is_flagged_truncated(edge):
    """An exponential disc (r_scale 8") cut at 20" and seen at 72 deg: the fit reads it
    too edge-on, and its negative moment-0 pedestal raises ``truncated``; the same disc
    without the edge is fitted at the truth and not flagged (nor refitted: the
    automatic refit with an edge is tested in test_fit)."""

    def density(radius):
        r = radius.to_value(u.arcsec)
        return np.exp(-r / 8.0) * (r < edge if edge else 1.0)

    cube = galkin.simulate_cube(
        inclination=72 * u.deg,
        position_angle=30 * u.deg,
        v_max=180 * u.km / u.s,
        r_turn=4 * u.arcsec,
        beam=3 * u.arcsec,
        r_scale=8 * u.arcsec,
        surface_density=density,
        snr=30,
        seed=3,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitQualityWarning)
        result = galkin.fit(cube, seed=0, intensity_fallback=False)
    truncated = quality_flags(result)["truncated"]
    warned = any("sharp edge" in str(w.message) for w in caught)
    assert result.to_table()["flag_truncated"][0] == truncated
    if edge is None:
        assert abs(result.inclination - 72 * u.deg) < 1 * u.deg
        assert not truncated and not warned
    else:
        assert result.inclination > 74 * u.deg  # the limitation the flag reports
        assert truncated and warned
        assert result.output.refinement.pedestal < -0.01
