import numpy as np
import pytest

from galkin.exceptions import GalkinError
from galkin.simulation.circularity import circularity, rotate_to_angular_momentum


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_cold_ring_has_kappa_one_in_any_orientation_and_frame():
    rng = np.random.default_rng(1)
    phi = rng.uniform(0, 2 * np.pi, 500)
    pos = 5 * np.stack([np.cos(phi), np.sin(phi), 0 * phi], 1)
    vel = 200 * np.stack([-np.sin(phi), np.cos(phi), 0 * phi], 1)
    rot = _random_rotation(rng)
    shift, bulk = np.array([10.0, -3, 2]), np.array([300.0, 20, -50])
    kappa = circularity(pos @ rot.T + shift, vel @ rot.T + bulk, rng.uniform(1, 2, 500))
    assert kappa == pytest.approx(1.0, abs=1e-9)


def test_isotropic_sphere_gives_one_third_within_sampling_error():
    # E[v_phi^2] = sigma^2 and E[v^2] = 3 sigma^2, so kappa -> 1/3. By the delta method
    # the ratio of sums has variance 4 / (27 N) for N equal-mass particles.
    n = 40_000
    rng = np.random.default_rng(2)
    pos = rng.normal(size=(n, 3)) * 3.0
    vel = rng.normal(size=(n, 3)) * 80.0
    kappa = circularity(pos, vel)
    assert abs(kappa - 1 / 3) < 4 * np.sqrt(4 / (27 * n))


def test_rotating_disc_with_dispersion_matches_expectation():
    # v = v_c e_phi + isotropic N(0, s^2): kappa -> (v_c^2 + s^2) / (v_c^2 + 3 s^2).
    n, v_c, s = 40_000, 150.0, 60.0
    rng = np.random.default_rng(3)
    r, phi = rng.uniform(1, 10, n), rng.uniform(0, 2 * np.pi, n)
    pos = np.stack([r * np.cos(phi), r * np.sin(phi), rng.normal(0, 0.2, n)], 1)
    vel = v_c * np.stack([-np.sin(phi), np.cos(phi), 0 * phi], 1) + rng.normal(0, s, (n, 3))
    expected = (v_c**2 + s**2) / (v_c**2 + 3 * s**2)
    assert circularity(pos, vel) == pytest.approx(expected, abs=0.006)
    assert 1 / 3 < expected < 1


def test_radially_anisotropic_sphere_falls_below_one_third():
    # sigma_t^2 = (1 - beta) sigma_r^2 split over (theta, phi): kappa -> (1 - beta) / (3 - 2 beta)
    n, beta = 40_000, 0.75
    rng = np.random.default_rng(6)
    pos = rng.normal(size=(n, 3)) * 3.0
    unit = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    vel = rng.normal(size=(n, 3)) * 80.0
    radial = np.sum(vel * unit, axis=1, keepdims=True) * unit
    vel = radial + np.sqrt(1 - beta) * (vel - radial)
    expected = (1 - beta) / (3 - 2 * beta)
    assert circularity(pos, vel) == pytest.approx(expected, abs=0.01)
    assert circularity(pos, radial) < 0.01  # pure inflow/outflow: no ordered rotation


@pytest.mark.parametrize("counter_fraction", [0.1, 0.3, 0.45])
def test_counter_rotating_cold_discs_count_as_ordered(counter_fraction):
    # Eq. 2.1 squares j_z / R: a cold counter-rotating ring inside a disc is ordered rotation
    n_counter = int(2000 * counter_fraction)
    parts = []
    for n, radius, sense in ((2000 - n_counter, 6.0, 1.0), (n_counter, 2.0, -1.0)):
        phi = np.linspace(0, 2 * np.pi, n, endpoint=False)
        ring = np.stack([np.cos(phi), np.sin(phi), 0 * phi], 1)
        parts.append((radius * ring, sense * 200 * ring[:, [1, 0, 2]] * [-1, 1, 0]))
    pos, vel = (np.concatenate(p) for p in zip(*parts, strict=True))
    assert circularity(pos, vel) == pytest.approx(1.0, abs=1e-9)


def test_rotation_puts_angular_momentum_on_plus_z():
    rng = np.random.default_rng(4)
    pos, vel = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    vel += np.cross([0.3, -0.5, 0.8], pos)  # net spin about a tilted axis
    p, v = rotate_to_angular_momentum(pos, vel)
    ang = np.cross(p, v).sum(axis=0)
    assert ang[2] > 0 and np.hypot(ang[0], ang[1]) < 1e-9 * ang[2]
    assert np.allclose(p.mean(axis=0), 0) and np.allclose(v.mean(axis=0), 0)


def test_no_motion_and_bad_input():
    pos = np.random.default_rng(5).normal(size=(10, 3))
    assert circularity(pos, np.zeros_like(pos)) == 0.0
    with pytest.raises(GalkinError, match="shape"):
        circularity(pos[:, :2], pos[:, :2])
    with pytest.raises(GalkinError, match="masses"):
        circularity(pos, pos, np.ones(3))
