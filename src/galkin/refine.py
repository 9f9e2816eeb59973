"""Refinement by the physics: fit the decoder to a galaxy's own maps.

A network's estimate depends on what it learnt to read in maps like its
training set; on data it did not see (another simulator, a real telescope) it
can be biased. Refinement starts from that estimate and fits the analytic
decoder's physical parameters directly to the galaxy's normalised maps, so the
answer rests on the data and the disc model only. Galaxies are refined together
in batches.

The fit
-------
Besides the profile parameters, the inclination and the position-angle offset,
the refinement fits the disc's centre (``x0``, ``y0``: offsets along the
network's major and minor axes) and its thickness (``log_scale_height``), which
a thick disc's rounder isophotes would otherwise turn into a wrong inclination.

Each map is compared with the beam-smeared model through a robust likelihood:
the residual of pixel ``k`` is ``(model_k - data_k) / j``, where the scatter
``j`` is fitted per galaxy and map -- noise and the model's mismatch
(non-circular motions, arms and rings an axisymmetric model lacks) together.
Residuals follow a Student-t distribution with `NU` degrees of freedom, so that
the outliers noisy masks leave at the edge of real maps (and noisy pixels in
general) do not drag the fit. The moment-0 amplitude and the
systemic-velocity offset are solved in closed form (weighted least squares)
for every model.

The pixels' measured errors (``KinematicMaps.moment1_err``, propagated
from the cube's noise) give the reduced chi-square that says whether the
model describes the data to within their noise (`Refinement.chi2`), but they
do not weight the fit: on simulated cubes, weighting by them biased V_max by up
to 20% -- it hands the fit to the bright inner pixels, whose formal errors are
small but where the beam-smeared model's mismatch is largest, and takes it away
from the faint outer disc whose flat rotation pins V_max.

The optimiser is Levenberg-Marquardt with iteratively re-weighted least squares
(the Student-t weights and jitters are updated every iteration), the Jacobian
taken by finite differences: one decoder pass per parameter, for the whole
batch at once (the velocity amplitude's column is exact and free, since moment
1 is linear in it). The decoder passes run in single precision (2.5x faster on
a CPU; the fitted values move by < 0.04 deg and 0.03% of V_max, far inside their
errors), the normal equations and covariances in double. Parameters stay inside their
bounds; one that ends at a bound is reported (`Refinement.at_bound`).

Prior and errors
----------------
The network's estimate enters as a broad Gaussian prior (its calibrated error
times `PRIOR_WIDTH`), which only matters where the maps do not constrain a
parameter. The error of the refined parameters is the Laplace approximation:
the inverse curvature of the negative log-posterior. Neighbouring pixels are
not independent -- the beam correlates the noise, and a model's mismatch is
correlated over whole features -- so each map's likelihood counts one
measurement per *correlation area* of its residuals (`Refinement.correlation`,
measured from the residuals' autocorrelation, never less than one pixel).
Where residuals exceed the noise, or are correlated over large areas, the
errors widen: model mismatch and unfamiliar data show in the error bars. Floors
for the disc model's own systematics (`SYSTEMATIC_FLOOR`) are added in
quadrature.
"""

from dataclasses import dataclass

import numpy as np
import torch

from .decoder import DiscDecoder
from .loss import LOG_FLOOR, _log_amplitude
from .profiles import DecoderProfile

__all__ = [
    "Refinement",
    "refine",
    "refine_outputs",
    "posterior_draws",
    "CENTER_NAMES",
    "CENTER_BOUND",
    "HEIGHT_NAME",
    "HEIGHT_BOUNDS",
    "NU",
    "PRIOR_WIDTH",
    "SYSTEMATIC_FLOOR",
]

#: Extra parameters the refinement fits: the disc centre's offset from the map
#: centre along the network's (major, minor) axes, in field units.
CENTER_NAMES = ("x0", "y0")
#: Bound on each centre offset (field units).
CENTER_BOUND = 0.15
#: Prior width of each centre offset (field units).
CENTER_PRIOR = 0.03
#: The disc's thickness: the natural log of its exponential scale height (field units).
HEIGHT_NAME = "log_scale_height"
#: Bounds of the scale height (field units): from a razor-thin disc to a thick one.
HEIGHT_BOUNDS = (0.002, 0.15)
#: Prior width of ``log_scale_height`` about the decoder's default (a factor e).
HEIGHT_PRIOR = 1.0
#: Degrees of freedom of the Student-t residuals (small: heavy tails).
NU = 4.0
#: The network's calibrated error is widened by this factor to make the prior.
PRIOR_WIDTH = 10.0
#: Systematic error floors added in quadrature to the Laplace errors: the disc
#: model's own mismatch with real discs (finite thickness, non-circular gas
#: motions, the moments' beam smearing) that no amount of signal removes. Angles
#: in radians (inclination 0.75 deg, position angle 0.15 deg); ``v_max`` as a
#: fraction of its value (1.5%). Measured on the independent simulator's
#: ``hard`` set (``benchmarks/bench_referee.py``), where they bring the 68%
#: intervals to 60-70% coverage; the ``hard --noise beam``, ``thin`` and
#: ``noiseless`` sets validate them.
SYSTEMATIC_FLOOR = {
    "inclination": np.radians(0.75),
    "pa_offset": np.radians(0.15),
    "v_max": ("relative", 0.015),
}
#: Finite-difference step, as a fraction of each parameter's range.
_FD_STEP = 1e-4
#: Largest lag (network pixels) summed in a residual map's correlation area.
_MAX_LAG = 12
#: Decoder maps rendered at once (bounds the memory of large batches).
_CHUNK = 48
#: Precision of the decoder passes (the residuals, normal equations and
#: covariances are double precision).
_RENDER_DTYPE = torch.float32
#: Galaxies whose exact derivatives are rendered at once (each holds one map
#: per parameter and line-of-sight node).
_CHUNK_EXACT = 4
#: Trial steps per iteration, each with five times the damping of the last.
_ATTEMPTS = 6
#: A galaxy has converged when a step moves every parameter by less than this
#: fraction of its error (moves below a tenth of the error change no reported digit
#: that matters, and each iteration costs a decoder pass per parameter).
_CONVERGED = 0.1


@dataclass
class Refinement:
    """The refined fit of one galaxy (decoder units, network grid).

    Attributes
    ----------
    names : tuple of str
        Fitted parameters: the profile parameters, ``inclination``, ``pa_offset``,
        the centre offsets ``x0``, ``y0`` and ``log_scale_height``.
    value : dict of str to float
        Best-fitting value of each parameter.
    covariance : `numpy.ndarray`
        ``(P, P)`` Laplace covariance in ``names`` order.
    start : dict of str to float
        Where the fit started (the network's estimate).
    amplitude, offset : float
        Closed-form moment-0 amplitude and moment-1 offset (normalised units).
    model0, model1 : `numpy.ndarray`
        Model maps on the network grid, amplitude and offset applied.
    loss : float
        Unweighted mean-squared residual of both maps (the thesis's loss).
    chi2 : tuple of float
        Reduced chi-square of moment 0 and moment 1 against the measured pixel
        errors (NaN where the maps carry none): above 1 the model does not
        describe the data to within their noise.
    jitter : tuple of float
        Fitted extra scatter of moment 0 and moment 1 (normalised units).
    correlation : tuple of float
        Correlation area of each map's residuals in network pixels: the
        likelihood counts one independent measurement per area.
    at_bound : tuple of str
        Parameters that ended at a bound of their range.
    converged : bool
        Whether the last step changed every parameter by less than 2% of its error.
    iterations : int
        Levenberg-Marquardt iterations run.
    """

    names: tuple
    value: dict
    covariance: np.ndarray
    start: dict
    amplitude: float
    offset: float
    model0: np.ndarray
    model1: np.ndarray
    loss: float
    chi2: tuple
    jitter: tuple
    correlation: tuple
    at_bound: tuple
    converged: bool
    iterations: int

    def error(self, name):
        """1-sigma Laplace error of parameter ``name``."""
        k = self.names.index(name)
        return float(np.sqrt(max(self.covariance[k, k], 0.0)))


# ---------------------------------------------------------------------- the data
def _error_map(prepared, k):
    """Measured error of moment ``k`` on the network grid, 0 where unknown."""
    err = prepared.error0 if k == 0 else prepared.error1
    if err is None:
        return np.zeros_like(prepared.moment0)
    return np.where(np.isfinite(err) & (prepared.mask > 0), err, 0.0)


def _beam_area(prepared):
    """Network pixels per independent noise value: ``4 pi sigma_a sigma_b`` of the beam.

    At least one pixel, and at least one input pixel when the input is coarser.
    """
    scales = prepared.scales
    area = 1.0
    if scales.beam is not None:
        area = 4.0 * np.pi * scales.beam[0] * scales.beam[1] * scales.size**2
    pixel = prepared.maps.pixel_scale.to_value("arcsec") / (scales.field / scales.size)
    return float(max(area, pixel**2, 1.0))


class _Batch:
    """The batch's maps, errors and geometry as tensors, and the decoder that models them."""

    def __init__(self, prepared, decoder, names, dtype, moment0_scale="linear"):
        stack = lambda arrays: torch.tensor(np.stack(arrays), dtype=dtype)  # noqa: E731
        self.d0 = stack([p.moment0 for p in prepared])
        self.d1 = stack([p.moment1 for p in prepared])
        self.mask = stack([p.mask for p in prepared])
        self.log = moment0_scale == "log"
        # measured pixel variances: for the reduced chi-square, not the weights
        self.measured0 = stack([_error_map(p, 0) for p in prepared]) ** 2
        if self.log:  # errors of log(d + floor)
            self.measured0 = self.measured0 / (self.d0.clamp_min(0.0) + LOG_FLOOR) ** 2
        self.measured1 = stack([_error_map(p, 1) for p in prepared]) ** 2
        # the weights: one fitted scatter per map (see the module notes)
        self.e0 = torch.zeros_like(self.d0)
        self.e1 = torch.zeros_like(self.d1)
        self.beam_area = torch.tensor([_beam_area(p) for p in prepared], dtype=dtype)
        beams = [p.scales.beam for p in prepared]
        self.beams = None
        if any(b is not None for b in beams):
            self.beams = torch.tensor(
                [b if b is not None else (1e-4, 1e-4, 0.0) for b in beams], dtype=dtype
            )
        size = prepared[0].moment0.shape[0]
        self.shape = tuple(prepared[0].moment0.shape)
        c = (size - 1) / 2.0
        self.origin = torch.tensor([-c / size, -c / size], dtype=dtype)
        self.steps = torch.eye(2, dtype=dtype) / size
        self.decoder = decoder
        self.names = names

    def __len__(self):
        return self.d0.shape[0]

    def subset(self, idx):
        """The batch restricted to galaxies ``idx`` (same decoder and grid)."""
        sub = object.__new__(_Batch)
        sub.__dict__.update(self.__dict__)
        for key in ("d0", "d1", "mask", "e0", "e1", "measured0", "measured1", "beam_area"):
            setattr(sub, key, getattr(self, key)[idx])
        sub.beams = None if self.beams is None else self.beams[idx]
        return sub

    def render(self, theta, galaxy):
        """Raw model maps ``(N, H, W)`` for parameter rows ``theta`` of galaxies ``galaxy``."""
        out0, out1 = [], []
        dtype = theta.dtype
        theta = theta.to(_RENDER_DTYPE)
        origin, steps = self.origin.to(_RENDER_DTYPE), self.steps.to(_RENDER_DTYPE)
        beams = None if self.beams is None else self.beams.to(_RENDER_DTYPE)
        for start in range(0, theta.shape[0], _CHUNK):
            rows = theta[start : start + _CHUNK]
            idx = galaxy[start : start + _CHUNK]
            params = {n: rows[:, k] for k, n in enumerate(self.names)}
            params["scale_height"] = torch.exp(params[HEIGHT_NAME])
            shift = torch.stack([params["x0"], params["y0"]], -1)
            m0, m1 = self.decoder(
                params,
                params["inclination"],
                origin - shift,
                steps.expand(rows.shape[0], 2, 2),
                self.shape,
                pa_offset=params["pa_offset"],
                beams=None if beams is None else beams[idx],
            )
            out0.append(m0.to(dtype))
            out1.append(m1.to(dtype))
        return torch.cat(out0), torch.cat(out1)

    def exact(self):
        """Names of the parameters whose derivatives the decoder gives exactly."""
        names = []
        for profile in (self.decoder.intensity, self.decoder.velocity):
            if type(profile).jacobian is not DecoderProfile.jacobian:
                names += list(profile.parameter_names())
        return names

    def derivatives(self, theta):
        """Raw maps' exact derivatives ``(B, P, H, W)`` with respect to :meth:`exact`'s
        parameters, for parameter rows ``theta`` of every galaxy in order."""
        out0, out1 = [], []
        dtype = theta.dtype
        work = self.decoder._t.dtype  # the decoder's precision (analytic: no cancellation)
        theta = theta.to(work)
        origin, steps = self.origin.to(work), self.steps.to(work)
        beams = None if self.beams is None else self.beams.to(work)
        for start in range(0, theta.shape[0], _CHUNK_EXACT):
            rows = theta[start : start + _CHUNK_EXACT]
            idx = torch.arange(start, start + rows.shape[0])
            params = {n: rows[:, k] for k, n in enumerate(self.names)}
            params["scale_height"] = torch.exp(params[HEIGHT_NAME])
            shift = torch.stack([params["x0"], params["y0"]], -1)
            _, _, _, d0, d1 = self.decoder.derivatives(
                params,
                params["inclination"],
                origin - shift,
                steps.expand(rows.shape[0], 2, 2),
                self.shape,
                pa_offset=params["pa_offset"],
                beams=None if beams is None else beams[idx],
            )
            out0.append(d0.to(dtype))
            out1.append(d1.to(dtype))
        return torch.cat(out0), torch.cat(out1)


def _solve_nuisance(batch, model0, model1, w0, w1, galaxy):
    """Residual maps with the closed-form (weighted) amplitude and velocity offset.

    In log scale the moment-0 residual is ``log(a m + f) - log(d + f)`` and the
    amplitude is refined by Gauss-Newton steps in log space.
    """
    dims = (-2, -1)
    d0, d1 = batch.d0[galaxy], batch.d1[galaxy]
    amp = (w0 * model0 * d0).sum(dims) / (w0 * model0**2).sum(dims).clamp_min(1e-30)
    off = (w1 * (d1 - model1)).sum(dims) / w1.sum(dims).clamp_min(1e-30)
    r1 = model1 + off[:, None, None] - d1
    if not batch.log:
        return amp[:, None, None] * model0 - d0, r1, amp, off
    amp = _log_amplitude(d0, model0, w0, amp.clamp_min(1e-12), LOG_FLOOR)
    r0 = torch.log(amp[:, None, None] * model0.clamp_min(0.0) + LOG_FLOOR)
    return r0 - torch.log(d0.clamp_min(0.0) + LOG_FLOOR), r1, amp, off


class _Weights:
    """Student-t weights and jitters of each galaxy's two maps (IRLS state)."""

    def __init__(self, batch):
        self.batch = batch
        peak0 = batch.d0.abs().flatten(1).amax(1)
        peak1 = batch.d1.abs().flatten(1).amax(1)
        self.floor = ((1e-4 * peak0) ** 2, (1e-4 * peak1) ** 2)  # keeps weights finite
        self.u = (batch.mask.clone(), batch.mask.clone())
        self.j2 = None

    def subset(self, batch, idx):
        """The weights of galaxies ``idx``, attached to the sub-batch ``batch``."""
        sub = object.__new__(_Weights)
        sub.batch = batch
        sub.floor = tuple(f[idx] for f in self.floor)
        sub.u = tuple(u[idx] for u in self.u)
        sub.j2 = None if self.j2 is None else tuple(j[idx] for j in self.j2)
        return sub

    def assign(self, idx, sub):
        """Copy the state of a :meth:`subset` back into galaxies ``idx``."""
        for mine, theirs in zip(self.u, sub.u, strict=True):
            mine[idx] = theirs
        if self.j2 is None:
            self.j2 = tuple(torch.zeros(len(self.batch), dtype=j.dtype) for j in sub.j2)
        for mine, theirs in zip(self.j2, sub.j2, strict=True):
            mine[idx] = theirs

    def variances(self):
        b = self.batch
        return b.e0 + self.j2[0][:, None, None], b.e1 + self.j2[1][:, None, None]

    def weights(self, fisher=False):
        """Inverse-variance pixel weights ``(w0, w1)``; Fisher weights for the curvature."""
        var0, var1 = self.variances()
        mask = self.batch.mask
        if fisher:  # expected information of Student-t residuals
            f = (NU + 1.0) / (NU + 3.0)
            return f * mask / var0, f * mask / var1
        return mask * self.u[0] / var0, mask * self.u[1] / var1

    def update(self, model0, model1, rounds=3):
        """Re-estimate weights and jitters from the residuals of the current models."""
        b = self.batch
        galaxy = torch.arange(len(b))
        dims = (-2, -1)
        for _ in range(rounds):
            if self.j2 is None:
                w0 = w1 = b.mask
            else:
                w0, w1 = self.weights()
            r0, r1, _, _ = _solve_nuisance(b, model0, model1, w0, w1, galaxy)
            j2 = []
            for r, e, u, floor in zip((r0, r1), (b.e0, b.e1), self.u, self.floor, strict=True):
                wu = u * b.mask
                j2.append(
                    torch.maximum(
                        ((wu * (r**2 - e)).sum(dims) / wu.sum(dims).clamp_min(1e-30)), floor
                    )
                )
            self.j2 = tuple(j2)
            var0, var1 = self.variances()
            self.u = (
                b.mask * (NU + 1.0) / (NU + r0**2 / var0),
                b.mask * (NU + 1.0) / (NU + r1**2 / var1),
            )


def _vector(batch, model0, model1, weights, galaxy, scale):
    """Weighted residual vectors ``(N, 2 H W)`` of models for galaxies ``galaxy``."""
    w0, w1 = weights[0][galaxy], weights[1][galaxy]
    r0, r1, _, _ = _solve_nuisance(batch, model0, model1, w0, w1, galaxy)
    s = scale[galaxy][:, None, None]
    return torch.cat(
        [(r0 * torch.sqrt(w0) * s).flatten(1), (r1 * torch.sqrt(w1) * s).flatten(1)], 1
    )


def _perturbed(batch, theta, raw, steps, amplitude_index):
    """Raw model maps with each parameter moved by its finite-difference step.

    Returns a list of ``(k, model0, model1)``, one per parameter ``k``; the
    velocity amplitude's maps are the current ones rescaled (moment 1 is linear
    in it), so they cost no decoder pass, and the parameters of profiles that
    give exact derivatives (ring values) are the current maps moved along them
    (one decoder pass for them all).
    """
    b, p = theta.shape
    exact = [batch.names.index(n) for n in batch.exact()]
    columns = [k for k in range(p) if k != amplitude_index and k not in exact]
    linear = []
    if exact:
        d0, d1 = batch.derivatives(theta)
        for j, k in enumerate(exact):
            linear.append((k, raw[0] + steps[k] * d0[:, j], raw[1] + steps[k] * d1[:, j]))
    rows = theta.repeat(len(columns), 1)
    for j, k in enumerate(columns):
        rows[j * b : (j + 1) * b, k] += steps[k]
    m0, m1 = batch.render(rows, torch.arange(b).repeat(len(columns)))
    out = [(k, m0[j * b : (j + 1) * b], m1[j * b : (j + 1) * b]) for j, k in enumerate(columns)]
    out += linear
    if amplitude_index is not None:
        k = amplitude_index
        factor = (theta[:, k] + steps[k]) / theta[:, k].clamp_min(1e-12)
        out.append((k, raw[0], raw[1] * factor[:, None, None]))
    return out


