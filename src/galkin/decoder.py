"""The differentiable decoder: physical parameters -> model moment maps.

Given an intensity profile Sigma(R), a velocity profile V(R), an inclination i and
a position-angle offset, the decoder renders moment 0 and moment 1 of a disc of
finite thickness on any affine pixel grid, then convolves with the beam.

Geometry
--------
In the frame of the (de-rotated) map, ``x`` runs along the receding major axis and
``y`` along the minor axis; ``s`` is the depth along the line of sight. A point of
the disc frame (x_d, y_d, z_d) lies at

    x = x_d,    y = y_d cos i - z_d sin i,    s = y_d sin i + z_d cos i.

The gas density is ``rho = Sigma(R) exp(-|z_d| / h) / (2 h)`` with R = sqrt(x_d^2 + y_d^2)
and rotation is cylindrical, so the line-of-sight velocity is
v = V(R) (x_d / R) sin i (the encoder supplies V's amplitude already multiplied by
sin i).

Cost
----
Instead of filling an N^3 cube, each pixel's line of sight is integrated by
Gauss-Legendre quadrature over the short stretch where the gas lies: the slab
``|z_d| < 8 h`` intersected with the disc ``|y_d| < R_max``, split where z_d = 0 and
y_d = 0 (the kinks of the integrand). Cost is O(N^2 K) with K = 3 x ``nodes``.

Beam
----
Moment maps of a beam-convolved cube are exactly
M0' = B * M0 and M1' = B * (M0 M1) / B * M0, which is what :meth:`DiscDecoder.forward`
returns when beams are given. The model is rendered on a grid padded by the kernel
half-width so that flux outside the field is convolved in.
"""

import numpy as np
import torch

from .beam import beam_kernels, convolve

__all__ = ["DiscDecoder"]

#: Thesis value: the scale height is one spaxel of a 64-pixel map.
DEFAULT_SCALE_HEIGHT = 1.0 / 64.0


def _edge_rates(y, ci, si, zmax, r_max, bounds, kinks, edges):
    """How the four edges of a line of sight's three segments move with the geometry.

    ``bounds``: the low and high ends of the slab ``|z_d| < zmax`` and of
    ``|y_d| < r_max`` along the line of sight; ``kinks``: the depths where
    ``z_d = 0`` and ``y_d = 0`` before they are clipped to the window;
    ``edges``: ``(lo, b1, b2, hi)`` as :meth:`DiscDecoder._line_of_sight` makes
    them from these. Returns, for ``"y"`` (the pixel's frame coordinate),
    ``"inclination"`` and ``"scale_height"``, the edges' derivatives ``(..., 4)``,
    through the same minima and maxima.
    """
    slab_lo, slab_hi, disc_lo, disc_hi = bounds
    lo, b1, b2, hi = edges
    t, c = si / ci, ci / si
    rates = {  # of slab low, slab high, disc low, disc high, z_d = 0, y_d = 0
        "y": (t, t, -c, -c, t, -c),
        "inclination": (
            (y - zmax * si) / ci**2,
            (y + zmax * si) / ci**2,
            (y + r_max * ci) / si**2,
            (y - r_max * ci) / si**2,
            y / ci**2,
            y / si**2,
        ),
        "scale_height": (-8.0 / ci, 8.0 / ci, 0.0, 0.0, 0.0, 0.0),
    }
    on_slab_lo = slab_lo >= disc_lo
    on_slab_hi = slab_hi <= disc_hi
    open_window = torch.minimum(slab_hi, disc_hi) >= lo  # else empty: hi is lo
    z_first = torch.minimum(torch.maximum(kinks[0], lo), hi) <= b1
    out = {}
    for name, (sl, sh, dl, dh, dz, dy) in rates.items():
        d_lo = torch.where(on_slab_lo, sl, dl)
        d_hi = torch.where(open_window, torch.where(on_slab_hi, sh, dh), d_lo)
        d_z, d_y = (
            torch.where(raw < lo, d_lo, torch.where(raw > hi, d_hi, rate))
            for raw, rate in zip(kinks, (dz, dy), strict=True)
        )
        d_b1 = torch.where(z_first, d_z, d_y)
        d_b2 = torch.where(z_first, d_y, d_z)
        out[name] = torch.stack(torch.broadcast_tensors(d_lo, d_b1, d_b2, d_hi), -1)
    return out


class DiscDecoder(torch.nn.Module):
    """Render moment maps of a thick rotating disc from profile parameters.

    Parameters
    ----------
    intensity : `~galkin.profiles.IntensityProfile`
    velocity : `~galkin.profiles.VelocityProfile`
    scale_height : float, optional
        Exponential scale height h in field units (thesis: one spaxel of 64).
    nodes : int, optional
        Gauss-Legendre nodes per line-of-sight segment (three segments).
    """

    def __init__(self, intensity, velocity, *, scale_height=DEFAULT_SCALE_HEIGHT, nodes=5):
        super().__init__()
        self.intensity = intensity
        self.velocity = velocity
        self.scale_height = float(scale_height)
        t, w = np.polynomial.legendre.leggauss(nodes)
        self.register_buffer("_t", torch.tensor(t, dtype=torch.float32), persistent=False)
        self.register_buffer("_w", torch.tensor(w, dtype=torch.float32), persistent=False)

    def _grid(self, origin, steps, shape, pad):
        """(B, H+2p, W+2p) frame coordinates of a padded affine grid."""
        h, w = shape
        dtype, dev = origin.dtype, origin.device
        jy = torch.arange(-pad, h + pad, dtype=dtype, device=dev)
        jx = torch.arange(-pad, w + pad, dtype=dtype, device=dev)
        gy, gx = torch.meshgrid(jy, jx, indexing="ij")
        x = (
            origin[:, 0, None, None]
            + steps[:, 0, 0, None, None] * gx
            + steps[:, 0, 1, None, None] * gy
        )
        y = (
            origin[:, 1, None, None]
            + steps[:, 1, 0, None, None] * gx
            + steps[:, 1, 1, None, None] * gy
        )
        return x, y

    def _line_of_sight(self, params, inclination, x, y, r_max, *, nodes=False):
        """Quadrature nodes of every pixel's line of sight.

        Returns the in-plane radius and ``x_d / R`` at each node, ``(B, H, W, K)``,
        and each node's weight: the vertical density ``exp(-|z_d| / h) / (2 h)``
        times the quadrature weight. With ``nodes=True`` also the nodes' ``y_d``
        and ``z_d``, the scale height (broadcastable against them), the vertical
        density alone, and how the segments' edges move with ``"y"``,
        ``"inclination"`` and ``"scale_height"`` (:func:`_edge_rates`).
        """
        b = inclination.shape[0]
        h = params.get("scale_height", self.scale_height)
        if torch.is_tensor(h):
            h = h.reshape(b, 1, 1)
        zmax = 8.0 * h
        ci = torch.cos(inclination).clamp_min(1e-4)[:, None, None]
        si = torch.sin(inclination).clamp_min(1e-4)[:, None, None]
        # Line-of-sight window: slab |z_d| <= zmax intersected with |y_d| <= r_max.
        bounds = ((y * si - zmax) / ci, (y * si + zmax) / ci)
        bounds += ((-r_max - y * ci) / si, (r_max - y * ci) / si)
        lo = torch.maximum(bounds[0], bounds[2])
        hi = torch.maximum(torch.minimum(bounds[1], bounds[3]), lo)  # empty: zero length
        kinks = (y * si / ci, -y * ci / si)  # z_d = 0 and y_d = 0
        s_z0 = torch.minimum(torch.maximum(kinks[0], lo), hi)
        s_y0 = torch.minimum(torch.maximum(kinks[1], lo), hi)
        b1, b2 = torch.minimum(s_z0, s_y0), torch.maximum(s_z0, s_y0)
        edges = torch.stack([lo, b1, b2], -1), torch.stack([b1, b2, hi], -1)
        half = 0.5 * (edges[1] - edges[0])  # (B, H, W, 3)
        mid = 0.5 * (edges[1] + edges[0])
        t = self._t.to(x.dtype)
        w = self._w.to(x.dtype)
        # (fused multiply-adds: these arrays are the decoder's largest, (B, H, W, 3n))
        s = torch.addcmul(mid[..., None], half[..., None], t).flatten(-2)
        ws = (half[..., None] * w).flatten(-2)
        yd = torch.addcmul((y * ci)[..., None], s, si[..., None])
        zd = torch.addcmul((-y * si)[..., None], s, ci[..., None])
        radius = torch.sqrt(torch.addcmul((x * x + 1e-12)[..., None], yd, yd))
        h4 = h[..., None] if torch.is_tensor(h) else h
        density = torch.exp(zd.abs() * (-1.0 / h4)) / (2.0 * h4)
        if nodes:
            rates = _edge_rates(y, ci, si, zmax, r_max, bounds, kinks, (lo, b1, b2, hi))
            return radius, x[..., None] / radius, density * ws, (yd, zd, h4, density, rates)
        return radius, x[..., None] / radius, density * ws

    def _profile_params(self, params, radius):
        """Each profile's parameters reshaped to broadcast against ``radius``."""
        shape = (radius.shape[0],) + (1,) * (radius.ndim - 1)
        ip = {k: params[k].reshape(shape) for k in self.intensity.parameter_names()}
        vp = {k: params[k].reshape(shape) for k in self.velocity.parameter_names()}
        return ip, vp

    def _frame(self, origin, steps, shape, pa_offset, beams):
        """Frame coordinates of the (padded) grid, the line-of-sight bound and the beams.

        Returns ``x, y`` (rotated by ``pa_offset``), ``r_max``, the beam kernels
        (None without beams) and the padding they need.
        """
        kernels = None
        pad = 0
        if beams is not None:
            kernels = beam_kernels(beams, steps, dtype=origin.dtype, device=origin.device)
            pad = kernels.shape[-1] // 2
        x, y = self._grid(origin, steps, shape, pad)
        if pa_offset is not None:
            c = torch.cos(pa_offset)[:, None, None]
            s = torch.sin(pa_offset)[:, None, None]
            x, y = x * c + y * s, -x * s + y * c
        corners = origin.abs().sum(-1) + steps.abs().sum((-2, -1)) * (max(shape) + pad)
        r_max = (corners.max() * 1.5).detach()
        return x, y, r_max, kernels, pad

    @staticmethod
    def _support_pixels(support, pad):
        """Galaxy and flat pixel indices of the padded grid that ``support`` needs.

        ``support`` ``(B, H, W)`` marks the output pixels wanted; after the beam,
        each depends on the padded grid within ``pad`` pixels, so the support is
        dilated by that.
        """
        wanted = support.to(torch.float32)
        k = 2 * pad + 1
        # the padded grid, dilated: box sums (differences of cumulative sums) along
        # rows, then columns, each window the k pixels centred on its own
        for axis, edges in ((-1, (k, k - 1)), (-2, (0, 0, k, k - 1))):
            total = torch.nn.functional.pad(wanted, edges).cumsum(axis)
            n = total.shape[axis]
            wanted = total.narrow(axis, k, n - k) - total.narrow(axis, 0, n - k)
        return torch.nonzero(wanted.flatten(1) > 0.5, as_tuple=True)

    @staticmethod
    def _rows(params, inclination, rows):
        """Per-galaxy parameters repeated for every rendered pixel (``rows``: its galaxy)."""
        b = inclination.shape[0]
        take = lambda v: v[rows] if torch.is_tensor(v) and v.shape[:1] == (b,) else v  # noqa: E731
        return {k: take(v) for k, v in params.items()}, inclination[rows]

    def _render_support(self, render, params, inclination, x, y, support, pad):
        """Maps ``(B, C, H, W)`` of ``render(params, inclination, x, y)``.

        With a ``support``, only the pixels it needs are rendered, each as a
        one-pixel grid of its own (so galaxies with small masks cost little);
        the other pixels are 0.
        """
        if support is None:
            return torch.stack(render(params, inclination, x, y), 1)
        galaxy, pixel = self._support_pixels(support, pad)
        pick = lambda grid: grid.flatten(1)[galaxy, pixel][:, None, None]  # noqa: E731
        values = render(*self._rows(params, inclination, galaxy), pick(x), pick(y))
        out = x.new_zeros(len(values), x.shape[0], x[0].numel())
        out[:, galaxy, pixel] = torch.stack([v[:, 0, 0] for v in values])
        return out.transpose(0, 1).reshape(x.shape[0], len(values), *x.shape[1:])

    def render(self, params, inclination, x, y, r_max, *, second=False):
        """Unconvolved (M0, M0 * M1) at frame coordinates ``x, y`` (B, H, W).

        ``params`` maps each profile parameter name to a ``(B,)`` tensor; an
        optional ``"scale_height"`` entry (``(B,)``, field units) overrides the
        decoder's scale height per galaxy. With ``second=True`` the line-of-sight
        integral of ``rho v^2`` (M0 times the second velocity moment) is returned
        as a third map.
        """
        radius, cosine, weight = self._line_of_sight(params, inclination, x, y, r_max)
        ip, vp = self._profile_params(params, radius)
        rho = self.intensity.evaluate(radius, **ip) * weight
        vlos = self.velocity.evaluate(radius, **vp) * cosine
        m0 = rho.sum(-1)
        m0v = (rho * vlos).sum(-1)
        if second:
            return m0, m0v, (rho * vlos**2).sum(-1)
        return m0, m0v

    def _render_derivatives(self, params, inclination, x, y, r_max, geometry=False):
        """Unconvolved M0, M0 M1 and their derivatives.

        Without ``geometry``, with respect to the parameters of the profiles that
        give a `~galkin.profiles.DecoderProfile.jacobian`; with it, with respect to
        every profile parameter (by automatic differentiation of the profile at
        each node where it gives none), ``"inclination"``, ``"scale_height"`` and
        the frame coordinates ``"x"`` and ``"y"`` of the pixel (see
        :meth:`derivatives`). These are the derivatives of the quadrature sums
        themselves: the integrand's at each node, plus the moving nodes and
        weights (the segments' edges move with the geometry).

        Returns ``names`` and the maps ``(B, 2 + 2 P, H, W)``: M0, M0 M1, then
        dM0 and d(M0 M1) for each of the ``P`` parameters in ``names``.
        """
        radius, cosine, weight, (yd, zd, h, density, rates) = self._line_of_sight(
            params, inclination, x, y, r_max, nodes=True
        )
        ip, vp = self._profile_params(params, radius)
        sigma, dsigma, jac0 = _profile_derivatives(self.intensity, radius, ip, geometry)
        speed, dspeed, jac1 = _profile_derivatives(self.velocity, radius, vp, geometry)
        f0 = sigma * weight
        u = speed * cosine  # line-of-sight velocity
        f1 = f0 * u
        names, d0, d1 = [], [], []

        def add(name, g0, g1):
            names.append(name)
            d0.append(g0)
            d1.append(g1)

        if jac0 is not None:
            for k, name in enumerate(self.intensity.parameter_names()):
                g0 = jac0[..., k] * weight
                add(name, g0.sum(-1), (g0 * u).sum(-1))
        if jac1 is not None:
            for k, name in enumerate(self.velocity.parameter_names()):
                add(name, torch.zeros_like(f0[..., 0]), (f0 * jac1[..., k] * cosine).sum(-1))
        if geometry:
            profiles = (sigma, dsigma, speed, dspeed)
            nodes = (radius, cosine, weight, yd, zd, h, density, rates)
            self._geometry_columns(add, inclination, (f0, f1, u), profiles, nodes)
        maps = [f0.sum(-1), f1.sum(-1)]
        if not names:
            return names, torch.stack(maps, 1)
        return names, torch.stack(maps + d0 + d1, 1)

    def _geometry_columns(self, add, inclination, model, profiles, nodes):
        """The derivatives of both quadrature sums with respect to the pixel's frame
        ``x`` and ``y``, the inclination and the scale height (see
        :meth:`_render_derivatives`; each is passed to ``add(name, dM0, d(M0 M1))``).

        At a node, with rho = dR/dtheta and gamma = dln(g)/dtheta of the vertical
        density g, the integrands f0 = Sigma(R) g w and f1 = f0 V(R) x / R change by
        ``df0 = Sigma' g w rho + f0 gamma`` and ``df1 = df0 u + (f0 V' c - f1 / R)
        rho`` (plus ``f0 V / R - ...`` for x, which also enters c = x / R). The
        nodes move too: a node's depth ``s`` along the line of sight by ``da + tau
        (db - da)`` and its weight by ``(db - da) w / 2``, where ``a, b`` are its
        segment's edges (:func:`_edge_rates`). Since ``rho`` and ``gamma`` are
        per-pixel constants times a few node quantities, every sum over nodes is
        taken once, per segment where the motion needs it.
        """
        f0, f1, u = model
        sigma, dsigma, speed, dspeed = profiles
        radius, cosine, weight, yd, zd, h, density, rates = nodes
        ci = torch.cos(inclination).clamp_min(1e-4).reshape(-1, 1, 1, 1)
        si = torch.sin(inclination).clamp_min(1e-4).reshape(-1, 1, 1, 1)
        n = self._t.numel()
        tau = 0.5 * (self._t.to(f0.dtype) + 1.0)
        # per segment: sums over its nodes, plain, times tau, times half the weight
        weights = torch.stack([torch.ones_like(tau), tau, 0.5 * self._w.to(f0.dtype)], -1)

        def segments(q):
            return q.unflatten(-1, (3, n)) @ weights  # (..., 3 segments, 3 sums)

        a = dsigma * weight  # Sigma' g w
        e = f0 * dspeed * cosine - f1 / radius
        sine = yd / radius
        big_a = a * sine  # rho = sine * (cos i, sin i, z_d) for y, s, inclination
        big_f = f0 * torch.sign(zd)  # gamma = sign(z_d) * (sin i, -cos i, y_d) / h
        big_q = big_a * u + e * sine
        big_fu = big_f * u
        unweighted = sigma * density  # the integrand without the quadrature weight
        sa, sf, sq, sfu = (segments(q) for q in (big_a, big_f, big_q, big_fu))
        su, suu = segments(unweighted)[..., 2], segments(unweighted * u)[..., 2]
        total = lambda q: q[..., 0].sum(-1)  # noqa: E731  (over segments: over nodes)

        # per pixel: (..., 1) against node arrays, (..., 1, 1) against per-segment sums
        flat = lambda q: q[..., 0] if torch.is_tensor(q) else q  # noqa: E731
        along0 = si[..., None] * sa - (ci / h)[..., None] * sf  # d/ds, per segment
        along1 = si[..., None] * sq - (ci / h)[..., None] * sfu

        def moving(name, g0, g1):
            edges = rates[name]
            start, step = edges[..., :3], edges[..., 1:] - edges[..., :3]
            g0 = g0 + (start * along0[..., 0] + step * (along0[..., 1] + su)).sum(-1)
            g1 = g1 + (start * along1[..., 0] + step * (along1[..., 1] + suu)).sum(-1)
            return g0, g1

        add("x", (a * cosine).sum(-1), (cosine * (a * u + e) + f0 * speed / radius).sum(-1))
        dy0 = flat(ci) * total(sa) + flat(si / h) * total(sf)
        add("y", *moving("y", dy0, flat(ci) * total(sq) + flat(si / h) * total(sfu)))
        g0 = (big_a * zd).sum(-1) + (big_f * yd / h).sum(-1)
        g1 = (big_q * zd).sum(-1) + (big_fu * yd / h).sum(-1)
        add("inclination", *moving("inclination", g0, g1))
        height = zd.abs() / h - 1.0
        g0 = (f0 * height).sum(-1) / flat(h)
        g1 = (f1 * height).sum(-1) / flat(h)
        add("scale_height", *moving("scale_height", g0, g1))

    def forward(
        self,
        params,
        inclination,
        origin,
        steps,
        shape,
        *,
        pa_offset=None,
        beams=None,
        dispersion=False,
        support=None,
    ):
        """Model moment-0 and moment-1 maps (and the dispersion rotation alone causes).

        Parameters
        ----------
        params : dict of str to `torch.Tensor`
            ``(B,)`` tensor per profile parameter, decoder units.
        inclination : `torch.Tensor`
            ``(B,)`` radians.
        origin : `torch.Tensor`
            ``(B, 2)`` frame coordinates of pixel (0, 0), field units.
        steps : `torch.Tensor`
            ``(B, 2, 2)``: columns are the frame steps of +1 pixel in x and y.
        shape : tuple of int
            ``(H, W)`` of the output maps.
        pa_offset : `torch.Tensor`, optional
            ``(B,)`` radians: rotates the disc's major axis from the frame's +x towards +y.
        beams : `torch.Tensor`, optional
            ``(B, 3)`` beam (sigma_major, sigma_minor, angle) in the frame, field units.
        dispersion : bool, optional
            Also return the line-of-sight velocity dispersion of the model itself:
            ``sqrt(B * (M0 v^2) / B * M0 - M1'^2)``, the spread of rotation velocities
            the beam (and the disc's thickness) mixes into each pixel. This is the
            beam-smearing term to subtract in quadrature from an observed dispersion.
        support : `torch.Tensor`, optional
            ``(B, H, W)`` boolean: the output pixels that are needed (a fit's mask).
            Only the pixels they depend on through the beam are rendered, and the
            maps are exact there; elsewhere they are not meaningful (0 in moment 0).

        Returns
        -------
        moment0, moment1 : `torch.Tensor`
            ``(B, H, W)``; moment 0 with Sigma(0) = 1 per unit length of line of
            sight, moment 1 in the units of the velocity amplitude.
        sigma : `torch.Tensor`
            ``(B, H, W)``, only with ``dispersion=True``: in the units of moment 1.
        """
        x, y, r_max, kernels, pad = self._frame(origin, steps, shape, pa_offset, beams)
        draw = lambda *args: self.render(*args, r_max, second=dispersion)  # noqa: E731
        maps = self._render_support(draw, params, inclination, x, y, support, pad)
        if kernels is not None:
            maps = convolve(maps, kernels)[:, :, pad : -pad or None, pad : -pad or None]
        maps = maps.unbind(1)
        m0 = maps[0]
        tiny = 1e-6 * m0.detach().flatten(1).amax(1)[:, None, None] + 1e-30
        m1 = maps[1] / (m0 + tiny)
        if not dispersion:
            return m0, m1
        bright = m0 > tiny  # exact moments there (tiny would bias <v^2> - <v>^2)
        safe = torch.where(bright, m0, torch.ones_like(m0))
        variance = maps[2] / safe - (maps[1] / safe) ** 2
        return m0, m1, torch.sqrt(torch.where(bright, variance, 0.0).clamp_min(0.0))

    def derivatives(
        self,
        params,
        inclination,
        origin,
        steps,
        shape,
        *,
        pa_offset=None,
        beams=None,
        support=None,
        geometry=False,
    ):
        """Model maps and their derivatives, from one pass.

        Both maps are line-of-sight integrals of the profiles, so every derivative
        is an integral at the same quadrature nodes. By default only the
        parameters of profiles that provide `~galkin.profiles.DecoderProfile.jacobian`
        are differentiated; with ``geometry=True`` every profile parameter (the
        others by automatic differentiation of the profile, which must be
        pointwise in radius, as :meth:`forward` assumes too) and the geometry:
        ``"inclination"``, ``"scale_height"`` (of ``params``, or the decoder's),
        ``"origin_x"``, ``"origin_y"`` (the two components of ``origin``) and
        ``"pa_offset"``. These are the derivatives of the integrals over a fixed
        line of sight, whose ends (8 scale heights from the plane, or well
        outside the field) move with the geometry: the gas density there is
        below ``e^-8`` of the plane's, and so is the error. The other arguments
        are those of :meth:`forward`.

        Returns
        -------
        names : list of str
            The differentiated parameters (empty when neither profile gives a
            Jacobian and ``geometry`` is False).
        moment0, moment1 : `torch.Tensor`
            ``(B, H, W)``, as :meth:`forward` returns them.
        d_moment0, d_moment1 : `torch.Tensor`
            ``(B, P, H, W)``: derivatives of the two maps with respect to ``names``.
        """
        x, y, r_max, kernels, pad = self._frame(origin, steps, shape, pa_offset, beams)
        names = []

        def draw(*args):
            found, maps = self._render_derivatives(*args, r_max, geometry)
            names[:] = found
            return maps.unbind(1)

        maps = self._render_support(draw, params, inclination, x, y, support, pad)
        if geometry:
            maps = _frame_columns(maps, names, x, y, pa_offset)
        if kernels is not None:
            maps = convolve(maps, kernels)[:, :, pad : -pad or None, pad : -pad or None]
        p = len(names)
        m0, m0v = maps[:, 0], maps[:, 1]
        tiny = 1e-6 * m0.flatten(1).amax(1)[:, None, None] + 1e-30
        denominator = m0 + tiny
        m1 = m0v / denominator
        d0 = maps[:, 2 : 2 + p]
        d1 = (maps[:, 2 + p :] - m1[:, None] * d0) / denominator[:, None]
        return names, m0, m1, d0, d1


