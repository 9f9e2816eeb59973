"""Position-angle estimators recover the PA (east of north, receding side) of discs."""

import sys

import numpy as np
import pytest

import galkin
from galkin.exceptions import GalkinError
from galkin.position_angle import PositionAngleEstimator, angle_difference, wrap_angle
from galkin.simulation.analytic import irregular_mask, thin_disc
from galkin_plugins.pafit_pa import PafitEstimator
from galkin_plugins.symmetry_pa import SymmetryEstimator


def arctan_disc(pa, inc, *, n=64, noise=5.0, mask="ellipse", vmax=200.0, rturn=4.0, seed=0):
    """Valid pixels of a thin arctan disc: ``(east, north, velocity)``.

    1 arcsec pixels, east to the left as on the sky, the kinematic centre off the
    pixel grid.  ``mask``: "none", "ellipse" (the disc edge), "holes" (plus four
    random holes) or "partial" (plus one side of the field cut off).
    """
    rng = np.random.default_rng(seed)
    d = thin_disc(pa, inc, n=n, v_max=vmax, r_turn=rturn, offset=(0.3, -0.4), noise=noise, rng=rng)
    good = irregular_mask(d, mask, rng, cut_angle=0.7)
    return d["east"][good], d["north"][good], d["velocity"][good]


# --- the shared angle helpers -------------------------------------------------


def test_wrap_angle():
    assert wrap_angle(-10.0) == 350.0
    assert wrap_angle(360.0) == 0.0
    assert wrap_angle(725.0) == 5.0
    np.testing.assert_allclose(wrap_angle(np.array([-370.0, 0.0, 359.5])), [350.0, 0.0, 359.5])


@pytest.mark.parametrize(
    ("a", "b", "diff"),
    [(10, 350, 20), (350, 10, -20), (0, 180, -180), (180, 0, -180), (90, 90, 0), (5, 725, 0)],
)
def test_angle_difference(a, b, diff):
    assert angle_difference(a, b) == diff


def test_angle_difference_vectorised():
    np.testing.assert_allclose(angle_difference([0, 359], [359, 0]), [1, -1])


# --- the registry ---------------------------------------------------------------


def test_registry_lists_both_estimators():
    names = galkin.list_pa_estimators()
    assert {"pafit", "symmetry"} <= set(names)
    assert galkin.get_pa_estimator("symmetry") is SymmetryEstimator
    assert galkin.get_pa_estimator("pafit") is PafitEstimator
    for name in names:
        assert issubclass(galkin.get_pa_estimator(name), PositionAngleEstimator)


# --- the fast estimator ------------------------------------------------------------


@pytest.mark.parametrize(
    ("pa", "inc", "mask"),
    [
        (0.0, 30.0, "ellipse"),
        (90.0, 45.0, "holes"),
        (200.0, 80.0, "partial"),
        (315.0, 60.0, "none"),
        (137.3, 70.0, "holes"),
        (359.0, 50.0, "partial"),
    ],
)
def test_symmetry_recovers_pa(pa, inc, mask):
    pa_fit, err = SymmetryEstimator().estimate(*arctan_disc(pa, inc, mask=mask, seed=int(pa)))
    assert 0 <= pa_fit < 360
    # The truth within 4 sigma (the error is calibrated) and within 1 deg.
    assert abs(angle_difference(pa_fit, pa)) < min(1.0, 4 * err)
    assert 0 < err < 1


def test_receding_side_and_convention():
    # Receding to the east: PA 90 (east of north).  Reversing the rotation: 270.
    north, east = np.mgrid[-15:16, -15:16].reshape(2, -1).astype(float)
    velocity = 150 * np.tanh(east / 4) * np.exp(-((north / 6) ** 2))
    est = SymmetryEstimator()
    assert abs(angle_difference(est.estimate(east, north, velocity)[0], 90)) < 0.5
    assert abs(angle_difference(est.estimate(east, north, -velocity)[0], 270)) < 0.5


def test_symmetry_errors_are_calibrated():
    # The quoted 1-sigma error matches the scatter over noise realisations (within x2).
    est = SymmetryEstimator()
    fits = np.array(
        [est.estimate(*arctan_disc(40, 55, noise=15, mask="holes", seed=s)) for s in range(40)]
    )
    scatter = np.std(angle_difference(fits[:, 0], 40))
    assert 0.5 < scatter / np.median(fits[:, 1]) < 2


def test_symmetry_without_a_regular_grid():
    # Pixels of a grid rotated by 30 deg, then random scattered points.
    east, north, velocity = arctan_disc(200, 60, mask="holes", seed=1)
    t = np.radians(30)
    rotated = (east * np.cos(t) - north * np.sin(t), east * np.sin(t) + north * np.cos(t))
    pa_fit, _ = SymmetryEstimator().estimate(*rotated, velocity)
    assert abs(angle_difference(pa_fit, 170)) < 1

    rng = np.random.default_rng(2)
    east, north = rng.uniform(-30, 30, (2, 2000))
    x_maj = east * np.sin(np.radians(123)) + north * np.cos(np.radians(123))
    velocity = 120 * np.tanh(x_maj / 5) + 5 * rng.standard_normal(east.size)
    assert abs(angle_difference(SymmetryEstimator().estimate(east, north, velocity)[0], 123)) < 1


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros(20), np.zeros(20), np.zeros(19)), "same size"),
        ((np.zeros(20), np.zeros(20), np.r_[np.nan, np.ones(19)]), "finite"),
        ((np.arange(5.0), np.arange(5.0), np.arange(5.0)), "Too few"),
        ((np.arange(20.0), np.arange(20.0), np.ones(20)), "constant"),
    ],
)
def test_symmetry_rejects_bad_input(args, match):
    with pytest.raises(GalkinError, match=match):
        SymmetryEstimator().estimate(*args)


# --- the pafit reference (slow: two calls on 32x32 maps) -------------------------


@pytest.mark.parametrize(("pa", "inc"), [(200.0, 60.0), (315.0, 40.0)])
def test_pafit_recovers_pa_and_agrees_with_symmetry(pa, inc):
    # 200: pafit returns 20, the receding side must add 180.  315: pafit's x axis
    # points west; a sign slip would give 45 or 225.
    pixels = arctan_disc(pa, inc, n=32, rturn=3.0, mask="holes", seed=3)
    pa_fit, err = PafitEstimator().estimate(*pixels)
    assert abs(angle_difference(pa_fit, pa)) < 2
    assert 0 < err < 2
    assert abs(angle_difference(SymmetryEstimator().estimate(*pixels)[0], pa_fit)) < 2
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []
