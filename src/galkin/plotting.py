"""The fit figure: data, model and residual maps, rotation curve and intensity profile."""

import numpy as np
from astropy import units as u

from .units import KM_S

__all__ = ["plot_fit"]


def _panel(ax, image, mask, title, cmap, vmin=None, vmax=None, label=""):
    shown = np.where(mask, image, np.nan)
    im = ax.imshow(shown, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02).set_label(label, fontsize=8)


def plot_fit(result, path=None, *, figsize=(11, 10)):
    """Draw a `~galkin.result.FitResult` (thesis Fig. 3.5 layout).

    Maps are shown on the network grid: centred, with the receding major axis
    along +x. The bottom row shows the rotation curve (with its Monte-Carlo
    1-sigma band and the de-projected moment-1 data along the major axis) and the
    intensity profile.
    """
    import matplotlib.pyplot as plt

    prep = result.prepared
    sc = prep.scales
    mask = prep.mask > 0
    d0 = prep.moment0 * sc.flux
    m0 = result.output.moment0 * sc.flux
    d1 = prep.moment1 * sc.velocity + sc.systemic_velocity
    m1 = result.output.moment1 * sc.velocity + sc.systemic_velocity
    unit0 = (
        sc.flux_unit.to_string("latex_inline") if sc.flux_unit != u.dimensionless_unscaled else ""
    )

    fig, axes = plt.subplots(3, 3, figsize=figsize)
    vmax0 = np.nanmax(np.where(mask, d0, np.nan))
    _panel(axes[0, 0], d0, mask, "moment 0: data", "viridis", 0, vmax0, unit0)
    _panel(axes[0, 1], m0, mask, "moment 0: model", "viridis", 0, vmax0, unit0)
    r0 = d0 - m0
    lim0 = np.nanmax(np.abs(np.where(mask, r0, np.nan)))
    _panel(axes[0, 2], r0, mask, "moment 0: residual", "RdBu_r", -lim0, lim0, unit0)
    lim1 = np.nanmax(np.abs(np.where(mask, d1 - sc.systemic_velocity, np.nan)))
    vs = sc.systemic_velocity
    _panel(axes[1, 0], d1, mask, "moment 1: data", "RdBu_r", vs - lim1, vs + lim1, "km/s")
    _panel(axes[1, 1], m1, mask, "moment 1: model", "RdBu_r", vs - lim1, vs + lim1, "km/s")
    r1 = d1 - m1
    lim_r = np.nanmax(np.abs(np.where(mask, r1, np.nan)))
    _panel(axes[1, 2], r1, mask, "moment 1: residual", "RdBu_r", -lim_r, lim_r, "km/s")

    # Rotation curve, with the data de-projected along the major axis.
    size = sc.size
    radius = (np.arange(size) - (size - 1) / 2) / size * sc.field
    row = size // 2
    inc = result.value("inclination")
    ax = axes[2, 0]
    r_plot = np.linspace(0, sc.field / 2, 100) * u.arcsec
    v_mean, v_std = result.velocity_at(r_plot)
    ax.fill_between(r_plot.value, (v_mean - v_std).value, (v_mean + v_std).value, alpha=0.3)
    ax.plot(r_plot.value, v_mean.to_value(KM_S), label=f"model V(R) ({result.velocity.name})")
    if getattr(result.velocity, "tabulated", False):
        rings = result.rotation_curve()
        ax.errorbar(
            rings["radius"].to_value(u.arcsec),
            rings["v_rot"].to_value(KM_S),
            rings["v_rot_err"].to_value(KM_S),
            fmt="o",
            ms=3,
            color="C0",
            label="rings",
        )
    good = mask[row]
    dv = (d1[row] - result.value("systemic_velocity").to_value(KM_S)) / np.sin(inc)
    ax.plot(
        np.abs(radius[good]), np.sign(radius[good]) * dv[good], ".", ms=3, label="data (major axis)"
    )
    ax.set_xlabel("R [arcsec]")
    ax.set_ylabel("V [km/s]")
    ax.legend(fontsize=8)
    ax.set_title("rotation curve", fontsize=9)

    ax = axes[2, 1]
    prof = d0[row] / sc.flux
    ax.plot(np.abs(radius[good]), prof[good], ".", ms=3, label="data (major axis)")
    ax.plot(np.abs(radius[good]), (m0[row] / sc.flux)[good], "-", lw=1, label="model")
    ax.set_yscale("log")
    ax.set_xlabel("R [arcsec]")
    ax.set_ylabel("normalised moment 0")
    ax.legend(fontsize=8)
    ax.set_title(f"intensity ({result.intensity.name})", fontsize=9)

    ax = axes[2, 2]
    ax.axis("off")
    lines = [f"{result.name}  ({result.model}, {result.mode})"]
    for name in result.parameter_names:
        v, e = result.value(name), result.error(name)
        lines.append(f"{name:>17s} = {v.value:9.3f} ± {e.value:.3f} {v.unit}")
    lines.append(f"{'loss':>17s} = {result.loss:.2e}")
    ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=7.5)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
