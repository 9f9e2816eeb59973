"""`galkin.fit_many`: fit a survey, one row per galaxy, never losing the good ones.

Each item (cube, maps or file path) is fitted independently with
:func:`galkin.fit`. A file that cannot be read, a galaxy that fails a survey cut
(`~galkin.exceptions.RejectedGalaxy`) or any other error becomes a row with
``status`` "failed" or "rejected" and the reason in ``error``; every other galaxy
is fitted. With a `dask.distributed.Client` the items are fitted on its workers,
with the same result as in-process.
"""

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import QTable

from .exceptions import GalkinError, RejectedGalaxy

__all__ = ["fit_many", "fit_row"]


def _default_name(item, index):
    if isinstance(item, (str, Path)):
        name = Path(item).name
        for suffix in (".gz", ".fits", ".fit", ".fz"):
            name = name.removesuffix(suffix)
        return name
    return getattr(item, "name", None) or f"galaxy_{index}"


def fit_row(item, name, fit_kwargs):
    """Fit one item and return its table row (never raises for bad data).

    Quantities are returned as ``(value, unit string)`` pairs: dask's serialisers
    turn Quantity scalars into bare arrays, and the units must survive the trip.
    """
    from .fitting import fit

    try:
        result = fit(item, **fit_kwargs)
    except RejectedGalaxy as exc:
        return {"name": name, "status": "rejected", "error": exc.reason}
    except Exception as exc:  # a survey run must not die on one galaxy
        return {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    row = {}
    for key, column in result.to_table().items():
        value = column[0]
        if isinstance(value, u.Quantity):
            value = (np.array(value.value), value.unit.to_string())
        row[key] = value
    row.update(name=name, status="ok", error="")
    return row


def _restore(row):
    return {
        key: u.Quantity(value[0], value[1]) if isinstance(value, tuple) else value
        for key, value in row.items()
    }


def _column(values, template):
    """Build a column from per-row values, filling failed rows with NaN/False/''."""
    if isinstance(template, u.Quantity):
        unit = template.unit
        shape = np.shape(template.value)
        filled = [v.to_value(unit) if v is not None else np.full(shape, np.nan) for v in values]
        return u.Quantity(np.array(filled, dtype=float), unit)
    if isinstance(template, (bool, np.bool_)):
        return np.array([bool(v) if v is not None else False for v in values])
    if isinstance(template, (int, float, np.integer, np.floating)):
        return np.array([float(v) if v is not None else np.nan for v in values])
    return np.array(["" if v is None else str(v) for v in values])


def _table(rows):
    columns = ["name", "status", "error"]
    templates = {}
    for row in rows:
        for key, value in row.items():
            if key not in templates:
                templates[key] = value
                if key not in columns:
                    columns.append(key)
    return QTable({key: _column([r.get(key) for r in rows], templates[key]) for key in columns})


def _flag_poor_fits(table):
    """Flag normalised losses above the sample's mean + 1 sigma (thesis §4.2.4).

    The loss is normalised by V_max as in the ``quality_cuts`` post-processor: the
    moment-1 part of the loss is in units of ``v_scale``, so ``loss (v_scale /
    v_max)^2`` is the MSE in units of V_max^2.
    """
    if "loss" not in table.colnames:
        return
    ok = np.asarray(table["status"] == "ok")
    ratio = (table["v_scale"] / table["v_max"]).to_value(u.dimensionless_unscaled)
    loss = np.asarray(table["loss"], dtype=float) * ratio**2
    flag = np.zeros(len(table), dtype=bool)
    if ok.sum() >= 2:
        limit = loss[ok].mean() + loss[ok].std()
        flag = ok & (loss > limit)
    table["flag_poor_fit"] = flag


def fit_many(
    items,
    *,
    names=None,
    mode="blind",
    mc_samples=100,
    client=None,
    progress=True,
    **fit_kwargs,
):
    """Fit many galaxies; return one table row per item, in order.

    Parameters
    ----------
    items : sequence
        Cubes, `~galkin.KinematicMaps` or FITS file paths (mixed is fine).
    names : sequence of str, optional
        Row names; default the file name, the object's name, or ``galaxy_<i>``.
    mode : str, optional
        Fitting mode passed to :func:`galkin.fit` (default the pretrained ``"blind"``).
    mc_samples : int, optional
        Monte-Carlo dropout samples per galaxy.
    client : `dask.distributed.Client`, optional
        Fit on this cluster's workers instead of in this process.
    progress : bool, optional
        Show a progress bar (tqdm) while fitting in-process.
    **fit_kwargs
        Passed to :func:`galkin.fit` (e.g. ``beam=``, ``seed=``, ``device=``).

    Returns
    -------
    `~astropy.table.QTable`
        ``name``, ``status`` ("ok", "failed" or "rejected"), ``error`` (the reason),
        the fitted parameters with errors and units (NaN for failed rows), ``loss``,
        ``v_scale``, ``r_max``, ``dispersion_profile``, and the flags
        ``flag_low_inclination``, ``flag_unresolved`` and ``flag_poor_fit`` (loss
        normalised by V_max above the sample's mean + 1 sigma).
    """
    items = list(items)
    if names is None:
        names = [_default_name(item, i) for i, item in enumerate(items)]
    elif len(names) != len(items):
        raise GalkinError(f"names has {len(names)} entries but there are {len(items)} items.")
    if not items:
        raise GalkinError("fit_many needs at least one item.")
    fit_kwargs = dict(fit_kwargs, mode=mode, mc_samples=mc_samples)

    if client is not None:
        futures = client.map(fit_row, items, list(names), [fit_kwargs] * len(items), pure=False)
        rows = client.gather(futures)
    else:
        rows = []
        bar = _progress(len(items)) if progress else None
        for item, name in zip(items, names, strict=True):
            rows.append(fit_row(item, name, fit_kwargs))
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{name}: {rows[-1]['status']}")
        if bar is not None:
            bar.close()
    table = _table([_restore(row) for row in rows])
    _flag_poor_fits(table)
    table.meta["mode"] = mode
    table.meta["n_ok"] = int((table["status"] == "ok").sum())
    table.meta["n_failed"] = len(table) - table.meta["n_ok"]
    return table


def _progress(total):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="galaxy", mininterval=1.0)