def _jacobian(batch, theta, raw, perturbed, weights, scale, steps):
    """Jacobian ``(B, N, P)`` of :func:`_vector` from :func:`_perturbed` maps, and its value."""
    b, p = theta.shape
    galaxy = torch.arange(b)
    base = _vector(batch, raw[0], raw[1], weights, galaxy, scale)
    jac = torch.zeros(b, base.shape[1], p, dtype=theta.dtype)
    for k, m0, m1 in perturbed:
        jac[:, :, k] = (_vector(batch, m0, m1, weights, galaxy, scale) - base) / steps[k]
    return jac, base


def _correlation_area(batch, model0, model1, weights):
    """Correlation area (network pixels) of each galaxy's normalised residual maps.

    The autocorrelation of the weighted residuals over the mask, normalised by
    the number of pixel pairs at each lag, summed over rings of lag up to
    `_MAX_LAG` for as long as its ring mean stays positive and decreasing; never
    less than the beam's area.
    """
    galaxy = torch.arange(len(batch))
    w0, w1 = weights
    r0, r1, _, _ = _solve_nuisance(batch, model0, model1, w0, w1, galaxy)
    h, w = batch.shape
    shape = (2 * h, 2 * w)
    lag_y = torch.fft.fftfreq(shape[0], 1.0 / shape[0])
    lag_x = torch.fft.fftfreq(shape[1], 1.0 / shape[1])
    ring = torch.round(torch.sqrt(lag_y[:, None] ** 2 + lag_x[None, :] ** 2)).long().flatten()
    inside = ring <= _MAX_LAG
    ring = ring[inside]
    pairs = torch.fft.irfft2(torch.fft.rfft2(batch.mask, s=shape).abs() ** 2, s=shape)
    enough = (pairs > 0.25 * pairs[:, :1, :1]).flatten(1)[:, inside].to(r0.dtype)
    areas = []
    for r, wt in ((r0, w0), (r1, w1)):
        corr = torch.fft.irfft2(torch.fft.rfft2(r * torch.sqrt(wt), s=shape).abs() ** 2, s=shape)
        rho = (corr / pairs.clamp_min(1.0)).flatten(1)[:, inside]
        rho = rho / rho[:, :1].clamp_min(1e-30) * enough
        sums = torch.zeros(len(batch), _MAX_LAG + 1, dtype=r.dtype)
        counts = torch.zeros_like(sums)
        sums.index_add_(1, ring, rho)
        counts.index_add_(1, ring, enough)
        mean = (sums / counts.clamp_min(1.0)).numpy()
        total = sums.numpy()
        area = []
        for j in range(len(batch)):
            # rings while the correlation stays positive and keeps falling
            falling = (
                (mean[j, 1:] > 0) & (mean[j, 1:] <= mean[j, :-1]) & (counts[j, 1:] > 0).numpy()
            )
            stop = 1 + (int(np.argmin(falling)) if not falling.all() else len(falling))
            area.append(max(float(total[j, :stop].sum()), 1.0))
        areas.append(torch.tensor(area, dtype=r.dtype))
    return areas


def _bounds(space, names, dtype):
    bounds = dict(space.bounds)
    bounds.update({n: (-CENTER_BOUND, CENTER_BOUND) for n in CENTER_NAMES})
    bounds[HEIGHT_NAME] = tuple(np.log(HEIGHT_BOUNDS))
    lo = torch.tensor([bounds[n][0] for n in names], dtype=dtype)
    hi = torch.tensor([bounds[n][1] for n in names], dtype=dtype)
    return lo, hi


def _prior(space, names, start, prior_sigma, default_height, lo, hi):
    """Prior centre ``mu`` and width ``(B, P)``: the start, widened network errors."""
    b = len(next(iter(start.values())))
    dtype = lo.dtype
    mu = torch.zeros(b, len(names), dtype=dtype)
    mu[:, names.index(HEIGHT_NAME)] = float(np.log(default_height))
    for k, n in enumerate(names):  # the centre and thickness may start elsewhere too
        if n in start:
            mu[:, k] = torch.as_tensor(np.asarray(start[n], dtype=float), dtype=dtype)
    mu = torch.minimum(torch.maximum(mu, lo), hi)
    sigma = ((hi - lo) / 4.0).expand(b, len(names)).clone()
    for n in CENTER_NAMES:
        sigma[:, names.index(n)] = CENTER_PRIOR
    sigma[:, names.index(HEIGHT_NAME)] = HEIGHT_PRIOR
    for k, n in enumerate(names):
        if prior_sigma is not None and n in prior_sigma:
            s = torch.as_tensor(np.asarray(prior_sigma[n], dtype=float), dtype=dtype)
            sigma[:, k] = (PRIOR_WIDTH * s).clamp_min(1e-6)
    return mu, sigma