def _profile_derivatives(profile, radius, params, geometry):
    """A profile's values at ``radius``, their radial derivative and parameter Jacobian.

    The Jacobian ``(..., P)`` is the profile's own
    (`~galkin.profiles.DecoderProfile.jacobian`) when it gives one; otherwise, and
    the radial derivative always, from automatic differentiation when
    ``geometry`` is True (each value depends on its own radius and parameters
    only, so the gradient of the sum is the pointwise derivative), None when not.
    """
    jac = profile.jacobian(radius, **params)
    if not geometry:
        return profile.evaluate(radius, **params), None, jac
    own = jac is None
    with torch.enable_grad():
        r = radius.detach().requires_grad_(True)
        leaves = {  # each node its own copy of the parameters: pointwise derivatives
            k: v.detach().expand(r.shape).clone().requires_grad_() if own else v
            for k, v in params.items()
        }
        value = profile.evaluate(r, **leaves)
        wanted = [r] + (list(leaves.values()) if own else [])
        grads = torch.autograd.grad(
            value, wanted, grad_outputs=torch.ones_like(value), allow_unused=True
        )
    grads = [torch.zeros_like(r) if g is None else g for g in grads]
    if own:
        jac = torch.stack(grads[1:], -1) if leaves else None
    return value.detach(), grads[0], jac


