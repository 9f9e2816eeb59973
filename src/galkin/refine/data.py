"""The batch's maps and the likelihood.

The maps and errors of a batch of galaxies as tensors, the Student-t weights, the
weighted residual vectors and their Jacobian.
"""

import numpy as np
import torch

from ..loss import LOG_FLOOR, _log_amplitude
from ..profiles import DecoderProfile
from .constants import (
    _CHUNK,
    _CHUNK_DERIVATIVES,
    _CHUNK_EXACT,
    _RENDER_DTYPE,
    CENTER_NAMES,
    CORE_BEAMS,
    CORE_MIN_KEPT,
    HEIGHT_NAME,
    NU,
    PEDESTAL_RIDGE,
)


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


def _outside_core(beams, shape, mask):
    """``(B, H, W)``: 1 outside `CORE_BEAMS` beam FWHMs of the grid's centre.

    ``beams``: ``(B, 3)`` beam sigmas (field units) and angle; the radius is the
    geometric-mean FWHM. A galaxy that would keep less than `CORE_MIN_KEPT` of
    its ``mask`` keeps every pixel.
    """
    h, w = shape
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=mask.dtype), torch.arange(w, dtype=mask.dtype), indexing="ij"
    )
    radius = torch.hypot(xx - (w - 1) / 2.0, yy - (h - 1) / 2.0)  # network pixels
    fwhm = np.sqrt(8.0 * np.log(2.0)) * torch.sqrt(beams[:, 0] * beams[:, 1]) * h
    outside = (radius > CORE_BEAMS * fwhm[:, None, None]).to(mask.dtype)
    dims = (-2, -1)
    kept = (mask * outside).sum(dims) / mask.sum(dims).clamp_min(1.0)
    return torch.where((kept >= CORE_MIN_KEPT)[:, None, None], outside, torch.ones_like(outside))