def _regularizer(space, names, steps):
    """The profiles' regularisation residuals of parameter rows, and their Jacobian.

    Returns None when neither profile regularises; otherwise a function of
    ``theta`` ``(B, P)`` giving the residuals ``(B, M)`` and their Jacobian
    ``(B, M, P)`` (forward differences: the residuals are cheap, no decoder pass).
    """
    own = set(space.intensity.parameter_names()) | set(space.velocity.parameter_names())
    columns = [k for k, n in enumerate(names) if n in own]

    def residuals(theta):
        return space.regularization({n: theta[:, k] for k, n in enumerate(names)})

    if residuals(torch.full((1, len(names)), 0.5, dtype=torch.float64)) is None:
        return None

    def value_and_jacobian(theta, jacobian=True):
        base = residuals(theta)
        if not jacobian:
            return base, None
        jac = torch.zeros(*base.shape, theta.shape[1], dtype=theta.dtype)
        for k in columns:
            moved = theta.clone()
            moved[:, k] += steps[k]
            jac[:, :, k] = (residuals(moved) - base) / steps[k]
        return base, jac

    return value_and_jacobian


def refine(
    prepared,
    start,
    space,
    *,
    prior_sigma=None,
    iterations=12,
    nodes=5,
    moment0_scale="linear",
):
    """Refine every galaxy's parameters by fitting the decoder to its own maps.

    Parameters
    ----------
    prepared : list of `~galkin.preprocess.PreparedMaps`
        The galaxies (network-grid maps, mask, beam, optional pixel errors).
    start : dict of str to `numpy.ndarray`
        ``(B,)`` starting value of every parameter in ``space.names`` (decoder units).
    space : `~galkin.parameters.ParameterSpace`
        Profiles and bounds.
    prior_sigma : dict of str to `numpy.ndarray`, optional
        ``(B,)`` 1-sigma error of each starting value; the prior is this times
        `PRIOR_WIDTH`. Default: a quarter of each parameter's range.
    iterations : int, optional
        Largest number of Levenberg-Marquardt iterations.
    nodes : int, optional
        Gauss-Legendre nodes per line-of-sight segment of the decoder.
    moment0_scale : {"linear", "log"}, optional
        Compare moment 0 linearly (default) or as ``log(M0 + 0.01)`` of the
        peak-normalised maps (every isophote counts alike, as in an ellipse fit,
        so a bright, non-axisymmetric centre does not outweigh the outer disc;
        on simulated exponential discs with noise it biases the inclination by
        about -1 deg, so it is not the default).

    Returns
    -------
    list of Refinement
        One per galaxy, in order.
    """
    dtype = torch.float64
    decoder = DiscDecoder(space.intensity, space.velocity, nodes=nodes).to(_RENDER_DTYPE)
    names = tuple(space.names) + CENTER_NAMES + (HEIGHT_NAME,)
    if moment0_scale not in ("log", "linear"):
        raise ValueError(f"moment0_scale must be 'log' or 'linear'; got {moment0_scale!r}.")
    batch = _Batch(prepared, decoder, names, dtype, moment0_scale)
    lo, hi = _bounds(space, names, dtype)
    mu, sigma = _prior(space, names, start, prior_sigma, decoder.scale_height, lo, hi)
    amplitude = space.amplitude
    amp_index = names.index(amplitude) if amplitude in names else None
    b, p = mu.shape
    steps = _FD_STEP * (hi - lo)
    galaxy = torch.arange(b)
    scale = 1.0 / torch.sqrt(batch.beam_area)  # one measurement per beam while fitting
    prior_precision = torch.diag_embed(1.0 / sigma**2)
    regularizer = _regularizer(space, names, steps)

    with torch.no_grad():
        theta = mu.clone()
        raw = batch.render(theta, galaxy)
        weights = _Weights(batch)
        lam = torch.full((b,), 1e-3, dtype=dtype)
        converged = torch.zeros(b, dtype=torch.bool)
        done = 0
        while done < int(iterations) and not bool(converged.all()):
            done += 1
            idx = torch.nonzero(~converged).flatten()  # galaxies still moving
            sub = batch.subset(idx)
            sub_weights = weights.subset(sub, idx)
            state = _step(
                sub,
                sub_weights,
                theta[idx],
                tuple(m[idx] for m in raw),
                mu[idx],
                sigma[idx],
                lam[idx],
                scale[idx],
                steps,
                amp_index,
                (lo, hi),
                regularizer,
            )
            theta[idx], lam[idx], converged[idx] = state[0], state[2], state[3]
            raw[0][idx], raw[1][idx] = state[1]
            weights.assign(idx, sub_weights)
        weights.update(*raw)
        if regularizer is not None:  # a prior: its curvature adds to the information
            reg_jac = regularizer(theta)[1]
            prior_precision = prior_precision + reg_jac.transpose(1, 2) @ reg_jac
        covariance, areas = _laplace(batch, theta, raw, weights, steps, amp_index, prior_precision)
        physical = torch.tensor([n in space.physical_lower for n in names])
        return _results(
            batch,
            names,
            theta,
            mu,
            covariance,
            raw,
            weights,
            areas,
            (lo, hi, physical),
            converged,
            done,
        )


