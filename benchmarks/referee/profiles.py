"""The true rotation curves and gas surface densities of the referee's galaxies.

A profile is a plain dict, ``{"kind": name, <parameter>: value, ...}``, so that it
can be written to the truth JSON and read back; radii are in arcsec, velocities in
km/s. These functions are the only place the truth is evaluated: the cube
generator hands their values to KinMS, and the metrics evaluate the same
functions at the radii where the fits are compared.

Velocity kinds
    ``arctan``: ``V(R) = (2 v_max / pi) arctan(R / r_turn)`` (thesis Eq. 3.4; the
    curve galkin's network is trained on).
    ``peaked``: a curve that rises, peaks and declines: a Hernquist bulge,
    ``V_b^2 = v_bulge^2 4 a R / (R + a)^2`` (peak ``v_bulge`` at ``R = a``), plus an
    outer arctan disc ``v_outer (2 / pi) arctan(R / r_outer)``, added in
    quadrature.
Surface-density kinds (arbitrary normalisation, per unit area)
    ``exponential``: ``exp(-R / r_scale)``.
    ``rings``: Gaussian rings ``sum_k A_k exp(-(R - R_k)^2 / 2 w_k^2)`` on a faint
    exponential floor, times ``1 - exp(-(R / r_hole)^2)`` (a central hole; none
    when ``r_hole`` is 0).

Either kind takes an optional ``r_edge``: the gas stops there (a sharp outer
edge, as HI discs that end where the gas turns molecular or ionised); absent or 0,
the disc goes on until its exponential envelope is negligible.
"""

import numpy as np

__all__ = [
    "VELOCITY_KINDS",
    "DENSITY_KINDS",
    "rotation_velocity",
    "surface_density",
    "peak_velocity",
    "density_extent",
]

VELOCITY_KINDS = ("arctan", "peaked")
DENSITY_KINDS = ("exponential", "rings")


def rotation_velocity(profile, radius):
    """Circular velocity (km/s) of ``profile`` at ``radius`` (arcsec, array-like)."""
    r = np.abs(np.asarray(radius, dtype=float))
    kind = profile["kind"]
    if kind == "arctan":
        return (2.0 * profile["v_max"] / np.pi) * np.arctan(r / profile["r_turn"])
    if kind == "peaked":
        a = profile["a_bulge"]
        bulge2 = profile["v_bulge"] ** 2 * 4.0 * a * r / (r + a) ** 2
        disc = profile["v_outer"] * (2.0 / np.pi) * np.arctan(r / profile["r_outer"])
        return np.sqrt(bulge2 + disc**2)
    raise ValueError(f"unknown velocity profile kind {kind!r}; known: {VELOCITY_KINDS}")


def surface_density(profile, radius):
    """Gas surface density (arbitrary units) of ``profile`` at ``radius`` (arcsec)."""
    r = np.abs(np.asarray(radius, dtype=float))
    kind = profile["kind"]
    if kind == "exponential":
        sigma = np.exp(-r / profile["r_scale"])
    elif kind == "rings":
        sigma = profile["floor"] * np.exp(-r / profile["r_scale"])
        for centre, width, amp in zip(
            profile["ring_radius"], profile["ring_width"], profile["ring_amplitude"], strict=True
        ):
            sigma = sigma + amp * np.exp(-0.5 * ((r - centre) / width) ** 2)
        if profile["r_hole"] > 0:
            sigma = sigma * (1.0 - np.exp(-((r / profile["r_hole"]) ** 2)))
    else:
        raise ValueError(f"unknown surface-density kind {kind!r}; known: {DENSITY_KINDS}")
    if profile.get("r_edge", 0) > 0:
        sigma = np.where(r <= profile["r_edge"], sigma, 0.0)
    return sigma


def density_extent(profile):
    """Radius (arcsec) beyond which ``profile`` holds a negligible part of the gas.

    ``r_edge`` when the disc has one; otherwise 12 ``r_scale`` (the exponential
    envelope of both kinds leaves 1e-4 of an exponential disc's gas beyond it) or
    six widths past the outermost ring, whichever is further.
    """
    if profile.get("r_edge", 0) > 0:
        return float(profile["r_edge"])
    extent = 12.0 * profile["r_scale"]
    if profile["kind"] == "rings":
        rings = np.asarray(profile["ring_radius"]) + 6.0 * np.asarray(profile["ring_width"])
        extent = max(extent, float(rings.max()))
    return float(extent)


def peak_velocity(profile, r_max):
    """The true ``V_max`` (km/s) a fit is compared with.

    For ``arctan`` it is the asymptote ``v_max`` -- the parameter galkin's arctan
    curve reports -- whether or not the data reach it. For other kinds it is the
    largest circular velocity within ``r_max`` (arcsec).
    """
    if profile["kind"] == "arctan":
        return float(profile["v_max"])
    r = np.linspace(0.0, r_max, 2001)
    return float(np.max(rotation_velocity(profile, r)))
