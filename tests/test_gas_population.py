"""The star-forming gas population: potentials, orbits, discs, encounters, accretion."""

import numpy as np
import pytest
from astropy import units as u

from galkin.exceptions import GalkinError
from galkin.simulation.circularity import circularity
from galkin.simulation.gas import accretion, discs, encounters
from galkin.simulation.gas.dynamics import GYR, Bar, Halo, dynamical_friction, leapfrog
from galkin.simulation.gas.population import GAS_KINDS, random_gas_galaxy, random_view
from galkin.simulation.particles import observe


def test_halo_rotation_curve_mass_and_force():
    halo = Halo(200.0, 1.0, 20.0)
    r = np.array([0.5, 5.0, 19.0, 40.0])
    vc2 = halo.circular_speed_sq(r)
    arctan = (2 * 200 / np.pi * np.arctan(r / 1.0)) ** 2
    assert np.allclose(vc2[:3], arctan[:3])
    assert vc2[3] == pytest.approx(halo.gm / 40.0)  # Keplerian beyond r_trunc: v^2 = GM / r
    offset = np.array([[3.0, 4.0, 0.0]])
    acc = halo.acceleration(offset)
    assert np.linalg.norm(acc) == pytest.approx(halo.circular_speed_sq(5.0) / 5.0)
    assert np.allclose(np.cross(acc, offset), 0)  # central
    # G rho integrates back to the enclosed mass: 4 pi int G rho r^2 dr = r v_c^2
    radii = np.linspace(1e-4, 10.0, 20001)
    dens = np.array([halo.g_rho(x) for x in radii])
    assert 4 * np.pi * np.trapezoid(dens * radii**2, radii) == pytest.approx(
        10.0 * halo.circular_speed_sq(10.0), rel=1e-3
    )
    assert halo.g_rho(25.0) == 0.0


def test_leapfrog_keeps_circular_orbits_circular_and_conserves_energy():
    halo = Halo(180.0, 1.5, 30.0)
    radii = np.array([1.0, 3.0, 8.0])
    pos = np.column_stack([radii, np.zeros(3), np.zeros(3)])
    vel = np.column_stack([np.zeros(3), np.sqrt(halo.circular_speed_sq(radii)), np.zeros(3)])
    [(p, v)] = leapfrog(pos, vel, lambda x, _: halo.acceleration(x), [1.0 * GYR], 0.001 * GYR)
    assert np.allclose(np.linalg.norm(p, axis=1), radii, rtol=2e-3)
    assert np.allclose(np.linalg.norm(v, axis=1), np.linalg.norm(vel, axis=1), rtol=2e-3)


def test_relative_orbit_reaches_its_pericentre_and_friction_makes_a_merger():
    # compact galaxies: outside ~1 kpc both are point masses, so the orbit is Keplerian
    host, sat = Halo(200.0, 0.3, 1.0), Halo(120.0, 0.3, 0.6)
    gm = host.gm + sat.gm
    rng = np.random.default_rng(3)
    r0, v0 = encounters._initial_orbit(rng, gm, 10.0, 1.0, 60.0)
    assert np.linalg.norm(r0) == pytest.approx(60.0)
    assert np.linalg.norm(v0) == pytest.approx(np.sqrt(2 * gm / 60.0))  # parabolic
    orbit = encounters._relative_orbit(host, sat, r0, v0, 3.0 * GYR, 0.0)
    sep = np.array([np.linalg.norm(orbit(t)[:3]) for t in np.linspace(0, 3.0 * GYR, 6000)])
    assert sep.min() == pytest.approx(10.0, rel=0.01)
    # with dynamical friction inside an extended halo, a bound orbit decays and merges
    host, sat = Halo(200.0, 1.0, 60.0), Halo(120.0, 0.5, 20.0)
    r0, v0 = encounters._initial_orbit(rng, host.gm + sat.gm, 10.0, 0.7, 40.0)
    orbit = encounters._relative_orbit(host, sat, r0, v0, 5.0 * GYR, 3.0)
    assert np.linalg.norm(orbit(5.0 * GYR)[:3]) == 0.0
    drag = dynamical_friction(np.array([5.0, 0, 0]), np.array([0, 150.0, 0]), host, sat.gm, 3.0)
    assert drag[1] < 0 and drag[0] == drag[2] == 0  # opposes the motion


def test_bar_is_a_rotating_quadrupole():
    halo = Halo(200.0, 1.0, 30.0)
    bar = Bar(halo, r_bar=3.0, strength=0.03, pattern_speed=40.0, t_grow=0.1)
    p = np.array([[2.0, 1.0, 0.3]])
    t = 0.5
    assert bar.potential(p, t) == pytest.approx(bar.potential(-p, t))  # m = 2: even
    turn = 40.0 * 0.2  # the pattern a time 0.2 later, rotated by Omega * 0.2
    c, s = np.cos(turn), np.sin(turn)
    rotated = p @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    assert bar.potential(rotated, t + 0.2) == pytest.approx(bar.potential(p, t))
    assert bar.potential(p, 0.0) == 0.0  # grown from nothing
    grad = bar.acceleration(p, t)
    step = 1e-3 * np.array([1.0, 0, 0])
    numeric = -(bar.potential(p + step, t) - bar.potential(p - step, t)) / 2e-3
    assert grad[0, 0] == pytest.approx(numeric[0], rel=1e-4)


@pytest.mark.parametrize("morphology", discs.MORPHOLOGIES)
def test_cold_discs_of_any_morphology_stay_regular(morphology):
    rng = np.random.default_rng(7)
    halo, r_scale = discs.random_halo(rng, v_max=150.0)
    pos, vel = discs.cold_disc(rng, 3000, halo, r_scale, sigma=20.0, morphology=morphology)
    # kappa of a cold disc: (v^2 + s^2) / (v^2 + 3 s^2) is above 0.9 for s / v ~ 0.15
    assert circularity(pos, vel) > 0.8


def test_barred_and_warped_discs_stay_regular():
    rng = np.random.default_rng(2)
    halo, r_scale = discs.random_halo(rng, v_max=200.0)
    assert circularity(*discs.barred_disc(rng, 1500, halo, r_scale, sigma=15.0)) > 0.7
    assert circularity(*discs.warped_disc(rng, 1500, halo, r_scale, sigma=15.0)) > 0.7


def test_counter_rotating_accretion_keeps_kappa_but_infall_lowers_it():
    rng = np.random.default_rng(4)
    halo, r_scale = discs.random_halo(rng, v_max=200.0)
    pos, vel = accretion.misaligned_disc(rng, 2000, halo, r_scale, tilt_deg=180.0, fraction=0.3)
    assert circularity(pos, vel) > 0.8  # Eq. 2.1 squares j_z: counter-rotation is ordered
    falling = [
        circularity(*accretion.infall(rng, 1500, halo, r_scale, fraction=0.6, duration_gyr=0.1))
        for _ in range(3)
    ]
    assert max(falling) < 0.8


def test_ram_pressure_strips_beyond_the_stripping_radius_only():
    rng = np.random.default_rng(5)
    halo, r_scale = discs.random_halo(rng, v_max=200.0, r_scale=2.0)
    pos, vel = accretion.ram_pressure(
        rng, 2000, halo, r_scale, strip_radius=3 * r_scale, duration_gyr=0.2
    )
    distance = np.linalg.norm(pos, axis=1)
    assert 0.01 < np.mean(distance > 6 * r_scale) < 0.5  # a tail, not the whole disc


def test_encounter_snapshots_before_and_after_pericentre():
    rng = np.random.default_rng(11)
    early, late = encounters.encounter(
        rng, 3000, mass_ratio=0.5, log_lambda=2.5, offsets_gyr=[-0.15, 1.5]
    )
    for pos, _ in (early, late):
        assert np.linalg.norm(pos, axis=1).max() < encounters.APERTURE_KPC
    # the merger mixes the two discs' gas at different orientations: less ordered rotation
    assert circularity(*late) < 0.8


def test_population_draws_every_kind_reproducibly():
    kappas = {}
    for kind in GAS_KINDS:
        g = random_gas_galaxy(kind, n_particles=800, seed=1)
        assert g.kind == kind and len(g.positions) > 200
        kappas[kind] = g.kappa
    assert kappas["disc"] > 0.7 and kappas["disordered"] < 0.5
    a, b = random_gas_galaxy(seed=9, n_particles=600), random_gas_galaxy(seed=9, n_particles=600)
    assert a.kind == b.kind and np.array_equal(a.positions, b.positions)
    with pytest.raises(GalkinError, match="choose from"):
        random_gas_galaxy("spiral")


def test_random_view_resolves_the_galaxy_by_2_to_40_beams():
    rng = np.random.default_rng(0)
    g = random_gas_galaxy("disc", n_particles=2000, seed=rng)
    radius = np.percentile(np.linalg.norm(g.positions.to_value(u.kpc), axis=1), 98)
    for _ in range(20):
        view = random_view(rng, g)
        beam_px = view["beam"].to_value(u.arcsec)  # 1 arcsec pixels
        assert 2.5 <= beam_px <= 7 and 16 <= view["size"] <= 160
        beams = 2 * radius / view["scale"].to_value(u.kpc / u.arcsec) / beam_px
        assert 2.4 < beams < 41
        vel = observe(g, seed=rng, **view)
        assert vel.shape == (view["size"], view["size"]) and np.isfinite(vel.value).any()