class _Batch:
    """The batch's maps, errors and geometry as tensors, and the decoder that models them."""

    def __init__(self, prepared, decoder, names, dtype, moment0_scale="linear", pedestal=None):
        stack = lambda arrays: torch.tensor(np.stack(arrays), dtype=dtype)  # noqa: E731
        self.d0 = stack([p.moment0 for p in prepared])
        self.d1 = stack([p.moment1 for p in prepared])
        self.mask = stack([p.mask for p in prepared])
        self.log = moment0_scale == "log"
        # by default a pedestal under a parametric disc; a free-form profile
        # (rings) that starts from a proxy fits its own outer light, and a
        # pedestal would be degenerate with its outer rings
        if pedestal is None:
            pedestal = decoder.intensity.proxy is None
        self.pedestal = bool(pedestal) and not self.log
        # measured pixel variances: for the reduced chi-square, not the weights
        self.measured0 = stack([_error_map(p, 0) for p in prepared]) ** 2
        if self.log:  # errors of log(d + floor)
            self.measured0 = self.measured0 / (self.d0.clamp_min(0.0) + LOG_FLOOR) ** 2
        self.measured1 = stack([_error_map(p, 1) for p in prepared]) ** 2
        # the weights: one fitted scatter per map (see the module notes)
        self.e0 = torch.zeros_like(self.d0)
        self.e1 = torch.zeros_like(self.d1)
        self.beam_area = torch.tensor([_beam_area(p) for p in prepared], dtype=dtype)
        # the noise's own correlation area, where the cube's noise was measured
        self.noise_area = torch.tensor([p.scales.noise_area or 1.0 for p in prepared], dtype=dtype)
        beams = [p.scales.beam for p in prepared]
        self.beams = None
        if any(b is not None for b in beams):
            self.beams = torch.tensor(
                [b if b is not None else (1e-4, 1e-4, 0.0) for b in beams], dtype=dtype
            )
        size = prepared[0].moment0.shape[0]
        self.shape = tuple(prepared[0].moment0.shape)
        # moment 0 leaves out the centre of a parametric profile (`CORE_BEAMS`)
        self.mask0 = self.mask
        if decoder.intensity.proxy is None and self.beams is not None:
            self.mask0 = self.mask * _outside_core(self.beams, self.shape, self.mask)
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
        keys = ("d0", "d1", "mask", "mask0", "e0", "e1", "measured0", "measured1")
        keys += ("beam_area", "noise_area")
        for key in keys:
            setattr(sub, key, getattr(self, key)[idx])
        sub.beams = None if self.beams is None else self.beams[idx]
        return sub

    def _decoder_args(self, rows, idx, origin, steps, beams):
        """The decoder's positional and keyword arguments for ``rows`` of galaxies ``idx``."""
        params = {n: rows[:, k] for k, n in enumerate(self.names)}
        params["scale_height"] = torch.exp(params[HEIGHT_NAME])
        shift = torch.stack([params["x0"], params["y0"]], -1)
        args = (params, params["inclination"], origin - shift)
        args += (steps.expand(rows.shape[0], 2, 2), self.shape)
        return args, {
            "pa_offset": params["pa_offset"],
            "beams": None if beams is None else beams[idx],
            "support": self.mask[idx] > 0,  # the residuals need nothing else
        }

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
            args, kwargs = self._decoder_args(rows, idx, origin, steps, beams)
            m0, m1 = self.decoder(*args, **kwargs)
            out0.append(m0.to(dtype))
            out1.append(m1.to(dtype))
        return torch.cat(out0), torch.cat(out1)

    def exact(self):
        """Names of the parameters whose profiles give their derivatives in closed form
        (`~galkin.profiles.DecoderProfile.jacobian`: ring values)."""
        names = []
        for profile in (self.decoder.intensity, self.decoder.velocity):
            if type(profile).jacobian is not DecoderProfile.jacobian:
                names += list(profile.parameter_names())
        return names

    def derivatives(self, theta):
        """Raw maps' derivatives ``(B, P, H, W)`` with respect to every parameter of
        ``theta`` (rows of every galaxy in order), from one decoder pass each.

        The decoder differentiates its line-of-sight integrals at their
        quadrature nodes (`~galkin.decoder.DiscDecoder.derivatives`): every column
        costs a few operations at the nodes instead of a decoder pass of its own,
        as finite differences did.
        """
        out0, out1 = [], []
        dtype = theta.dtype
        work = self.decoder._t.dtype
        rows_all = theta.to(work)
        origin, steps = self.origin.to(work), self.steps.to(work)
        beams = None if self.beams is None else self.beams.to(work)
        chunk = _CHUNK_EXACT if self.exact() else _CHUNK_DERIVATIVES
        for start in range(0, theta.shape[0], chunk):
            rows = rows_all[start : start + chunk]
            idx = torch.arange(start, start + rows.shape[0])
            args, kwargs = self._decoder_args(rows, idx, origin, steps, beams)
            found, _, _, d0, d1 = self.decoder.derivatives(*args, **kwargs, geometry=True)
            pick = torch.tensor([found.index(_DECODER_NAMES.get(n, n)) for n in self.names])
            # the centre shifts the grid's origin by minus itself; d/dlog(h) = h d/dh
            scale = torch.ones(rows.shape[0], len(self.names), dtype=work)
            scale[:, [self.names.index(n) for n in CENTER_NAMES]] = -1.0
            k = self.names.index(HEIGHT_NAME)
            scale[:, k] = torch.exp(rows[:, k])
            out0.append((d0[:, pick] * scale[..., None, None]).to(dtype))
            out1.append((d1[:, pick] * scale[..., None, None]).to(dtype))
        return torch.cat(out0), torch.cat(out1)


#: The decoder's names of the refinement's parameters where they differ.
_DECODER_NAMES = dict(zip(CENTER_NAMES, ("origin_x", "origin_y"), strict=True))
_DECODER_NAMES[HEIGHT_NAME] = "scale_height"