def _step(batch, weights, theta, raw, mu, sigma, lam, scale, steps, amp_index, bounds, reg=None):
    """One Levenberg-Marquardt iteration of a (sub-)batch.

    Returns the new ``theta``, its raw maps, the damping and which galaxies converged:
    a step was accepted and moved every parameter by less than `_CONVERGED` of its error.
    ``reg`` (from :func:`_regularizer`) adds the profiles' regularisation residuals.
    """
    lo, hi = bounds
    galaxy = torch.arange(len(batch))
    weights.update(*raw)
    w = weights.weights()
    perturbed = _perturbed(batch, theta, raw, steps, amp_index)
    jac, res = _jacobian(batch, theta, raw, perturbed, w, scale, steps)
    jtj = jac.transpose(1, 2) @ jac + torch.diag_embed(1.0 / sigma**2)
    grad = jac.transpose(1, 2) @ res[..., None] + ((theta - mu) / sigma**2)[..., None]
    if reg is not None:
        extra, extra_jac = reg(theta)
        jtj = jtj + extra_jac.transpose(1, 2) @ extra_jac
        grad = grad + extra_jac.transpose(1, 2) @ extra[..., None]

    def cost(vector, at):
        total = (vector**2).sum(-1) + (((at - mu) / sigma) ** 2).sum(-1)
        return total if reg is None else total + (reg(at, False)[0] ** 2).sum(-1)

    before = cost(res, theta)
    pending = torch.ones(len(batch), dtype=torch.bool)
    taken = torch.zeros_like(theta)
    for _ in range(_ATTEMPTS):  # raise the damping of galaxies whose step failed
        damp = torch.diag_embed(lam[:, None] * torch.diagonal(jtj, dim1=1, dim2=2))
        step = -torch.linalg.solve(jtj + damp, grad)[..., 0]
        trial = torch.minimum(torch.maximum(theta + step, lo), hi)
        trial_raw = batch.render(trial, galaxy)
        better = pending & (cost(_vector(batch, *trial_raw, w, galaxy, scale), trial) < before)
        taken[better] = (trial - theta)[better]
        theta = torch.where(better[:, None], trial, theta)
        raw = tuple(
            torch.where(better[:, None, None], t, r) for t, r in zip(trial_raw, raw, strict=True)
        )
        lam = torch.where(better, lam / 3.0, torch.where(pending, lam * 5.0, lam))
        lam = lam.clamp(1e-7, 1e7)
        pending &= ~better
        if not pending.any():
            break
    err = torch.sqrt(torch.diagonal(torch.linalg.inv(jtj), dim1=1, dim2=2))
    converged = ~pending & (taken.abs() < _CONVERGED * err).all(-1)
    return theta, raw, lam, converged


def _laplace(batch, theta, raw, weights, steps, amplitude_index, prior_precision):
    """Posterior covariance: each map's Fisher information over its correlation area."""
    fisher = weights.weights(fisher=True)
    areas = _correlation_area(batch, *raw, weights.weights())
    perturbed = _perturbed(batch, theta, raw, steps, amplitude_index)
    ones = torch.ones(len(batch), dtype=theta.dtype)
    zero = torch.zeros_like(fisher[0])
    info = prior_precision.clone()
    for k, w in enumerate(((fisher[0], zero), (zero, fisher[1]))):
        jac, _ = _jacobian(batch, theta, raw, perturbed, w, ones, steps)
        info = info + (jac.transpose(1, 2) @ jac) / areas[k][:, None, None]
    return torch.linalg.inv(info), areas


