"""The batched Levenberg-Marquardt fit of the decoder to each galaxy's maps."""

import numpy as np
import torch

from ..decoder import DiscDecoder
from .constants import (
    _ATTEMPTS,
    _CONVERGED,
    _FD_STEP,
    _RENDER_DTYPE,
    _SETTLED,
    CENTER_BOUND,
    CENTER_NAMES,
    CENTER_PRIOR,
    HEIGHT_BOUNDS,
    HEIGHT_NAME,
    HEIGHT_PER_SCALE_LENGTH,
    HEIGHT_PRIOR,
    PRIOR_WIDTH,
)
from .data import (
    _amplitude_column,
    _Batch,
    _broyden,
    _normal_equations,
    _solve_nuisance,
    _vector,
    _Weights,
)
from .errors import _laplace
from .record import Refinement


def _bounds(space, names, dtype):
    bounds = dict(space.bounds)
    bounds.update({n: (-CENTER_BOUND, CENTER_BOUND) for n in CENTER_NAMES})
    bounds[HEIGHT_NAME] = tuple(np.log(HEIGHT_BOUNDS))
    lo = torch.tensor([bounds[n][0] for n in names], dtype=dtype)
    hi = torch.tensor([bounds[n][1] for n in names], dtype=dtype)
    return lo, hi


def _scale_length(profile, values):
    """Exponential scale length ``(B,)`` with the half-light radius of ``profile``.

    ``values``: the profile's parameters, ``(B,)`` each (field units). The
    half-light radius of the face-on profile (numerically, out to two fields)
    divided by 1.678, that of an exponential disc; NaN where the profile has no
    light.
    """
    radius = torch.linspace(0.0, 2.0, 4001, dtype=torch.float64)
    params = {
        n: torch.as_tensor(np.asarray(values[n], dtype=float))[:, None]
        for n in profile.parameter_names()
    }
    with torch.no_grad():
        light = (profile.evaluate(radius[None, :], **params) * radius).clamp_min(0.0)
    cumulative = torch.cumsum(light, dim=1)
    total = cumulative[:, -1:]
    half = torch.searchsorted(cumulative, 0.5 * total).clamp_max(radius.numel() - 1)
    r_half = radius[half[:, 0]].numpy()
    return np.where(total[:, 0].numpy() > 0, r_half / 1.678, np.nan)


def _height_centre(space, start, default_height, b):
    """Prior centre of ``log_scale_height`` ``(B,)``: `HEIGHT_PER_SCALE_LENGTH` of the disc.

    The disc's scale length is that of the starting intensity profile
    (`_scale_length`); ``default_height`` where it cannot be evaluated.
    """
    height = np.full(b, float(default_height))
    if all(n in start for n in space.intensity.parameter_names()):
        length = _scale_length(space.intensity, start)
        height = np.where(np.isfinite(length), HEIGHT_PER_SCALE_LENGTH * length, height)
    return np.log(np.clip(height, *HEIGHT_BOUNDS))


def _prior(space, names, start, prior_sigma, default_height, lo, hi):
    """Prior centre ``mu`` and width ``(B, P)``: the start, widened network errors."""
    b = len(next(iter(start.values())))
    dtype = lo.dtype
    mu = torch.zeros(b, len(names), dtype=dtype)
    if HEIGHT_NAME not in start:  # a started thickness (a ring fit's proxy) centres it
        height = _height_centre(space, start, default_height, b)
        mu[:, names.index(HEIGHT_NAME)] = torch.as_tensor(height, dtype=dtype)
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
    pedestal=None,
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
    pedestal : bool, optional
        Fit a constant under moment 0 (`Refinement.pedestal`; see the module
        notes). Default: for parametric intensity profiles compared linearly;
        not for free-form ones (a ``proxy``), whose outer rings would be
        degenerate with it, nor in log scale.

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
    batch = _Batch(prepared, decoder, names, dtype, moment0_scale, pedestal)
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
        # derivative maps of the raw models, kept between iterations (Broyden)
        derivatives = tuple(torch.zeros(b, p, *m.shape[1:], dtype=dtype) for m in raw)
        stale = torch.ones(b, dtype=torch.bool)  # whose derivatives need a full pass
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
                (mu[idx], sigma[idx]),
                lam[idx],
                scale[idx],
                steps,
                amp_index,
                (lo, hi),
                (tuple(d[idx] for d in derivatives), stale[idx]),
                regularizer,
            )
            theta[idx], lam[idx], converged[idx] = state[0], state[2], state[3]
            raw[0][idx], raw[1][idx] = state[1]
            derivatives[0][idx], derivatives[1][idx] = state[4]
            stale[idx] = state[5]
            weights.assign(idx, sub_weights)
        weights.update(*raw)
        if regularizer is not None:  # a prior: its curvature adds to the information
            reg_jac = regularizer(theta)[1]
            prior_precision = prior_precision + reg_jac.transpose(1, 2) @ reg_jac
        # the converged galaxies' derivatives are fresh to within the last small
        # step; the others' are rendered again at the answer
        redo = torch.nonzero(~converged).flatten()
        if len(redo):
            fresh = batch.subset(redo).derivatives(theta[redo])
            for mine, new in zip(derivatives, fresh, strict=True):
                mine[redo] = new
        covariance, areas = _laplace(
            batch, theta, raw, weights, steps, amp_index, prior_precision, derivatives
        )
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


