"""Position-velocity diagrams along a fit's major and minor axes.

3D-Barolo's signature plot: the cube sliced along the fitted major axis (and
the minor axis) through the fitted centre, with the model's line-of-sight
rotation curve ``V_sys + V(|s|) sin i`` drawn over it. Where the curve follows
the ridge of the emission the fit describes the cube; a curve that misses the
terminal side or the inner rise shows at a glance.
"""

import numpy as np
from astropy import units as u

from .exceptions import GalkinError
from .geometry import rotation_to_disc
from .units import KM_S

__all__ = ["pv_slice", "plot_pv"]


def _velocity_axis(cube):
    """The cube's spectral axis in km/s (radio convention for frequency cubes)."""
    axis = cube.spectral_axis
    if axis.unit.is_equivalent(KM_S):
        return axis.to_value(KM_S)
    try:
        return cube.with_spectral_unit(KM_S, velocity_convention="radio").spectral_axis.to_value(
            KM_S
        )
    except Exception as exc:
        raise GalkinError(
            "the cube's spectral axis cannot be turned into velocities (no rest frequency?): "
            "convert it first with spectral_cube.SpectralCube.with_spectral_unit(u.km / u.s, "
            "velocity_convention='radio', rest_value=230.538 * u.GHz)."
        ) from exc


def pv_slice(result, cube, *, axis="major"):
    """The cube along the fitted major or minor axis through the fitted centre.

    Parameters
    ----------
    result : `~galkin.FitResult`
        A fit of ``cube`` (its maps on the cube's spatial grid).
    cube : `~spectral_cube.SpectralCube`
    axis : {"major", "minor"}, optional
        The major axis runs from the approaching (negative offsets) to the
        receding side; the minor axis is the major axis turned by +90 deg.

    Returns
    -------
    offset : `~astropy.units.Quantity`
        Offsets along the axis (arcsec, one per input pixel of the map).
    velocity : `~astropy.units.Quantity`
        The channels' velocities (km/s).
    data : `numpy.ndarray`
        ``(channels, offsets)``, the cube interpolated bilinearly along the line.
    """
    from scipy.ndimage import map_coordinates

    if axis not in ("major", "minor"):
        raise GalkinError(f'axis must be "major" or "minor"; got {axis!r}.')
    maps = result.prepared.maps
    if tuple(cube.shape[1:]) != tuple(maps.shape):
        raise GalkinError(
            f"the cube's spatial shape {tuple(cube.shape[1:])} differs from the fitted maps' "
            f"{tuple(maps.shape)}: pass the cube that was fitted (before any region cut)."
        )
    scales = result.prepared.scales
    pixel = maps.pixel_scale.to_value(u.arcsec)
    pa = result.value("position_angle").to_value(u.deg)
    to_sky = np.linalg.inv(rotation_to_disc(pa))  # (major, minor) -> (east, north)
    direction = to_sky @ (np.array([1.0, 0.0]) if axis == "major" else np.array([0.0, 1.0]))
    step = scales.sky_to_pixel @ direction * pixel  # pixels per pixel-size step along the axis
    half = int(np.ceil(0.5 * np.hypot(*maps.shape)))
    s = np.arange(-half, half + 1)
    x0, y0 = result.center
    xs, ys = x0 + s * step[0], y0 + s * step[1]
    inside = (xs >= 0) & (xs <= maps.shape[1] - 1) & (ys >= 0) & (ys <= maps.shape[0] - 1)
    data = np.asarray(cube.filled_data[:].value, dtype=float)
    data = np.nan_to_num(data)
    n_chan = data.shape[0]
    rows = np.repeat(np.arange(n_chan)[:, None], inside.sum(), 1)
    coords = np.stack(
        [rows, np.broadcast_to(ys[inside], rows.shape), np.broadcast_to(xs[inside], rows.shape)]
    )
    slab = map_coordinates(data, coords, order=1)
    return s[inside] * pixel * u.arcsec, _velocity_axis(cube) * KM_S, slab


def plot_pv(result, cube, path=None, *, figsize=(10, 4)):
    """Position-velocity diagrams along the major and minor axes, with the model.

    On the major axis the model is ``V_sys + sign(s) V(|s|) sin i`` (the fitted
    rotation curve, `FitResult.velocity_at`) with its 1-sigma band; on the minor
    axis a disc in pure rotation shows only ``V_sys``. A ring fit also marks its
    rings.

    Parameters
    ----------
    result : `~galkin.FitResult`
    cube : `~spectral_cube.SpectralCube`
        The cube that was fitted.
    path : str or `pathlib.Path`, optional
        Save the figure here.

    Returns
    -------
    `matplotlib.figure.Figure`
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=True)
    vsys = result.value("systemic_velocity").to_value(KM_S)
    sin_i = np.sin(result.value("inclination").to_value(u.rad))
    for ax, axis in zip(axes, ("major", "minor"), strict=True):
        offset, velocity, slab = pv_slice(result, cube, axis=axis)
        s, v = offset.to_value(u.arcsec), velocity.to_value(KM_S)
        order = np.argsort(v)
        top = np.nanmax(slab) if np.isfinite(slab).any() else 1.0
        ax.pcolormesh(s, v[order], slab[order], cmap="Greys", vmin=0, vmax=top, shading="auto")
        ax.contour(
            s,
            v[order],
            slab[order],
            levels=top * np.array([0.1, 0.3, 0.6]),
            colors="k",
            linewidths=0.5,
        )
        if axis == "major":
            r = np.linspace(0, np.abs(s).max(), 200)
            model, err = result.velocity_at(r * u.arcsec)
            model, err = model.to_value(KM_S) * sin_i, err.to_value(KM_S) * sin_i
            for sign in (1, -1):
                ax.plot(sign * r, vsys + sign * model, "r-", lw=1.2)
                ax.fill_between(
                    sign * r,
                    vsys + sign * (model - err),
                    vsys + sign * (model + err),
                    color="r",
                    alpha=0.25,
                    lw=0,
                )
            if getattr(result.velocity, "tabulated", False):
                rings = result.rotation_curve()
                rr = rings["radius"].to_value(u.arcsec)
                vr = rings["v_rot"].to_value(KM_S) * sin_i
                ax.plot(np.r_[rr, -rr], np.r_[vsys + vr, vsys - vr], "o", color="r", ms=3)
        else:
            ax.axhline(vsys, color="r", lw=1.2)
        ax.set_xlabel(f"offset along the {axis} axis [arcsec]")
        angle = result.value("position_angle").to_value(u.deg) + (90 if axis == "minor" else 0)
        ax.set_title(f"{axis} axis (PA {angle % 360:.0f} deg)", fontsize=9)
    axes[0].set_ylabel("velocity [km/s]")
    fig.suptitle(f"{result.name}: position-velocity diagrams, model in red", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
