"""Contract tests for decoder profiles, to subclass in a plugin's own test suite.

A package that registers a profile through the
:func:`~galkin.hookspecs.galkin_register_profiles` hook proves it works with
galkin's decoder by subclassing the matching base class and naming the profile::

    # tests/test_contract.py of your package
    from galkin.testing import BaseTestVelocityProfile

    from my_package import TanhProfile


    class TestTanhProfile(BaseTestVelocityProfile):
        profile_class = TanhProfile

pytest then runs every contract test on ``TanhProfile``: a valid name and
parameters; finite values of the right shape and dtype in float32 and float64
on radii from 0 to far beyond the field, with batched parameters at the
corners and the centre of their bounds; finite gradients that reach every
parameter (and the radius); the physics every velocity (or intensity) profile
must obey; and registration through the plugin manager (set
``check_registered = False`` to test a class that is not installed as a
plugin).  Class attributes such as ``max_radius`` or ``peak_range`` can be
overridden where a profile has a good reason to differ.

A ring-start estimator (:func:`~galkin.hookspecs.galkin_register_ring_starts`)
subclasses `BaseTestRingStart` and sets ``estimator_class`` the same way.

The base classes are not collected on their own (their names do not start with
``Test``).  galkin runs the same suite over every registered profile.  This
module needs pytest and torch.
"""

import inspect
import itertools

import numpy as np
import pytest
import torch

import galkin
from galkin.profiles import DecoderProfile, IntensityProfile, Parameter, VelocityProfile

__all__ = [
    "BaseTestProfile",
    "BaseTestIntensityProfile",
    "BaseTestVelocityProfile",
    "BaseTestRingStart",
    "radius_grid",
    "parameter_grid",
]

_DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])


def radius_grid(dtype=torch.float64):
    """Radii that probe a profile: 0, tiny, across the field and far beyond.

    Parameters
    ----------
    dtype : `torch.dtype`

    Returns
    -------
    `torch.Tensor`
        Shape ``(1, 1, 8, 16)``: exactly 0, 22 radii log-spaced from 1e-8 up
        to 0.1, 100 from 0.1 to 3, and 10 to 1e5 (units of the field).
    """
    radii = torch.cat(
        [
            torch.zeros(1, dtype=torch.float64),
            torch.logspace(-8, -1, 23, dtype=torch.float64)[:-1],
            torch.linspace(0.1, 3.0, 100, dtype=torch.float64),
            torch.tensor([10.0, 1e2, 1e3, 1e4, 1e5], dtype=torch.float64),
        ]
    )
    return radii.reshape(1, 1, 8, 16).to(dtype)


def parameter_grid(profile, dtype=torch.float64):
    """Every corner of the parameters' bounds box, and its centre.

    Parameters
    ----------
    profile : `~galkin.profiles.DecoderProfile` or type
        A profile, or a profile class (whose class-level parameters are used).
    dtype : `torch.dtype`

    Returns
    -------
    dict of str to `torch.Tensor`
        One tensor of shape ``(2**P + 1, 1, 1, 1)`` per parameter.
    """
    bounds = [p.bounds for p in profile.parameters]
    rows = [list(corner) for corner in itertools.product(*bounds)]
    rows.append([0.5 * (low + high) for low, high in bounds])
    table = torch.tensor(rows, dtype=dtype).reshape(len(rows), len(bounds), 1, 1, 1)
    return {p.name: table[:, i].clone() for i, p in enumerate(profile.parameters)}


def _evaluate(profile, dtype, *, requires_grad=False):
    radius = radius_grid(dtype).requires_grad_(requires_grad)
    params = {
        name: value.requires_grad_(requires_grad)
        for name, value in parameter_grid(profile, dtype).items()
    }
    return radius, params, profile.evaluate(radius, **params)


def _speed_scale(profile, params):
    """The largest speed parameter of each row of a parameter grid."""
    speeds = [params[n].abs() for n in profile.velocity_parameters()]
    return torch.stack(torch.broadcast_tensors(*speeds), -1).amax(-1)


