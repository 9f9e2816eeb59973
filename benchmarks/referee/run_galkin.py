"""Run galkin on a referee cube exactly as a new user would: ``galkin.fit(path)``.

Options reach ``galkin.fit`` unchanged (``--galkin-option key=value`` on the
command line), so the same benchmark measures options the fitting code grows
later (``mode="solo"``, ``refine=False``, ...) without changes here. A failure
is recorded as a row with the exception's text, never raised.
"""

import ast
import time
import traceback
import warnings

import numpy as np

__all__ = ["parse_option", "run_galkin", "estimate"]


def parse_option(text):
    """``"key=value"`` -> ``(key, value)``.

    The value is a Python literal when it parses as one (``200``, ``False``,
    ``None``, ``"solo"``), an astropy Quantity when it reads as one (``30 deg``,
    ``12 arcsec``), and otherwise the string itself (``solo``).
    """
    if "=" not in text:
        raise ValueError(f"--galkin-option takes key=value; got {text!r}")
    key, raw = (s.strip() for s in text.split("=", 1))
    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        pass
    from astropy import units as u

    try:
        return key, u.Quantity(raw)
    except (TypeError, ValueError):
        return key, raw


def _plain(value):
    """A table cell as JSON-able value and unit string."""
    unit = str(getattr(value, "unit", "") or "")
    value = getattr(value, "value", value)
    if isinstance(value, np.ndarray):
        return value.tolist(), unit
    if isinstance(value, np.generic):
        return value.item(), unit
    return value, unit


def run_galkin(path, truth, options=None):
    """Fit ``path`` with ``galkin.fit(path, **options)`` and record everything.

    Parameters
    ----------
    path : `pathlib.Path`
        The FITS cube.
    truth : dict
        Its truth (only ``radius_arcsec`` is used: where the curve is evaluated).
    options : dict, optional
        Keyword arguments for `galkin.fit`.

    Returns
    -------
    dict
        ``ok``, ``error`` (the exception's type, text and where it was raised),
        ``runtime_s`` (wall clock), ``warnings``; when it worked, ``table`` and
        ``units`` (every column of ``FitResult.to_table()``), ``center_px`` (the
        centre galkin used, 0-based pixels), and the standard estimate fields of
        :mod:`.metrics`: ``inclination``, ``position_angle``,
        ``systemic_velocity``, ``v_max`` with ``_err``, and ``curve_v``,
        ``curve_v_err`` (``result.velocity_at`` the truth's radii).
    """
    from astropy import units as u

    import galkin

    options = dict(options or {})
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = galkin.fit(str(path), **options)
            row = result.to_table()[0]
            radius = np.asarray(truth["radius_arcsec"], dtype=float)
            v, v_err = result.velocity_at(radius * u.arcsec) if radius.size else ([], [])
        except Exception as exc:  # a failure is a row, not a crash
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            return {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc} [{frame.filename}:{frame.lineno}]",
                "runtime_s": time.perf_counter() - start,
                "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
            }
    out = estimate(result, truth, row=row, v=(v, v_err))
    out["runtime_s"] = time.perf_counter() - start
    out["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return out


def estimate(result, truth, *, row=None, v=None):
    """The estimate fields of :mod:`.metrics` (and the whole table row) of a `FitResult`.

    ``row`` (``result.to_table()[0]``) and ``v`` (``result.velocity_at`` the truth's
    radii) are computed when not given; ``runtime_s`` is the result's own.
    """
    from astropy import units as u

    if row is None:
        row = result.to_table()[0]
    if v is None:
        radius = np.asarray(truth["radius_arcsec"], dtype=float)
        v = result.velocity_at(radius * u.arcsec) if radius.size else ([], [])
    v, v_err = v
    table, units = {}, {}
    for name in row.colnames:
        table[name], units[name] = _plain(row[name])
    out = {
        "ok": True,
        "error": None,
        "runtime_s": float(result.runtime),
        "warnings": [],
        "table": table,
        "units": units,
        "center_px": [float(c) for c in result.prepared.scales.center],
        "curve_v": np.asarray(getattr(v, "value", v), dtype=float).tolist(),
        "curve_v_err": np.asarray(getattr(v_err, "value", v_err), dtype=float).tolist(),
    }
    for name in ("inclination", "position_angle", "systemic_velocity", "v_max"):
        out[name] = table.get(name)
        out[f"{name}_err"] = table.get(f"{name}_err")
    return out
