"""Figures of the Tully-Fisher relation (thesis Figs. 4.2-4.4) and its residuals.

They live with the Tully-Fisher plugin rather than in ``galkin.plotting``: they
draw a :class:`~galkin_plugins.science.TullyFisherFit`, which the core does not
know about.  Artists carry a ``gid`` (``"tfr-fit"``, ``"tfr-band-1sigma"``,
``"tfr-clipped"``, ``"literature:<reference>"``...) so that they can be found
and restyled.
"""

import numpy as np

from galkin.exceptions import GalkinError

from .literature import LITERATURE_FITS, LITERATURE_PIVOT

__all__ = ["plot_tully_fisher", "plot_tully_fisher_residuals"]

_FIT_COLOUR = "tab:green"
_LIT_COLOURS = ("tab:purple", "tab:orange", "tab:blue", "tab:brown")


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def _points(ax, fit, xs, ys, xerr):
    used = fit.fitted & ~fit.outliers
    ax.errorbar(
        xs[used],
        ys[used],
        xerr=None if xerr is None else xerr[used],
        yerr=fit.y_err[used],
        fmt="o",
        ms=3,
        color="0.3",
        ecolor="0.75",
        elinewidth=0.6,
        label=f"fitted ({fit.n_used})",
        gid="tfr-points",
    )
    if fit.n_clipped:
        ax.plot(
            xs[fit.outliers],
            ys[fit.outliers],
            "x",
            color="tab:red",
            ms=5,
            label=f"clipped ({fit.n_clipped})",
            gid="tfr-clipped",
        )


def _literature_lines(ax, fit, grid):
    """Table 4.1's reverse relations, inverted for the forward form (as thesis Fig. 4.3)."""
    for (ref, _, _, m, _, c, _, _), colour in zip(LITERATURE_FITS, _LIT_COLOURS, strict=True):
        if fit.form == "reverse":
            y = m * (grid - LITERATURE_PIVOT) + c
        else:  # log M = p + (log V - c) / m
            y = LITERATURE_PIVOT + (grid - c) / m
        ax.plot(grid, y, "--", color=colour, lw=1.2, label=ref, gid=f"literature:{ref}")


def plot_tully_fisher(
    fit, *, ax=None, bands=(1, 3), band_width="rms", literature=True, path=None, figsize=(6, 5)
):
    """Draw a Tully-Fisher fit: points, clipped outliers, the line and its sigma bands.

    Parameters
    ----------
    fit : `~galkin_plugins.science.TullyFisherFit`
    ax : `matplotlib.axes.Axes`, optional
        Draw here; default a new figure.
    bands : sequence of float, optional
        Multiples of the band width shaded about the line (thesis: 1 and 3).
    band_width : {"rms", "scatter"}, optional
        The observed rms scatter (the thesis's bands) or the intrinsic scatter.
    literature : bool, optional
        Also draw thesis Table 4.1's fits (reverse and forward forms only).
    path : str or path-like, optional
        Save the figure there.
    figsize : tuple of float, optional

    Returns
    -------
    `matplotlib.figure.Figure`
        Close it with ``matplotlib.pyplot.close(fig)`` when done.
    """
    fig, ax = _axes(ax, figsize)
    xs, ys = fit.x, fit.y
    finite = np.isfinite(xs)
    lo, hi = np.min(xs[finite]), np.max(xs[finite])
    pad = 0.05 * (hi - lo or 1.0)
    grid = np.linspace(lo - pad, hi + pad, 100)
    line = fit.predict(grid)
    width = fit.rms if band_width == "rms" else fit.scatter
    for k, n in enumerate(sorted(bands, reverse=True)):
        ax.fill_between(
            grid,
            line - n * width,
            line + n * width,
            color=_FIT_COLOUR,
            alpha=0.15 + 0.1 * k,
            lw=0,
            label=f"{n:g} sigma ({band_width})",
            gid=f"tfr-band-{n:g}sigma",
        )
    _points(ax, fit, xs, ys, fit.x_err)
    ax.plot(grid, line, "-", color=_FIT_COLOUR, lw=2, label="galkin fit", gid="tfr-fit")
    if literature and fit.form in ("reverse", "forward"):
        _literature_lines(ax, fit, grid)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_xlabel(fit.x_label)
    ax.set_ylabel(fit.y_label)
    if fit.form == "magnitude":
        ax.invert_yaxis()
    ax.set_title(
        f"{fit.form} TFR: slope {fit.slope:.3f} $\\pm$ {fit.slope_err:.3f}, rms {fit.rms:.3f}",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="best")
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def plot_tully_fisher_residuals(
    fit, *, against=None, label=None, ax=None, path=None, figsize=(6, 3.5)
):
    """Residuals ``y - model`` of a Tully-Fisher fit against x or another quantity.

    Parameters
    ----------
    fit : `~galkin_plugins.science.TullyFisherFit`
    against : array-like, optional
        Values per table row to put on the x-axis (e.g. ``r_turn / r_e``, as thesis
        Figs. 4.8-4.9); default the fit's x.
    label : str, optional
        x-axis label for ``against``.
    ax : `matplotlib.axes.Axes`, optional
    path : str or path-like, optional
    figsize : tuple of float, optional

    Returns
    -------
    `matplotlib.figure.Figure`
    """
    fig, ax = _axes(ax, figsize)
    xs = fit.x if against is None else np.asarray(getattr(against, "value", against), float)
    if xs.shape != fit.x.shape:
        raise GalkinError(
            f"against has {xs.shape[0]} values but the fit's table has {fit.x.shape[0]} rows."
        )
    res = fit.residuals
    _points(ax, fit, xs, res, fit.x_err if against is None else None)
    ax.axhline(0.0, color=_FIT_COLOUR, lw=1.5, gid="tfr-zero")
    ax.axhspan(-fit.rms, fit.rms, color=_FIT_COLOUR, alpha=0.15, lw=0, gid="tfr-band-1sigma")
    ax.set_xlabel(fit.x_label if against is None else (label or ""))
    ax.set_ylabel(f"residual in {fit.y_label}")
    ax.legend(fontsize=7, loc="best")
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig
