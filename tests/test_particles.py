import numpy as np
import pytest
from astropy import units as u

from galkin.exceptions import GalkinError
from galkin.simulation.particles import GALAXY_KINDS, observe, random_galaxy
from galkin.velocity_image import velocity_image


def test_galaxies_span_kappa_and_are_reproducible():
    kappas = {
        k: [random_galaxy(k, n_particles=1500, seed=s).kappa for s in range(6)]
        for k in GALAXY_KINDS
    }
    everything = np.concatenate(list(kappas.values()))
    assert everything.min() < 0.4 and everything.max() > 0.9
    assert np.median(kappas["sphere"]) < 0.5 < np.median(kappas["warp"])
    assert max(kappas["sphere"]) < 0.5 < 0.7 < min(kappas["disc"])  # by construction
    assert min(kappas["sphere"]) < 0.3  # radially biased motion goes below 1/3
    a, b = random_galaxy("merger", seed=7), random_galaxy("merger", seed=7)
    assert np.array_equal(a.positions, b.positions)
    with pytest.raises(GalkinError, match="choose from"):
        random_galaxy("spiral")


def test_galaxy_is_centred_with_angular_momentum_on_z():
    g = random_galaxy("clump", seed=3)
    pos, vel = g.positions.to_value(u.kpc), g.velocities.to_value(u.km / u.s)
    ang = np.cross(pos, vel).sum(axis=0)
    assert np.hypot(ang[0], ang[1]) < 1e-6 * ang[2]
    assert np.allclose(pos.mean(axis=0), 0, atol=1e-9)


@pytest.mark.parametrize("snr", [None, 10])
def test_observe_puts_receding_side_at_the_position_angle(snr):
    g = random_galaxy("disc", seed=1)
    for pa in (0.0, 90.0, 200.0):
        vel = observe(g, inclination=60 * u.deg, position_angle=pa * u.deg, snr=snr, seed=2)
        assert vel.unit == u.km / u.s and vel.shape == (64, 64)
        yy, xx = np.mgrid[:64, :64] - 31.5
        east, north = -xx, yy
        along = east * np.sin(np.radians(pa)) + north * np.cos(np.radians(pa))
        ok = np.isfinite(vel.value)
        assert np.mean(vel.value[ok & (along > 4)]) > 30
        assert np.mean(vel.value[ok & (along < -4)]) < -30


def test_observe_edge_on_amplitude_and_noise_blanks():
    g = next(g for s in range(20) if (g := random_galaxy("disc", seed=s)).kappa > 0.9)
    face = observe(g, inclination=5 * u.deg, position_angle=0 * u.deg)
    edge = observe(g, inclination=85 * u.deg, position_angle=0 * u.deg)
    assert np.nanstd(edge.value) > 3 * np.nanstd(face.value)
    noisy = observe(g, inclination=60 * u.deg, position_angle=0 * u.deg, snr=5, seed=1)
    assert np.isnan(noisy.value).sum() > np.isnan(edge.value).sum() * 0.5


def test_velocity_image_is_unit_offset_and_size_invariant():
    g = random_galaxy("disc", seed=5)
    vel = observe(g, inclination=50 * u.deg, position_angle=40 * u.deg).value
    image, mask, scale = velocity_image(vel)
    assert image.shape == (64, 64) and mask.dtype == bool
    assert image.min() >= -1 and image.max() <= 1 and np.all(image[~mask] == 0)
    shifted = velocity_image(vel * 1000 + 25_000)  # m/s about another systemic velocity
    assert np.allclose(shifted[0], image, atol=1e-6) and shifted[2] == pytest.approx(1000 * scale)
    big = np.kron(vel, np.ones((3, 3)))  # the same map on a 192x192 grid
    assert np.mean(np.abs(velocity_image(big)[0] - image)[mask]) < 0.1
    with pytest.raises(GalkinError, match="valid pixels"):
        velocity_image(np.full((10, 10), np.nan))