def _step(batch, weights, theta, raw, prior, lam, scale, steps, amp_index, bounds, jac, reg=None):
    """One Levenberg-Marquardt iteration of a (sub-)batch.

    ``jac`` holds the raw maps' derivative maps ``(d0, d1)`` from the last
    iteration and which galaxies' are ``stale`` (first iteration, or a failed
    step): those are rendered afresh (one derivative pass of the decoder, about
    three renders' cost); the others were updated by Broyden's formula after
    their last step, which costs no decoder pass (with ring profiles every
    iteration renders its derivatives afresh, since Broyden's update measured
    worse ring fits on the KinMS rings set -- 0.29 against 0.23 deg).
    Only galaxies whose step has not been accepted yet are rendered again while
    the damping rises. ``reg`` (from :func:`_regularizer`) adds the profiles'
    regularisation residuals.

    Returns the new ``theta``, its raw maps, the damping, which galaxies converged
    (a step with fresh derivatives was accepted and moved every parameter by less
    than `_CONVERGED` of its error, and the jitters changed by less than
    `_SETTLED`), the updated derivative maps and which of them
    must be rendered afresh next time (a failed step, or a small one to confirm).
    """
    lo, hi = bounds
    mu, sigma = prior
    (d0, d1), stale = jac
    if batch.exact():  # ring fits: tens of coupled values, few geometry columns to save
        stale = torch.ones_like(stale)
    before_jitter = weights.j2
    weights.update(*raw)
    # the fitted scatters must have settled too (see `_SETTLED`)
    settled = torch.zeros(len(batch), dtype=torch.bool)
    if before_jitter is not None:
        settled = torch.ones(len(batch), dtype=torch.bool)
        for old, new in zip(before_jitter, weights.j2, strict=True):
            settled &= (new - old).abs() <= _SETTLED * old
    w = weights.weights()
    fresh = torch.nonzero(stale).flatten()
    if len(fresh):
        f0, f1 = batch.subset(fresh).derivatives(theta[fresh])
        d0, d1 = d0.clone(), d1.clone()
        d0[fresh], d1[fresh] = f0, f1
    exact = [batch.names.index(n) for n in batch.exact()]
    d0, d1 = _amplitude_column(theta, raw, (d0, d1), amp_index)
    blocks, grad, misfit = _normal_equations(batch, raw, (d0, d1), w, scale, steps)
    jtj = blocks[0] + blocks[1] + torch.diag_embed(1.0 / sigma**2)
    grad = (grad + (theta - mu) / sigma**2)[..., None]
    if reg is not None:
        extra, extra_jac = reg(theta)
        jtj = jtj + extra_jac.transpose(1, 2) @ extra_jac
        grad = grad + extra_jac.transpose(1, 2) @ extra[..., None]

    jtj, grad = _free_system(jtj, grad, _active(theta, grad, lo, hi))

    def cost(squares, at, rows):
        total = squares + (((at - mu[rows]) / sigma[rows]) ** 2).sum(-1)
        return total if reg is None else total + (reg(at, False)[0] ** 2).sum(-1)

    galaxy = torch.arange(len(batch))
    before = cost(misfit, theta, galaxy)
    pending = torch.ones(len(batch), dtype=torch.bool)
    start, start_raw = theta, raw
    for _ in range(_ATTEMPTS):  # raise the damping of galaxies whose step failed
        rows = torch.nonzero(pending).flatten()
        a = jtj[rows]
        damp = torch.diag_embed(lam[rows, None] * torch.diagonal(a, dim1=1, dim2=2))
        step = -torch.linalg.solve(a + damp, grad[rows])[..., 0]
        trial = torch.minimum(torch.maximum(theta[rows] + step, lo), hi)
        trial_raw = batch.render(trial, rows)
        misfit = (_vector(batch, *trial_raw, w, rows, scale) ** 2).sum(-1)
        better = cost(misfit, trial, rows) < before[rows]
        good = rows[better]
        theta = theta.clone()
        theta[good] = trial[better]
        raw = tuple(r.clone() for r in raw)
        for r, t in zip(raw, trial_raw, strict=True):
            r[good] = t[better]
        lam = lam.clone()
        lam[rows] = torch.where(better, lam[rows] / 3.0, lam[rows] * 5.0).clamp(1e-7, 1e7)
        pending[good] = False
        if not pending.any():
            break
    taken = theta - start
    change = tuple(r - r0 for r, r0 in zip(raw, start_raw, strict=True))
    exact += [] if amp_index is None else [amp_index]
    d0, d1 = _broyden((d0, d1), taken, change, steps, exact)
    err = torch.sqrt(torch.diagonal(torch.linalg.inv(jtj), dim1=1, dim2=2))
    small = ~pending & (taken.abs() < _CONVERGED * err).all(-1)
    # at the minimum to within the renders' precision no step lowers the cost, so
    # a galaxy whose undamped (Gauss-Newton) step is small has converged as well
    newton = torch.linalg.solve(jtj, grad)[..., 0]
    small |= pending & (newton.abs() < _CONVERGED * err).all(-1)
    # a small step under updated derivatives may only mean they are off: converged
    # once a step is small with derivatives rendered afresh (which the errors reuse)
    converged = small & stale & settled
    return theta, raw, lam, converged, (d0, d1), pending | (small & ~stale)