def _frame_columns(maps, names, x, y, pa_offset):
    """Replace the derivatives with respect to a pixel's frame ``x, y`` by those with
    respect to ``origin_x``, ``origin_y`` and ``pa_offset`` (``names`` in place).

    ``maps`` ``(B, 2 + 2 P, H, W)`` from :meth:`DiscDecoder._render_derivatives` on
    the grid whose rotated coordinates are ``x, y``. With ``x = X c + Y s`` and
    ``y = -X s + Y c`` (``X, Y`` the unrotated grid, ``c, s`` of the offset):
    ``d/dorigin_x = c d/dx - s d/dy``, ``d/dorigin_y = s d/dx + c d/dy`` and
    ``d/dpa_offset = y d/dx - x d/dy``.
    """
    p = len(names)
    b = maps.shape[0]
    if pa_offset is None:
        pa_offset = torch.zeros(b, dtype=maps.dtype, device=maps.device)
    c = torch.cos(pa_offset).to(maps.dtype)[:, None, None]
    s = torch.sin(pa_offset).to(maps.dtype)[:, None, None]
    ix, iy = names.index("x"), names.index("y")
    keep = [k for k in range(p) if k not in (ix, iy)]
    out0, out1 = [maps[:, 2 + k] for k in keep], [maps[:, 2 + p + k] for k in keep]
    for first in (2, 2 + p):
        gx, gy = maps[:, first + ix], maps[:, first + iy]
        columns = out0 if first == 2 else out1
        columns += [c * gx - s * gy, s * gx + c * gy, y * gx - x * gy]
    names[:] = [names[k] for k in keep] + ["origin_x", "origin_y", "pa_offset"]
    return torch.stack([maps[:, 0], maps[:, 1]] + out0 + out1, 1)