def _solve_nuisance(batch, model0, model1, w0, w1, galaxy):
    """Residual maps with the closed-form (weighted) nuisance parameters solved.

    Moment 0 is compared as ``a m + c`` with an amplitude ``a`` and a pedestal
    ``c`` (see the module notes; ``c = 0`` for free-form intensity profiles),
    moment 1 as ``m + v`` with a velocity offset ``v``; each is the weighted
    least-squares solution for the given model (variable projection: the
    Jacobian of the residuals then carries their uncertainty into the other
    parameters' errors). In log scale the moment-0 residual is
    ``log(a m + f) - log(d + f)`` without a pedestal, and the amplitude is
    refined by Gauss-Newton steps in log space.

    Returns ``r0, r1, amplitude, offset, pedestal`` (``(B,)`` each after the maps).
    """
    dims = (-2, -1)
    d0, d1 = batch.d0[galaxy], batch.d1[galaxy]
    off = (w1 * (d1 - model1)).sum(dims) / w1.sum(dims).clamp_min(1e-30)
    r1 = model1 + off[:, None, None] - d1
    if batch.pedestal:
        amp, pedestal = _amplitude_and_pedestal(d0, model0, w0)
        return amp[:, None, None] * model0 + pedestal[:, None, None] - d0, r1, amp, off, pedestal
    amp = (w0 * model0 * d0).sum(dims) / (w0 * model0**2).sum(dims).clamp_min(1e-30)
    pedestal = torch.zeros_like(amp)
    if not batch.log:
        return amp[:, None, None] * model0 - d0, r1, amp, off, pedestal
    amp = _log_amplitude(d0, model0, w0, amp.clamp_min(1e-12), LOG_FLOOR)
    r0 = torch.log(amp[:, None, None] * model0.clamp_min(0.0) + LOG_FLOOR)
    return r0 - torch.log(d0.clamp_min(0.0) + LOG_FLOOR), r1, amp, off, pedestal


def _amplitude_and_pedestal(d0, model0, w0, moments=False):
    """Weighted least-squares ``a, c`` of ``d0 ~ a model0 + c`` (``(B,)`` each).

    Minimises ``<w (a m + c - d)^2> / <w> + PEDESTAL_RIDGE c^2``: the small
    ridge only matters where the model is (nearly) constant over the mask, where
    amplitude and pedestal are degenerate; the pedestal then stays at zero.
    With ``moments``, also the weighted means ``(sum w, <m>, <d>, <m d>, det)``
    of the normal equations (their derivatives are :func:`_normal_equations`'s).
    """
    dims = (-2, -1)
    sw = w0.sum(dims).clamp_min(1e-30)
    m1 = (w0 * model0).sum(dims) / sw
    m2 = (w0 * model0**2).sum(dims) / sw
    d1 = (w0 * d0).sum(dims) / sw
    md = (w0 * model0 * d0).sum(dims) / sw
    one = 1.0 + PEDESTAL_RIDGE
    det = (m2 * one - m1**2).clamp_min(1e-30)
    amp, pedestal = (md * one - m1 * d1) / det, (m2 * d1 - m1 * md) / det
    if moments:
        return amp, pedestal, (sw, m1, d1, md, det)
    return amp, pedestal


class _Weights:
    """Student-t weights and jitters of each galaxy's two maps (IRLS state)."""

    def __init__(self, batch):
        self.batch = batch
        peak0 = batch.d0.abs().flatten(1).amax(1)
        peak1 = batch.d1.abs().flatten(1).amax(1)
        self.floor = ((1e-4 * peak0) ** 2, (1e-4 * peak1) ** 2)  # keeps weights finite
        self.u = (batch.mask0.clone(), batch.mask.clone())
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
        mask0, mask1 = self.batch.mask0, self.batch.mask
        if fisher:  # expected information of Student-t residuals
            f = (NU + 1.0) / (NU + 3.0)
            return f * mask0 / var0, f * mask1 / var1
        return mask0 * self.u[0] / var0, mask1 * self.u[1] / var1

    def update(self, model0, model1, rounds=3):
        """Re-estimate weights and jitters from the residuals of the current models."""
        b = self.batch
        galaxy = torch.arange(len(b))
        dims = (-2, -1)
        for _ in range(rounds):
            if self.j2 is None:
                w0, w1 = b.mask0, b.mask
            else:
                w0, w1 = self.weights()
            r0, r1, *_ = _solve_nuisance(b, model0, model1, w0, w1, galaxy)
            j2 = []
            maps = zip((r0, r1), (b.e0, b.e1), self.u, self.floor, (b.mask0, b.mask), strict=True)
            for r, e, u, floor, mask in maps:
                wu = u * mask
                j2.append(
                    torch.maximum(
                        ((wu * (r**2 - e)).sum(dims) / wu.sum(dims).clamp_min(1e-30)), floor
                    )
                )
            self.j2 = tuple(j2)
            var0, var1 = self.variances()
            self.u = (
                b.mask0 * (NU + 1.0) / (NU + r0**2 / var0),
                b.mask * (NU + 1.0) / (NU + r1**2 / var1),
            )


