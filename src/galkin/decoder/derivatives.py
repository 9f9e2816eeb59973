"""The decoder's derivatives: exact derivatives of its quadrature sums.

Both moment maps are line-of-sight integrals of the profiles, evaluated by
Gauss-Legendre quadrature on three segments whose edges depend on the geometry
(``DiscDecoder._line_of_sight``). Their
derivatives with respect to every parameter come from one pass at the same
nodes: the integrand's derivative at each node plus the motion of the nodes
and their weights as the segments' edges move (so they are those of the
rendered maps, not of the exact integrals, and agree with finite differences of
the maps to rounding). :meth:`galkin.decoder.DiscDecoder.derivatives` is the
entry point.
"""

import torch

__all__ = []


def edge_rates(y, ci, si, zmax, r_max, bounds, kinks, edges):
    """How the four edges of a line of sight's three segments move with the geometry.

    ``bounds``: the low and high ends of the slab ``|z_d| < zmax`` and of
    ``|y_d| < r_max`` along the line of sight; ``kinks``: the depths where
    ``z_d = 0`` and ``y_d = 0`` before they are clipped to the window;
    ``edges``: ``(lo, b1, b2, hi)`` as ``DiscDecoder._line_of_sight`` makes
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


def render_derivatives(decoder, params, inclination, x, y, r_max, geometry=False):
    """Unconvolved M0, M0 M1 and their derivatives.

    Without ``geometry``, with respect to the parameters of the profiles that
    give a `~galkin.profiles.DecoderProfile.jacobian`; with it, with respect to
    every profile parameter (by automatic differentiation of the profile at
    each node where it gives none), ``"inclination"``, ``"scale_height"`` and
    the frame coordinates ``"x"`` and ``"y"`` of the pixel (see
    `~galkin.decoder.DiscDecoder.derivatives`). These are the derivatives of the
    quadrature sums themselves: the integrand's at each node, plus the moving
    nodes and weights (the segments' edges move with the geometry).

    Returns ``names`` and the maps ``(B, 2 + 2 P, H, W)``: M0, M0 M1, then
    dM0 and d(M0 M1) for each of the ``P`` parameters in ``names``.
    """
    radius, cosine, weight, (yd, zd, h, density, rates, angles) = decoder._line_of_sight(
        params, inclination, x, y, r_max, nodes=True
    )
    ip, vp = decoder._profile_params(params, radius)
    sigma, dsigma, jac0 = _profile_derivatives(decoder.intensity, radius, ip, geometry)
    speed, dspeed, jac1 = _profile_derivatives(decoder.velocity, radius, vp, geometry)
    f0 = sigma * weight
    u = speed * cosine  # line-of-sight velocity
    f1 = f0 * u
    names, d0, d1 = [], [], []

    def add(name, g0, g1):
        names.append(name)
        d0.append(g0)
        d1.append(g1)

    if jac0 is not None:
        for k, name in enumerate(decoder.intensity.parameter_names()):
            g0 = jac0[..., k] * weight
            add(name, g0.sum(-1), (g0 * u).sum(-1))
    if jac1 is not None:
        for k, name in enumerate(decoder.velocity.parameter_names()):
            add(name, torch.zeros_like(f0[..., 0]), (f0 * jac1[..., k] * cosine).sum(-1))
    if geometry:
        profiles = (sigma, dsigma, speed, dspeed)
        nodes = (radius, cosine, weight, yd, zd, h, density, rates, angles)
        quadrature = (decoder._t.to(f0.dtype), decoder._w.to(f0.dtype))
        _geometry_columns(add, (f0, f1, u), profiles, nodes, quadrature)
    maps = [f0.sum(-1), f1.sum(-1)]
    if not names:
        return names, torch.stack(maps, 1)
    return names, torch.stack(maps + d0 + d1, 1)


def _geometry_columns(add, model, profiles, nodes, quadrature):
    """The derivatives of both quadrature sums with respect to the pixel's frame
    ``x`` and ``y``, the inclination and the scale height (see
    :func:`render_derivatives`; each is passed to ``add(name, dM0, d(M0 M1))``).

    At a node, with rho = dR/dtheta and gamma = dln(g)/dtheta of the vertical
    density g, the integrands f0 = Sigma(R) g w and f1 = f0 V(R) x / R change by
    ``df0 = Sigma' g w rho + f0 gamma`` and ``df1 = df0 u + (f0 V' c - f1 / R)
    rho`` (plus ``f0 V / R - ...`` for x, which also enters c = x / R). The
    nodes move too: a node's depth ``s`` along the line of sight by ``da + tau
    (db - da)`` and its weight by ``(db - da) w / 2``, where ``a, b`` are its
    segment's edges (:func:`edge_rates`); ``quadrature``: the Gauss-Legendre
    nodes on [-1, 1] and their weights. Since ``rho`` and ``gamma`` are
    per-pixel constants times a few node quantities, every sum over nodes is
    taken once, per segment where the motion needs it.
    """
    f0, f1, u = model
    sigma, dsigma, speed, dspeed = profiles
    radius, cosine, weight, yd, zd, h, density, rates, (ci, si) = nodes
    t, w = quadrature
    n = t.numel()
    tau = 0.5 * (t + 1.0)
    # per segment: sums over its nodes, plain, times tau, times half the weight
    weights = torch.stack([torch.ones_like(tau), tau, 0.5 * w], -1)

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


def frame_columns(maps, names, x, y, pa_offset):
    """Replace the derivatives with respect to a pixel's frame ``x, y`` by those with
    respect to ``origin_x``, ``origin_y`` and ``pa_offset`` (``names`` in place).

    ``maps`` ``(B, 2 + 2 P, H, W)`` from :func:`render_derivatives` on
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