def _results(batch, names, theta, mu, covariance, raw, weights, areas, bounds, converged, done):
    lo, hi, physical = bounds
    galaxy = torch.arange(len(batch))
    w0, w1 = weights.weights()
    r0, r1, amp, off = _solve_nuisance(batch, raw[0], raw[1], w0, w1, galaxy)
    mask = batch.mask
    dims = (-2, -1)
    n = mask.sum(dims).clamp_min(1.0)
    linear0 = amp[:, None, None] * raw[0] - batch.d0  # the thesis's loss is linear
    loss = ((mask * linear0**2).sum(dims) + (mask * r1**2).sum(dims)) / n
    chi2 = []
    for r, e2 in ((r0, batch.measured0), (r1, batch.measured1)):
        known = (mask > 0) & (e2 > 0)
        total = torch.where(known, r**2 / e2.clamp_min(1e-30), 0.0).sum(dims)
        count = known.sum(dims)
        chi2.append(torch.where(count > 0, total / count.clamp_min(1), torch.nan))
    span = hi - lo
    # a lower bound that is a physical limit (a hole's zero density) is an answer
    at_bound = ((theta - lo < 1e-3 * span) & ~physical) | (hi - theta < 1e-3 * span)
    out = []
    for j in range(len(batch)):
        out.append(
            Refinement(
                names=names,
                value={n: float(theta[j, k]) for k, n in enumerate(names)},
                covariance=covariance[j].numpy(),
                start={n: float(mu[j, k]) for k, n in enumerate(names)},
                amplitude=float(amp[j]),
                offset=float(off[j]),
                model0=((amp[j] * raw[0][j]) * mask[j]).numpy(),
                model1=((raw[1][j] + off[j]) * mask[j]).numpy(),
                loss=float(loss[j]),
                chi2=(float(chi2[0][j]), float(chi2[1][j])),
                jitter=tuple(float(torch.sqrt(j2[j])) for j2 in weights.j2),
                correlation=(float(areas[0][j]), float(areas[1][j])),
                at_bound=tuple(n for k, n in enumerate(names) if at_bound[j, k]),
                converged=bool(converged[j]),
                iterations=done,
            )
        )
    return out


def _normal_draws(n, p, seed=0):
    """``(n, p)`` standard-normal draws: exact quantiles per column, shuffled independently."""
    from scipy.stats import norm

    z = norm.ppf((np.arange(n) + 0.5) / n)
    z = z / z.std() if n > 1 else np.zeros(n)
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(z) for _ in range(p)], 1)


def _systematic(value, keys):
    """The `SYSTEMATIC_FLOOR` of each parameter in ``keys`` at ``value`` (zero if none)."""
    floor = np.zeros(len(keys))
    for i, k in enumerate(keys):
        f = SYSTEMATIC_FLOOR.get(k, 0.0)
        floor[i] = abs(value[k]) * f[1] if isinstance(f, tuple) else f
    return floor


def posterior_draws(ref, space, n, seed=0):
    """``n`` draws from a `Refinement`'s posterior, clipped to ``space``'s bounds.

    The Laplace covariance widened by the `SYSTEMATIC_FLOOR` of each parameter;
    returns a dict of ``(n,)`` arrays, one per name in ``ref.names``.
    """
    keys = ref.names
    mean = np.array([ref.value[k] for k in keys])
    cov = 0.5 * (ref.covariance + ref.covariance.T)
    cov = cov + np.diag(_systematic(ref.value, keys) ** 2)
    chol = np.linalg.cholesky(cov + 1e-18 * np.eye(len(keys)))
    draws = mean + _normal_draws(n, len(keys), seed) @ chol.T
    lo = np.array([space.bounds.get(k, (-np.inf, np.inf))[0] for k in keys])
    hi = np.array([space.bounds.get(k, (-np.inf, np.inf))[1] for k in keys])
    draws = np.clip(draws, lo, hi)
    return {k: draws[:, i] for i, k in enumerate(keys)}


def refine_outputs(prepared, outputs, space, **options):
    """Refine a model's outputs; returns new `~galkin.model.ModelOutput` objects.

    The refined values replace the network's: ``samples`` keep the network's
    Monte-Carlo-dropout spread (``_err_mc``) about the refined values, and
    ``error_samples`` are draws from the Laplace posterior (see :func:`refine`),
    widened by the systematic
    floors of `SYSTEMATIC_FLOOR` in quadrature. The maps, amplitude,
    offset and loss are the refined model's; ``refinement`` holds the
    `Refinement` record.

    Parameters
    ----------
    prepared : list of `~galkin.preprocess.PreparedMaps`
    outputs : list of `~galkin.model.ModelOutput`
        The model's fits of ``prepared``, in order.
    space : `~galkin.parameters.ParameterSpace`
    **options
        Passed to :func:`refine`.
    """
    from .model import ModelOutput

    names = space.names
    start = {n: np.array([np.mean(o.samples[n]) for o in outputs]) for n in names}
    prior = None
    if all(o.error_samples is not None for o in outputs):
        prior = {n: np.array([np.std(o.error_samples[n]) for o in outputs]) for n in names}
    refined = refine(prepared, start, space, prior_sigma=prior, **options)
    new = []
    for output, ref in zip(outputs, refined, strict=True):
        n_err = max(len(next(iter(output.samples.values()))), 200)
        draws = posterior_draws(ref, space, n_err)
        samples = {
            k: np.asarray(output.samples[k]) - np.mean(output.samples[k]) + ref.value[k]
            for k in names
        }
        new.append(
            ModelOutput(
                samples=samples,
                moment0=ref.model0,
                moment1=ref.model1,
                amplitude=ref.amplitude,
                velocity_offset=ref.offset,
                loss=ref.loss,
                history=list(output.history),
                error_samples=draws,
                refinement=ref,
            )
        )
    return new
