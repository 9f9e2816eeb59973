"""The differentiable decoder against analytic limits and brute-force integration."""

import numpy as np
import pytest
import torch

import galkin
from galkin.beam import beam_kernels, convolve
from galkin.decoder import DiscDecoder

SIZE = 64


def _grid(b, size=SIZE, dtype=torch.float64):
    step = 1.0 / size
    c = (size - 1) / 2
    origin = torch.tensor([[-c * step, -c * step]] * b, dtype=dtype)
    steps = (torch.eye(2, dtype=dtype) * step).expand(b, 2, 2)
    return origin, steps


def _params(b, dtype=torch.float64, grad=False, **values):
    base = dict(r_scale=0.15, v_max=1.0, r_turn=0.05)
    base.update(values)
    return {k: torch.full((b,), v, dtype=dtype, requires_grad=grad) for k, v in base.items()}


def _one(inc_deg):
    """Inclination, origin and steps of a single galaxy on the standard grid."""
    inc = torch.tensor([np.radians(inc_deg)], dtype=torch.float64)
    return (inc, *_grid(1))


@pytest.fixture
def decoder():
    exp = galkin.get_profile("exponential")()
    atan = galkin.get_profile("arctan")()
    return lambda **kw: DiscDecoder(exp, atan, **kw).double()


def _render(dec, inc_deg, **kw):
    inc = torch.tensor(np.radians(np.atleast_1d(inc_deg)), dtype=torch.float64)
    b = inc.shape[0]
    origin, steps = _grid(b)
    with torch.no_grad():
        m0, m1 = dec(_params(b), inc, origin, steps, (SIZE, SIZE), **kw)
    return m0.numpy(), m1.numpy()


def test_thin_disc_matches_analytic_projection(decoder):
    """With a tiny scale height the maps are Sigma(R)/cos i and V(R) cos(phi) sin i."""
    m0, m1 = _render(decoder(scale_height=1e-4, nodes=16), 60.0)
    g = (np.arange(SIZE) - (SIZE - 1) / 2) / SIZE
    y, x = np.meshgrid(g, g, indexing="ij")
    cos_i = np.cos(np.radians(60))
    radius = np.hypot(x, y / cos_i)
    expect0 = np.exp(-radius / 0.15) / cos_i
    expect1 = 2 / np.pi * np.arctan(radius / 0.05) * x / np.maximum(radius, 1e-12)
    assert np.abs(m0[0] - expect0).max() / expect0.max() < 2e-3
    assert np.abs(m1[0] - expect1).max() < 2e-3


@pytest.mark.parametrize("inc", [20.0, 45.0, 70.0, 85.0])
def test_quadrature_converges(decoder, inc):
    """The default quadrature agrees with a 40-node-per-segment integration."""
    fast0, fast1 = _render(decoder(), inc)
    ref0, ref1 = _render(decoder(nodes=40), inc)
    tol = 0.02 if inc > 80 else 2e-3
    assert np.abs(fast0 - ref0).max() / ref0.max() < tol
    bright = ref0 > 1e-2 * ref0.max()
    assert np.abs(fast1 - ref1)[bright].max() < tol


def test_receding_side_and_symmetry(decoder):
    """+x recedes; the maps are mirror-symmetric about the major axis."""
    m0, m1 = _render(decoder(), 50.0)
    assert m1[0, SIZE // 2, -5] > 0.5 and m1[0, SIZE // 2, 4] < -0.5
    np.testing.assert_allclose(m0[0], m0[0][::-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m1[0], m1[0][::-1], atol=1e-10)
    np.testing.assert_allclose(m1[0], -m1[0][:, ::-1], atol=1e-10)


def test_thickness_broadens_edge_on_disc(decoder):
    """An edge-on disc's moment-0 width along the minor axis grows with the scale height."""
    thin, _ = _render(decoder(scale_height=0.01), 90.0)
    thick, _ = _render(decoder(scale_height=0.04), 90.0)
    col = SIZE // 2

    def width(m):
        prof = m[0, :, col]
        y = np.arange(SIZE) - (SIZE - 1) / 2
        return np.sqrt((prof * y**2).sum() / prof.sum())

    assert width(thick) > 2.5 * width(thin)


def test_pa_offset_rotates_the_model(decoder):
    dec = decoder()
    inc = torch.tensor([np.radians(60.0)] * 2, dtype=torch.float64)
    origin, steps = _grid(2)
    off = torch.tensor([0.0, np.radians(90.0)], dtype=torch.float64)
    with torch.no_grad():
        m0, m1 = dec(_params(2), inc, origin, steps, (SIZE, SIZE), pa_offset=off)
    # Rotating by +90 deg turns +x (receding) into +y.
    np.testing.assert_allclose(m1[1].numpy(), m1[0].numpy()[::-1].T, atol=1e-6)
    assert m1[1, -5, SIZE // 2] > 0.5


def test_beam_smearing_is_exact_for_moments(decoder):
    """M1 of the smeared model equals conv(M0*M1)/conv(M0) of the unsmeared one."""
    dec = decoder()
    inc, origin, steps = _one(55.0)
    beams = torch.tensor([[3.0 / SIZE, 1.5 / SIZE, 0.4]], dtype=torch.float64)
    with torch.no_grad():
        s0, s1 = dec(_params(1), inc, origin, steps, (SIZE, SIZE), beams=beams)
        # Build the same thing by hand on a padded grid.
        k = beam_kernels(beams, steps)
        pad = k.shape[-1] // 2
        big = SIZE + 2 * pad
        o2 = origin - pad / SIZE
        u0, u1 = dec(_params(1), inc, o2, steps, (big, big))
        c = convolve(torch.stack([u0, u0 * u1], 1), k)[:, :, pad:-pad, pad:-pad]
    np.testing.assert_allclose(s0.numpy(), c[:, 0].numpy(), rtol=1e-3)
    # (the padded render integrates over a slightly longer line of sight: 1e-3 level)
    np.testing.assert_allclose(s1.numpy(), (c[:, 1] / c[:, 0]).numpy(), atol=1e-3)
    # Smearing lowers the inner velocity gradient.
    _, raw1 = _render(dec, 55.0)
    assert abs(s1[0, SIZE // 2, SIZE // 2 + 2]) < abs(raw1[0, SIZE // 2, SIZE // 2 + 2])


def test_beam_kernel_orientation_and_normalisation():
    steps = torch.eye(2, dtype=torch.float64)[None] / SIZE
    beams = torch.tensor([[4.0 / SIZE, 1.0 / SIZE, 0.0]], dtype=torch.float64)
    k = beam_kernels(beams, steps)[0, 0].numpy()
    assert k.sum() == pytest.approx(1.0)
    yy, xx = np.indices(k.shape) - k.shape[0] // 2
    # Major axis along +x of the frame at angle 0, along +y at 90 deg.
    assert (k * xx**2).sum() / (k * yy**2).sum() == pytest.approx(16.0, rel=0.05)
    k90 = beam_kernels(beams + torch.tensor([0, 0, np.pi / 2]), steps)[0, 0].numpy()
    np.testing.assert_allclose(k90, k.T, rtol=1e-5, atol=1e-9)


def test_gradients_reach_every_parameter(decoder):
    dec = decoder()
    origin, steps = _grid(2)
    params = _params(2, grad=True)
    inc = torch.tensor([0.7, 1.2], dtype=torch.float64, requires_grad=True)
    off = torch.tensor([0.05, -0.1], dtype=torch.float64, requires_grad=True)
    beams = torch.tensor([[2.0 / SIZE, 2.0 / SIZE, 0.0]] * 2, dtype=torch.float64)
    m0, m1 = dec(params, inc, origin, steps, (SIZE, SIZE), pa_offset=off, beams=beams)
    target0, target1 = torch.rand_like(m0), torch.rand_like(m1)
    loss = ((m0 - target0) ** 2).mean() + ((m1 - target1) ** 2).mean()
    loss.backward()
    for name, tensor in [*params.items(), ("inclination", inc), ("pa_offset", off)]:
        assert tensor.grad is not None, name
        assert torch.isfinite(tensor.grad).all(), name
        assert (tensor.grad.abs() > 0).all(), name


def test_cost_is_quadratic_in_map_size(decoder):
    """The decoder never builds an N^3 cube: its largest tensor scales as N^2."""
    dec = decoder()
    sizes = []
    for n in (32, 64):
        step = 1.0 / n
        origin = torch.tensor([[-(n - 1) / 2 * step] * 2], dtype=torch.float64)
        steps = torch.eye(2, dtype=torch.float64)[None] * step
        x, y = dec._grid(origin, steps, (n, n), 0)
        seen = []
        orig_eval = dec.intensity.evaluate

        def spy(radius, _seen=seen, _orig=orig_eval, **kw):
            _seen.append(radius.numel())
            return _orig(radius, **kw)

        dec.intensity.evaluate = spy
        with torch.no_grad():
            dec(_params(1), torch.tensor([1.0], dtype=torch.float64), origin, steps, (n, n))
        dec.intensity.evaluate = orig_eval
        sizes.append(seen[0])
    assert sizes[1] == 4 * sizes[0]


def test_model_dispersion_of_a_solid_body_disc(decoder):
    """A linear velocity field v = g x smeared by a Gaussian beam of sigma s has dispersion g s."""
    dec = decoder(scale_height=1e-4)
    inc, origin, steps = _one(60.0)
    sigma_beam = 2.5 / SIZE
    beams = torch.tensor([[sigma_beam, sigma_beam, 0.0]], dtype=torch.float64)
    # r_turn >> field: V(R) = (2 v_max / pi) R / r_turn, so v_los = g x, g = 2 v_max / (pi r_turn)
    params = _params(1, r_scale=20.0, r_turn=50.0, v_max=100.0)
    with torch.no_grad():
        _, _, sigma = dec(params, inc, origin, steps, (SIZE, SIZE), beams=beams, dispersion=True)
        _, _, cold = dec(params, inc, origin, steps, (SIZE, SIZE), dispersion=True)
    g = 2 * 100.0 / (np.pi * 50.0)
    centre = sigma[0, SIZE // 2 - 8 : SIZE // 2 + 8, SIZE // 2 - 8 : SIZE // 2 + 8].numpy()
    np.testing.assert_allclose(centre, g * sigma_beam, rtol=0.02)
    # without a beam a thin disc has no rotational blending at all
    assert cold.abs().max() < 1e-3 * g * sigma_beam


def test_model_dispersion_peaks_where_the_rotation_curve_is_steep(decoder):
    """For an arctan curve the beam-smearing dispersion is largest at the centre."""
    dec = decoder()
    inc, origin, steps = _one(60.0)
    beams = torch.tensor([[2.0 / SIZE, 2.0 / SIZE, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        args = (_params(1), inc, origin, steps, (SIZE, SIZE))
        m0, m1, sigma = dec(*args, beams=beams, dispersion=True)
        s0, s1 = dec(*args, beams=beams)
    np.testing.assert_allclose(m0.numpy(), s0.numpy())
    np.testing.assert_allclose(m1.numpy(), s1.numpy())
    c = SIZE // 2
    assert sigma[0, c, c] > 3 * sigma[0, c, c + 20]
    assert float(sigma.max()) < 1.0  # below the rotation amplitude


def _spread(profile, fractions):
    """Each parameter of ``profile`` at ``fractions`` of its range, one per galaxy."""
    return {
        p.name: [p.bounds[0] + f * (p.bounds[1] - p.bounds[0]) for f in fractions]
        for p in profile.parameters
    }


@pytest.mark.parametrize(
    "intensity, velocity",
    [
        ("exponential", "arctan"),
        ("rings", "arctan"),
        ("sersic", "courteau"),
        ("truncated_gaussian", "polyex"),
    ],
)
def test_geometry_derivatives_match_central_differences(intensity, velocity):
    """Every derivative of one pass (``geometry=True``) is that of the maps themselves.

    They are the derivatives of the quadrature sums themselves (the integrand at
    each node and the nodes' motion), so they equal central differences of the
    rendered maps at any number of nodes: profile parameters (autograd or the
    profile's own Jacobian), inclination, thickness, centre and position angle,
    through an elliptical beam and a support mask, for every built-in profile.
    The step is small because ring profiles have kinks that a larger one
    straddles. Moment 1 differs by the decoder's 1e-6 floor under moment 0,
    which the derivatives hold fixed.
    """
    from galkin_plugins.profiles.rings import RingsIntensityProfile

    if intensity == "rings":
        ip = RingsIntensityProfile(knots=(0.08, 0.16, 0.24, 0.32, 0.4))
        # distinct values: the profile is normalised by the largest
        values = {n: [1.0 - 0.1 * k] * 3 for k, n in enumerate(ip.parameter_names())}
    elif intensity == "exponential":
        ip = galkin.get_profile("exponential")()
        values = {"r_scale": [0.1, 0.15, 0.08]}
    else:
        ip = galkin.get_profile(intensity)()
        values = _spread(ip, (0.2, 0.5, 0.35))
    vp = galkin.get_profile(velocity)()
    if velocity == "arctan":
        values |= {"v_max": [1.0, 0.8, 1.2], "r_turn": [0.05, 0.1, 0.03]}
    else:
        values |= _spread(vp, (0.3, 0.6, 0.45))
    dec = DiscDecoder(ip, vp, nodes=5).double()
    b, size = 3, 40
    origin, steps = _grid(b, size)
    origin = origin + torch.tensor([0.02, -0.01], dtype=torch.float64)
    values["scale_height"] = [0.01, 0.03, 0.005]
    params = {n: torch.tensor(v, dtype=torch.float64) for n, v in values.items()}
    inc = torch.tensor(np.radians([35.0, 60.0, 78.0]), dtype=torch.float64)
    pa = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    beams = torch.tensor([[2.5 / size, 1.5 / size, 0.4]] * b, dtype=torch.float64)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    support = torch.tensor(xx**2 + yy**2 < 15**2).expand(b, size, size)
    kw = dict(pa_offset=pa, beams=beams, support=support)
    names, m0, m1, d0, d1 = dec.derivatives(
        params, inc, origin, steps, (size, size), geometry=True, **kw
    )
    assert set(names) == set(params) | {"inclination", "origin_x", "origin_y", "pa_offset"}
    bright = support & (m0 > 1e-2 * m0.amax((1, 2), keepdim=True))

    def moved(name, eps):
        p, i, o, a = dict(params), inc, origin.clone(), pa
        if name in p:
            p[name] = p[name] + eps
        elif name == "inclination":
            i = inc + eps
        elif name == "pa_offset":
            a = pa + eps
        else:
            o[:, "xy".index(name[-1])] += eps
        return dec(p, i, o, steps, (size, size), pa_offset=a, beams=beams, support=support)

    eps = 1e-7
    for k, name in enumerate(names):
        (u0, u1), (l0, l1) = moved(name, eps), moved(name, -eps)
        for mine, fd in ((d0[:, k], (u0 - l0) / (2 * eps)), (d1[:, k], (u1 - l1) / (2 * eps))):
            scale = float(fd[bright].abs().max())
            error = float((mine - fd)[bright].abs().max())
            assert error <= 3e-3 * scale, (name, error, scale)


def test_support_renders_only_what_the_masked_pixels_need():
    """With ``support``, maps and derivatives equal the full render inside the support."""
    from galkin_plugins.profiles.rings import RingsIntensityProfile, RingsVelocityProfile

    knots = (0.08, 0.16, 0.24, 0.32, 0.4)
    ip, vp = RingsIntensityProfile(knots=knots), RingsVelocityProfile(knots=knots)
    dec = DiscDecoder(ip, vp).double()
    b = 3
    rng = np.random.default_rng(1)
    names = list(ip.parameter_names()) + list(vp.parameter_names())
    params = {n: torch.tensor(rng.uniform(0.2, 1.0, b)) for n in names}
    inc = torch.tensor(np.radians([30.0, 55.0, 80.0]), dtype=torch.float64)
    origin, steps = _grid(b)
    # beams of different sizes: each galaxy renders what its own beam reaches
    beams = torch.tensor(
        [
            [5.0 / SIZE, 3.0 / SIZE, 0.4],
            [1.2 / SIZE, 1.0 / SIZE, 0.0],
            [2.0 / SIZE, 1.5 / SIZE, 1.0],
        ],
        dtype=torch.float64,
    )
    yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    support = torch.stack(  # masks of different sizes and shapes, one off-centre
        [
            torch.tensor(xx**2 + yy**2 < 10**2),
            torch.tensor((xx / 25) ** 2 + (yy / 8) ** 2 < 1),
            torch.tensor((abs(xx - 12) < 6) & (abs(yy) < 20)),
        ]
    )
    args = (params, inc, origin, steps, (SIZE, SIZE))
    with torch.no_grad():
        full = dec(*args, beams=beams)
        part = dec(*args, beams=beams, support=support)
        found, *full_d = dec.derivatives(*args, beams=beams)
        _, *part_d = dec.derivatives(*args, beams=beams, support=support)
    assert found == names
    for k, (f, p) in enumerate(zip(full + tuple(full_d), part + tuple(part_d), strict=True)):
        inside = support if f.ndim == 3 else support[:, None].expand_as(f)
        # moment 0 exactly; moment 1 divides by M0 + 1e-6 max(M0), and the maximum of
        # the rendered pixels can differ: 1e-6 of the map's peak over M0
        tol = dict(rtol=1e-9, atol=1e-12) if k % 2 == 0 else dict(rtol=0, atol=1e-3)
        np.testing.assert_allclose(p[inside].numpy(), f[inside].numpy(), **tol)
    # a pixel of the disc 28 px from the third mask, beyond its beam's 8 px (the
    # first galaxy's reaches 20), is not rendered
    assert float(full[0][2, 32, 10]) > 1e-3 and abs(float(part[0][2, 32, 10])) < 1e-12  # FFT
