"""The disc decoder: render moment maps of a thick rotating disc (see :mod:`galkin.decoder`)."""

import numpy as np
import torch

from ..beam import beam_kernels, convolve
from .derivatives import edge_rates, frame_columns, render_derivatives

__all__ = ["DiscDecoder"]

#: Thesis value: the scale height is one spaxel of a 64-pixel map.
DEFAULT_SCALE_HEIGHT = 1.0 / 64.0


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
        density alone, how the segments' edges move with ``"y"``,
        ``"inclination"`` and ``"scale_height"`` (``edge_rates``), and ``(cos i,
        sin i)``, broadcastable too.
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
            rates = edge_rates(y, ci, si, zmax, r_max, bounds, kinks, (lo, b1, b2, hi))
            angles = (ci[..., None], si[..., None])
            return radius, x[..., None] / radius, density * ws, (yd, zd, h4, density, rates, angles)
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
    def _support_pixels(support, pad, kernels=None):
        """Galaxy and flat pixel indices of the padded grid that ``support`` needs.

        ``support`` ``(B, H, W)`` marks the output pixels wanted; after the beam,
        each depends on the padded grid where its galaxy's kernel is not zero
        (`~galkin.beam.beam_kernels`: the beam's 4-sigma ellipse), so each
        galaxy's support is dilated by that footprint (by a box of ``pad``
        pixels without kernels).
        """
        wanted = torch.nn.functional.pad(support.to(torch.float32), (pad, pad, pad, pad))
        if kernels is None:
            dilated = _dilate(wanted, pad)
        else:  # the footprints are symmetric: dilation is convolution with them
            footprint = (kernels != 0).to(torch.float32)
            dilated = convolve(wanted[:, None], footprint)[:, 0]
        return torch.nonzero(dilated.flatten(1) > 0.5, as_tuple=True)

    @staticmethod
    def _rows(params, inclination, rows):
        """Per-galaxy parameters repeated for every rendered pixel (``rows``: its galaxy)."""
        b = inclination.shape[0]
        take = lambda v: v[rows] if torch.is_tensor(v) and v.shape[:1] == (b,) else v  # noqa: E731
        return {k: take(v) for k, v in params.items()}, inclination[rows]

    def _render_support(self, render, params, inclination, x, y, support, pad, kernels):
        """Maps ``(B, C, H, W)`` of ``render(params, inclination, x, y)``.

        With a ``support``, only the pixels it needs through each galaxy's beam
        ``kernels`` (None: no beam) are rendered, each as a one-pixel grid of its
        own (so galaxies with small masks cost little); the other pixels are 0.
        """
        if support is None:
            return torch.stack(render(params, inclination, x, y), 1)
        galaxy, pixel = self._support_pixels(support, pad, kernels)
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
        maps = self._render_support(draw, params, inclination, x, y, support, pad, kernels)
        if kernels is not None:
            maps = convolve(maps, kernels, crop=pad)
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
        ``"pa_offset"``. They are the exact derivatives of the rendered maps (of
        the quadrature sums, whose nodes move with the geometry; see
        ``galkin.decoder.derivatives``). The other arguments are those of
        :meth:`forward`.

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
            found, maps = render_derivatives(self, *args, r_max, geometry)
            names[:] = found
            return maps.unbind(1)

        maps = self._render_support(draw, params, inclination, x, y, support, pad, kernels)
        if geometry:
            maps = frame_columns(maps, names, x, y, pa_offset)
        if kernels is not None:
            maps = convolve(maps, kernels, crop=pad)
        p = len(names)
        m0, m0v = maps[:, 0], maps[:, 1]
        tiny = 1e-6 * m0.flatten(1).amax(1)[:, None, None] + 1e-30
        denominator = m0 + tiny
        m1 = m0v / denominator
        d0 = maps[:, 2 : 2 + p]
        d1 = (maps[:, 2 + p :] - m1[:, None] * d0) / denominator[:, None]
        return names, m0, m1, d0, d1


def _dilate(mask, r):
    """``(B, H, W)`` 0/1 ``mask`` dilated by a ``(2 r + 1)``-pixel box, same shape."""
    k = 2 * r + 1
    # box sums (differences of cumulative sums) along rows, then columns, each
    # window the k pixels centred on its own
    for axis, edges in ((-1, (r + 1, r)), (-2, (0, 0, r + 1, r))):
        total = torch.nn.functional.pad(mask, edges).cumsum(axis)
        n = total.shape[axis]
        mask = total.narrow(axis, k, n - k) - total.narrow(axis, 0, n - k)
    return mask