class BaseTestProfile:
    """Tests every decoder profile must pass; subclass and set ``profile_class``."""

    #: The `~galkin.profiles.DecoderProfile` subclass under test.
    profile_class = None
    #: Also check that ``galkin.get_profile(name)`` returns the class.
    check_registered = True
    #: The base class the profile must derive from.
    expected_base = DecoderProfile

    @pytest.fixture
    def profile(self):
        """An instance of the profile under test (override to parametrise)."""
        if self.profile_class is None:
            pytest.fail(f"{type(self).__name__} must set the class attribute 'profile_class'.")
        return self.profile_class()

    def test_is_profile_subclass(self, profile):
        assert isinstance(profile, self.expected_base), (
            f"{type(profile).__name__} must subclass {self.expected_base.__name__}."
        )

    def test_name(self, profile):
        name = type(profile).name
        assert isinstance(name, str) and name.isidentifier(), (
            f"profile name must be a non-empty identifier-like string, got {name!r}."
        )

    def test_parameters(self, profile):
        parameters = profile.parameters
        assert isinstance(parameters, tuple) and parameters, (
            "'parameters' must be a non-empty tuple."
        )
        for p in parameters:
            assert isinstance(p, Parameter), f"{p!r} is not a galkin.profiles.Parameter."
            low, high = (float(b) for b in p.bounds)
            assert torch.isfinite(torch.tensor([low, high])).all(), f"{p.name}: bounds not finite."
            assert low < high, f"{p.name}: bounds must be (low, high) with low < high."
            if p.kind == "length":
                assert low > 0, f"length parameter {p.name!r} must have a positive lower bound."
            if p.kind == "velocity":
                assert low >= 0, f"speed {p.name!r} must have a non-negative lower bound."
            assert p.description, f"parameter {p.name!r} needs a description."
        names = [p.name for p in parameters]
        assert len(set(names)) == len(names), f"parameter names are not unique: {names}."

    def test_evaluate_signature_matches_parameters(self, profile):
        signature = inspect.signature(profile.evaluate)
        kinds = {p.kind for p in signature.parameters.values()}
        if inspect.Parameter.VAR_KEYWORD in kinds:
            return
        keywords = {
            name: p
            for name, p in signature.parameters.items()
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        }
        names = profile.parameter_names()
        missing = [name for name in names if name not in keywords]
        assert not missing, f"evaluate() does not accept the parameters {missing}."
        extra = [
            name
            for name, p in keywords.items()
            if name != "radius" and name not in names and p.default is inspect.Parameter.empty
        ]
        assert not extra, f"evaluate() requires arguments that are not parameters: {extra}."

    @_DTYPES
    def test_evaluate_shape_dtype_finite(self, profile, dtype):
        radius, params, out = _evaluate(profile, dtype)
        expected = torch.broadcast_shapes(radius.shape, *(v.shape for v in params.values()))
        assert isinstance(out, torch.Tensor)
        assert out.shape == expected, f"shape {tuple(out.shape)}, expected {tuple(expected)}."
        assert out.dtype == dtype, f"evaluate returned {out.dtype} for {dtype} inputs."
        assert torch.isfinite(out).all(), "evaluate returned non-finite values."

    @_DTYPES
    def test_gradients_reach_every_parameter(self, profile, dtype):
        radius, params, out = _evaluate(profile, dtype, requires_grad=True)
        grads = torch.autograd.grad(out.sum(), [radius, *params.values()], allow_unused=True)
        assert grads[0] is not None and torch.isfinite(grads[0]).all(), (
            "the gradient with respect to the radius is missing or not finite."
        )
        for name, grad in zip(params, grads[1:], strict=True):
            assert grad is not None, f"no gradient reaches parameter {name!r}."
            assert torch.isfinite(grad).all(), f"gradient of {name!r} is not finite."
            assert (grad != 0).any(), f"gradient of {name!r} is zero everywhere."

    @_DTYPES
    def test_evaluate_is_pointwise(self, profile, dtype):
        """Each value depends only on its own radius and parameters: the decoder
        differentiates a profile by autograd on the sum over its nodes."""
        radius, params, out = _evaluate(profile, dtype)
        moved = radius.clone()
        moved[..., ::3] = moved[..., ::3] * 1.25 + 0.01  # every third radius moves
        changed = profile.evaluate(moved, **params)
        untouched = torch.ones(radius.shape[-1], dtype=torch.bool)
        untouched[::3] = False
        torch.testing.assert_close(
            changed[..., untouched],
            out[..., untouched],
            msg="evaluate at one radius changed when other radii moved: it must be pointwise.",
        )
        rows = len(next(iter(params.values())))
        alone = profile.evaluate(
            radius, **{k: v[rows // 2 : rows // 2 + 1] for k, v in params.items()}
        )
        torch.testing.assert_close(
            alone[0],
            out[rows // 2],
            msg="a galaxy's values depend on the other galaxies' parameters.",
        )

    def test_registered(self, profile):
        if not self.check_registered:
            pytest.skip("check_registered = False")
        cls = type(profile)
        hint = (
            "Register it with the galkin_register_profiles hook and a 'galkin' entry point, "
            "or set check_registered = False."
        )
        try:
            found = galkin.get_profile(cls.name, cls.kind)
        except galkin.PluginError as exc:
            pytest.fail(f"{exc} {hint}")
        assert found is cls, (
            f"galkin.get_profile({cls.name!r}, {cls.kind!r}) returns {found}. {hint}"
        )

    @_DTYPES
    def test_jacobian_matches_autograd(self, profile, dtype):
        radius = radius_grid(dtype)
        params = parameter_grid(profile, dtype)
        rows = len(next(iter(params.values())))
        keep = torch.unique(torch.linspace(0, rows - 1, min(rows, 65)).round().long())
        params = {k: v[keep] for k, v in params.items()}  # a spread of corners, and the centre
        out = profile.evaluate(radius, **params)
        jacobian = profile.jacobian(radius, **params)
        if jacobian is None:
            return  # optional: the decoder then differentiates evaluate() with autograd
        names = profile.parameter_names()
        assert jacobian.shape == out.shape + (len(names),), (
            f"jacobian shape {tuple(jacobian.shape)}, expected "
            f"{tuple(out.shape)} + ({len(names)},)."
        )
        for k, name in enumerate(names):
            # one copy of the parameter per output element, so that the gradient of the
            # sum is each element's own derivative
            value = params[name].expand(out.shape).clone().requires_grad_(True)
            (expected,) = torch.autograd.grad(
                profile.evaluate(radius, **{**params, name: value}).sum(), value
            )
            torch.testing.assert_close(
                jacobian[..., k], expected, msg=f"jacobian of {name!r} differs from autograd."
            )


class BaseTestIntensityProfile(BaseTestProfile):
    """Contract of an `~galkin.profiles.IntensityProfile`."""

    expected_base = IntensityProfile
    #: Allowed range of each profile's maximum over the field (of order one).
    peak_range = (0.5, 2.0)
    #: Largest radius, in units of the field, over which the peak is taken.
    max_radius = 3.0

    @_DTYPES
    def test_non_negative(self, profile, dtype):
        _, _, out = _evaluate(profile, dtype)
        assert (out >= 0).all(), "surface brightness must be non-negative."

    @_DTYPES
    def test_peak_of_order_one(self, profile, dtype):
        radius, _, out = _evaluate(profile, dtype)
        inside = (radius <= self.max_radius).expand_as(out)
        peaks = out.where(inside, 0).flatten(1).amax(dim=1)
        low, high = self.peak_range
        assert ((peaks >= low) & (peaks <= high)).all(), (
            f"peak brightness {peaks.tolist()} outside {self.peak_range}: the decoder expects "
            "profiles of order one at the peak (it fits the flux scale itself)."
        )


class BaseTestVelocityProfile(BaseTestProfile):
    """Contract of a `~galkin.profiles.VelocityProfile`."""

    expected_base = VelocityProfile
    #: Largest radius, in units of the field, over which ``|V|`` is bounded.
    max_radius = 3.0
    #: ``|V| <= max_speed_ratio`` times the largest speed parameter out to ``max_radius``.
    max_speed_ratio = 10.0

    def test_speed_parameters(self, profile):
        kinds = [p.kind for p in profile.parameters]
        assert kinds.count("velocity") >= 1, (
            "a velocity profile needs a parameter of kind 'velocity' (its amplitude, or a speed "
            f"per ring); kinds are {kinds}."
        )
        speeds = profile.velocity_parameters()
        assert profile.amplitude() == (speeds[0] if len(speeds) == 1 else None)

    @_DTYPES
    def test_linear_in_speeds(self, profile, dtype):
        radius, params, out = _evaluate(profile, dtype)
        doubled = {**params, **{n: 2 * params[n] for n in profile.velocity_parameters()}}
        torch.testing.assert_close(profile.evaluate(radius, **doubled), 2 * out)

    @_DTYPES
    def test_zero_at_centre(self, profile, dtype):
        params = parameter_grid(profile, dtype)
        centre = profile.evaluate(torch.zeros(1, 1, 1, 1, dtype=dtype), **params)
        scale = _speed_scale(profile, params)
        assert (centre.abs() <= 1e-6 * scale).all(), f"V(R=0) = {centre.flatten().tolist()}."

    @_DTYPES
    def test_bounded(self, profile, dtype):
        radius, params, out = _evaluate(profile, dtype)
        scale = _speed_scale(profile, params)
        inside = (radius <= self.max_radius).expand_as(out)
        excess = (out.abs() - self.max_speed_ratio * scale).where(inside, -1.0).amax()
        assert excess <= 1e-6, (
            f"|V| exceeds {self.max_speed_ratio} times the largest speed parameter within "
            f"R <= {self.max_radius}."
        )


def _ring_galaxies():
    """Two small simulated galaxies, prepared as `galkin.fit` prepares a cube."""
    from astropy import units as u

    from .fitting import prepare_maps

    out = []
    for seed, inc, pa in ((1, 55.0, 40.0), (2, 70.0, 200.0)):
        cube = galkin.simulate_cube(
            inclination=inc * u.deg,
            position_angle=pa * u.deg,
            v_max=180 * u.km / u.s,
            r_turn=4 * u.arcsec,
            r_scale=8 * u.arcsec,
            beam=3 * u.arcsec,
            snr=20,
            n_particles=100_000,
            seed=seed,
        )
        out.append(prepare_maps(cube))
    return out


class BaseTestRingStart:
    """Contract of a ring-start estimator (`~galkin.ring_start.RingStart`).

    Subclass and set ``estimator_class``; the tests predict the curves of two
    small simulated galaxies (arctan discs, ``V sin i`` 0.8-1 of the velocity
    scale at the edge) and start a ring fit from them.
    """

    #: The `~galkin.ring_start.RingStart` subclass under test.
    estimator_class = None
    #: Also check that ``galkin.plugins.get_ring_start(name)`` returns the class.
    check_registered = True

    @pytest.fixture(scope="class")
    @classmethod
    def estimator(cls):
        """An instance of the estimator under test (override to pass options)."""
        if cls.estimator_class is None:
            pytest.fail(f"{cls.__name__} must set the class attribute 'estimator_class'.")
        return cls.estimator_class()

    @pytest.fixture(scope="class")
    @classmethod
    def galaxies(cls):
        return _ring_galaxies()

    @pytest.fixture(scope="class")
    @classmethod
    def prediction(cls, estimator, galaxies):
        return estimator.predict(galaxies)

    def test_is_ring_start(self, estimator):
        from .ring_start import RingStart

        assert isinstance(estimator, RingStart)
        name = type(estimator).name
        assert isinstance(name, str) and name and name != "proxy", (
            f"a ring start needs a string name other than 'proxy'; got {name!r}."
        )

    def test_registered(self, estimator):
        if not self.check_registered:
            pytest.skip("check_registered = False")
        from .plugins import get_ring_start

        assert get_ring_start(type(estimator).name) is type(estimator)

    def test_prediction(self, prediction):
        profile, values, geometry = prediction
        for name, value in geometry.items():
            assert value.shape == (2,) and np.all(np.isfinite(value)), name
        if "inclination" in geometry:  # 55 and 70 deg
            assert np.all(np.abs(np.degrees(geometry["inclination"]) - [55, 70]) < 15)
        assert isinstance(profile, VelocityProfile)
        assert set(values) == set(profile.parameter_names())
        radius = torch.linspace(0.0, 0.5, 26, dtype=torch.float64)[None, :]
        params = {k: torch.as_tensor(v, dtype=torch.float64)[:, None] for k, v in values.items()}
        curve = profile.evaluate(radius, **params)
        assert curve.shape == (2, 26)
        assert torch.isfinite(curve).all() and (curve >= 0).all()
        # both galaxies rotate at 0.5-1.5 velocity scales at the edge of their data
        assert ((curve[:, -1] > 0.5) & (curve[:, -1] < 1.5)).all(), curve[:, -1]

    def test_batch_independent(self, estimator, galaxies, prediction):
        _, together, geometry = prediction
        for k, galaxy in enumerate(galaxies):
            _, alone, alone_geometry = estimator.predict([galaxy])
            for name, v in (together | geometry).items():
                value = (alone | alone_geometry)[name][0]
                np.testing.assert_allclose(value, v[k], rtol=1e-4, atol=1e-5)

    def test_starts_a_ring_fit(self, estimator, galaxies):
        from .fitting import fit_prepared

        result = fit_prepared(
            galaxies[:1], velocity="rings", intensity="rings", ring_start=estimator
        )[0]
        speeds = [result.mean_parameters()[n] for n in result.velocity.parameter_names()]
        assert np.all(np.isfinite(speeds))
        assert abs(np.degrees(result.mean_parameters()["inclination"]) - 55.0) < 5.0