def _vector(batch, model0, model1, weights, galaxy, scale):
    """Weighted residual vectors ``(N, 2 H W)`` of models for galaxies ``galaxy``."""
    w0, w1 = weights[0][galaxy], weights[1][galaxy]
    r0, r1, *_ = _solve_nuisance(batch, model0, model1, w0, w1, galaxy)
    s = scale[galaxy][:, None, None]
    return torch.cat(
        [(r0 * torch.sqrt(w0) * s).flatten(1), (r1 * torch.sqrt(w1) * s).flatten(1)], 1
    )


def _amplitude_column(theta, raw, derivatives, amplitude_index):
    """Derivative maps with the velocity amplitude's column exact: moment 1 is linear
    in it, moment 0 does not depend on it."""
    if amplitude_index is None:
        return derivatives
    d0, d1 = (d.clone() for d in derivatives)
    d0[:, amplitude_index] = 0.0
    d1[:, amplitude_index] = raw[1] / theta[:, amplitude_index].clamp_min(1e-12)[:, None, None]
    return d0, d1


def _broyden(derivatives, taken, change, scale, exact=()):
    """Broyden's rank-one update of derivative maps after an accepted step.

    ``derivatives`` ``(d0, d1)`` ``(B, P, H, W)``; ``taken`` ``(B, P)`` the step;
    ``change`` the two raw maps' change it caused; ``scale`` ``(P,)`` each
    parameter's typical size (the update is least-change in ``taken / scale``).
    Columns in ``exact`` (known in closed form) are left alone. Galaxies that
    did not move keep their maps.
    """
    keep = torch.ones(taken.shape[1], dtype=taken.dtype)
    keep[list(exact)] = 0.0
    u = keep * taken / scale
    norm = (u**2).sum(-1)
    moved = norm > 0
    u = torch.where(moved[:, None], u / norm.clamp_min(1e-300)[:, None], 0.0) / scale
    out = []
    for d, dm in zip(derivatives, change, strict=True):
        miss = dm - torch.einsum("bphw,bp->bhw", d, taken)
        out.append(d + miss[:, None] * u[:, :, None, None])
    return tuple(out)


def _normal_equations(batch, raw, derivatives, weights, scale, steps):
    """Gauss-Newton normal equations of :func:`_vector`, one block per map.

    Returns ``(jtj0, jtj1), grad, cost``: each map's ``J^T J`` ``(B, P, P)``,
    ``J^T r`` ``(B, P)`` of both maps and ``r^T r`` ``(B,)``, where ``J`` is the
    Jacobian of the weighted residual vector ``r`` with respect to the
    parameters whose raw-map derivatives are ``derivatives`` ``(d0, d1)``.

    The nuisance parameters are solved for every model (variable projection), so
    a column of ``J`` is ``a dm + m da + dc`` in moment 0 and ``dm + dv`` in
    moment 1, with the derivatives of the weighted least-squares ``a``, ``c``,
    ``v`` (:func:`_solve_nuisance`) in closed form. Their products are summed
    from the weighted Gram matrices of the derivative maps, so ``J`` itself --
    ``P`` weighted copies of both maps -- is never formed. In log scale the
    columns are finite differences of ``steps`` along the derivative maps.
    """
    galaxy = torch.arange(len(batch))
    d0, d1 = derivatives
    if batch.log:
        base = _vector(batch, raw[0], raw[1], weights, galaxy, scale)
        jac = torch.zeros(*base.shape, d0.shape[1], dtype=base.dtype)
        for k in range(d0.shape[1]):
            m0, m1 = raw[0] + steps[k] * d0[:, k], raw[1] + steps[k] * d1[:, k]
            jac[:, :, k] = (_vector(batch, m0, m1, weights, galaxy, scale) - base) / steps[k]
        half = base.shape[1] // 2
        blocks = tuple(j.transpose(1, 2) @ j for j in (jac[:, :half], jac[:, half:]))
        grad = (jac.transpose(1, 2) @ base[..., None])[..., 0]
        return blocks, grad, (base**2).sum(-1)
    w0, w1 = weights
    model = raw[0]
    r0, r1, amp, _, ped = _solve_nuisance(batch, model, raw[1], w0, w1, galaxy)
    flat = lambda x: x.flatten(-2)  # noqa: E731

    def sums(w, q, x=1.0):  # (B, P): sum of w q_p x over the pixels
        return (flat(q) @ flat(w * x)[..., None])[..., 0]

    def gram(w, q):  # (B, P, P): sum of w q_p q_q over the pixels
        q = flat(q)
        return (q * flat(w)[:, None]) @ q.transpose(1, 2)

    def total(w, x=None):
        return (w if x is None else w * x).sum((-2, -1))

    # moment 0: column e_p = a d0_p + m da_p + dc_p
    sw, mm = total(w0).clamp_min(1e-30), total(w0, model**2)
    dm = sums(w0, d0, model)  # sum w m d0_p
    dd = sums(w0, d0, batch.d0)  # sum w d d0_p
    dw = sums(w0, d0)  # sum w d0_p
    if batch.pedestal:
        _, _, (_, m1, data, md, det) = _amplitude_and_pedestal(batch.d0, model, w0, True)
        one = 1.0 + PEDESTAL_RIDGE
        dm1, dm2, dmd = dw / sw[:, None], 2.0 * dm / sw[:, None], dd / sw[:, None]
        ddet = dm2 * one - 2.0 * m1[:, None] * dm1
        damp = (dmd * one - dm1 * data[:, None] - amp[:, None] * ddet) / det[:, None]
        dped = dm2 * data[:, None] - dm1 * md[:, None] - m1[:, None] * dmd - ped[:, None] * ddet
        dped = dped / det[:, None]
    else:
        damp = (dd - 2.0 * amp[:, None] * dm) / mm.clamp_min(1e-30)[:, None]
        dped = torch.zeros_like(damp)
    a, m = amp[:, None, None], total(w0, model)
    outer = lambda x, y: x[:, :, None] * y[:, None, :]  # noqa: E731
    cross = a * (outer(dm, damp) + outer(dw, dped))
    jtj0 = (
        a**2 * gram(w0, d0) + cross + cross.transpose(1, 2) + mm[:, None, None] * outer(damp, damp)
    )
    mixed = m[:, None, None] * outer(damp, dped)
    jtj0 = jtj0 + mixed + mixed.transpose(1, 2) + sw[:, None, None] * outer(dped, dped)
    g0 = amp[:, None] * sums(w0, d0, r0) + damp * total(w0, r0 * model)[:, None]
    g0 = g0 + dped * total(w0, r0)[:, None]
    # moment 1: column d1_p - <d1_p>, the offset following the model
    sw1 = total(w1).clamp_min(1e-30)
    mean1 = sums(w1, d1) / sw1[:, None]
    jtj1 = gram(w1, d1) - sw1[:, None, None] * outer(mean1, mean1)
    g1 = sums(w1, d1, r1) - mean1 * total(w1, r1)[:, None]
    s2 = scale**2
    cost = s2 * (total(w0, r0**2) + total(w1, r1**2))
    return (s2[:, None, None] * jtj0, s2[:, None, None] * jtj1), s2[:, None] * (g0 + g1), cost