def _active(theta, grad, lo, hi):
    """``(B, P)`` parameters held at a bound: there, with the descent pointing out."""
    tiny = 1e-6 * (hi - lo)
    g = grad[..., 0]
    return ((theta - lo <= tiny) & (g > 0)) | ((hi - theta <= tiny) & (g < 0))


def _free_system(jtj, grad, active):
    """The normal equations with the ``active`` parameters fixed (their step is zero).

    A clamped step that still pushes a parameter into its bound bends the
    others' step away from the descent and keeps failing, so the damping grows
    and the fit crawls (a ring fit with its thickness at the lower bound took
    30 iterations); an active parameter's row and column are cleared and its
    diagonal set to one.
    """
    if not bool(active.any()):
        return jtj, grad
    free = (~active).to(jtj.dtype)
    jtj = jtj * free[:, :, None] * free[:, None, :] + torch.diag_embed(1.0 - free)
    return jtj, grad * free[..., None]


def _results(batch, names, theta, mu, covariance, raw, weights, areas, bounds, converged, done):
    lo, hi, physical = bounds
    galaxy = torch.arange(len(batch))
    w0, w1 = weights.weights()
    r0, r1, amp, off, pedestal = _solve_nuisance(batch, raw[0], raw[1], w0, w1, galaxy)
    mask = batch.mask
    dims = (-2, -1)
    linear0 = amp[:, None, None] * raw[0] + pedestal[:, None, None] - batch.d0  # linear loss
    loss = (batch.mask0 * linear0**2).sum(dims) / batch.mask0.sum(dims).clamp_min(1.0)
    loss = loss + (mask * r1**2).sum(dims) / mask.sum(dims).clamp_min(1.0)
    chi2 = []
    for r, e2, used in ((r0, batch.measured0, batch.mask0), (r1, batch.measured1, mask)):
        known = (used > 0) & (e2 > 0)
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
                pedestal=float(pedestal[j]),
                fitted0=(batch.mask0[j] > 0).numpy(),
                model0=((amp[j] * raw[0][j] + pedestal[j]) * mask[j]).numpy(),
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
