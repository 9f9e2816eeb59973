"""The blind SAE's simulated galaxies: the user's data path, the randomised conditions, labels."""

import warnings

import numpy as np
import pytest
from astropy import units as u

import galkin
from galkin.exceptions import GalkinError
from galkin.simulation import rotation_curves as rc
from galkin.simulation import surface_density as sd
from galkin_plugins.sae.simulations import (
    CONDITIONS,
    TRUTH_NAMES,
    draw_parameters,
    simulate_prepared,
    simulate_set,
)


def randomised_draws(n=400):
    rng = np.random.default_rng(5)
    return [draw_parameters(rng, "randomised") for _ in range(n)]


def test_randomised_conditions_span_the_issue_ranges():
    draws = randomised_draws()
    get = lambda k: np.array([d[k] for d in draws], dtype=object)  # noqa: E731
    channel, dispersion = get("channel_width").astype(float), get("dispersion").astype(float)
    assert channel.min() < 3 and channel.max() > 25 and channel.min() >= 2
    assert dispersion.min() < 8 and dispersion.max() > 35
    snr = np.array([np.nan if s is None else s for s in get("snr")], dtype=float)
    assert 0.08 < np.isnan(snr).mean() < 0.25  # noiseless
    assert np.nanmin(snr) < 4 and np.nanmax(snr) > 70
    major = np.array([b[0] for b in get("beam")])
    assert major.min() < 2 and major.max() > 7
    assert np.mean([b[1] < b[0] for b in get("beam")]) > 0.3  # elliptical beams
    assert 0.3 < get("correlated_noise").astype(bool).mean() < 0.7
    height = (get("scale_height") / get("r_scale")).astype(float)
    assert height.min() < 0.03 and height.max() > 0.35
    outer = np.array([np.nan if o is None else o for o in get("outer_radius")], dtype=float)
    fill = 2 * outer / 64
    assert np.nanmin(fill) < 0.25 and np.nanmax(fill) > 0.95  # galaxies filling 20-100%
    kinds = {type(d["surface_density"]).__name__ for d in draws}
    assert {"Exponential", "Ring", "Hole", "Spiral", "Clumpy"} <= kinds
    curves = {type(d["rotation_curve"]).__name__ for d in draws}
    assert curves == {"Arctan", "Courteau", "Polyex", "DiscHalo"}
    masks = {(d["mask"], d["clip_sigma"] is None) for d in draws}
    assert masks == {("smooth", True), ("smooth", False), ("clip", False)}
    sigmas = [d["clip_sigma"] for d in draws if d["clip_sigma"] is not None]
    assert 3.0 <= min(sigmas) < 3.3 and 4.7 < max(sigmas) <= 5.0


def test_unknown_conditions_are_refused():
    with pytest.raises(GalkinError, match="randomised"):
        draw_parameters(np.random.default_rng(0), "real")


def test_a_noisy_galaxy_is_prepared_exactly_as_galkin_fit_prepares_its_cube():
    rng = np.random.default_rng(1)
    params = draw_parameters(rng, "survey")
    params.update(snr=12.0, inclination=55.0, v_max=220.0, r_scale=8.0, r_turn=5.0)
    prepared, truth = simulate_prepared(params, seed=11, n_particles=50_000)
    cube = galkin.simulate_cube(
        inclination=55 * u.deg,
        position_angle=params["position_angle"] * u.deg,
        v_max=220 * u.km / u.s,
        r_turn=5 * u.arcsec,
        r_scale=8 * u.arcsec,
        shape=(64, 64),
        beam=params["beam"] * u.arcsec,
        snr=12.0,
        dispersion=params["dispersion"] * u.km / u.s,
        systemic_velocity=params["systemic_velocity"] * u.km / u.s,
        center=(31.5 + params["center_offset"][0], 31.5 + params["center_offset"][1]),
        seed=11,
        n_particles=50_000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", galkin.GalkinWarning)
        result = galkin.fit(cube, refine=False, mc_samples=2)
    np.testing.assert_array_equal(prepared.moment1, result.prepared.moment1)
    np.testing.assert_array_equal(prepared.mask, result.prepared.mask)
    for name in ("field", "velocity", "systemic_velocity", "center", "position_angle", "beam"):
        assert getattr(prepared.scales, name) == getattr(result.prepared.scales, name)
    # exponential disc + arctan curve: the labels are the inputs themselves
    assert truth["r_scale"] == pytest.approx(8.0 / prepared.scales.field, rel=1e-12)
    assert truth["inclination"] == pytest.approx(np.radians(55.0))


def test_randomised_galaxy_follows_its_mask_options_and_is_labelled_by_its_equivalents():
    params = randomised_draws(1)[0]
    params.update(
        snr=20.0,
        mask="clip",
        clip_sigma=3.5,
        surface_density=sd.Ring(radius=12 * u.arcsec, width=3 * u.arcsec, disc=0.3),
        rotation_curve=rc.Polyex(alpha=-0.03),
        outer_radius=None,
        r_scale=6.0,
        r_turn=4.0,
        inclination=60.0,
        v_max=200.0,
    )
    prepared, truth = simulate_prepared(params, seed=3, n_particles=50_000)
    assert prepared.maps.meta["mask_method"] == "clip"
    assert prepared.maps.meta["mask_threshold"] == 3.5
    cube = galkin.simulate_cube(
        inclination=60 * u.deg,
        position_angle=0 * u.deg,
        v_max=200 * u.km / u.s,
        r_turn=4 * u.arcsec,
        r_scale=6 * u.arcsec,
        surface_density=params["surface_density"],
        rotation_curve=params["rotation_curve"],
        n_particles=2000,
    )
    eq = cube.meta["galkin_truth"]["equivalent"]
    field = prepared.scales.field
    assert truth["r_scale"] * field == pytest.approx(eq["r_scale"].to_value(u.arcsec))
    assert truth["r_turn"] * field == pytest.approx(eq["r_turn"].to_value(u.arcsec))
    v_sin_i = truth["v_max"] * prepared.scales.velocity
    assert v_sin_i == pytest.approx(eq["v_max"].to_value(u.km / u.s) * np.sin(np.radians(60)))
    # a declining polyex curve: its equivalent arctan sits below the curve's own v_max
    assert eq["v_max"].to_value(u.km / u.s) < 200.0


def test_randomised_set_is_reproducible_and_complete():
    a = simulate_set(6, seed=77, conditions="randomised", n_particles=20_000, start=3)
    b = simulate_set(2, seed=77, conditions="randomised", n_particles=20_000, start=5)
    assert len(a["m0"]) >= 5  # a galaxy may fail to prepare, but rarely
    keep = np.isin(a["index"], b["index"])
    np.testing.assert_array_equal(a["m1"][keep], b["m1"])
    assert a["truth"].shape[1] == len(TRUTH_NAMES)
    assert np.all(np.isfinite(a["truth"]))
    assert "randomised" in CONDITIONS
