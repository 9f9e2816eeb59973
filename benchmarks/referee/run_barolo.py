"""Run 3D-Barolo's 3DFIT on a referee cube in its automatic mode, and cache the result.

The call is the one a 3D-Barolo user makes with ``BBarolo -f cube.fits``: the
``BBarolo`` executable that pyBBarolo ships, run as a subprocess (so a crash in
the C++ code is a failed row, not a dead benchmark) with::

    FITSFILE=<cube> 3DFIT=true FREE="VROT VDISP INC PA" THREADS=1
    PLOTS=false SHOWBAR=false OUTFOLDER=<temporary> [FLAGERRORS=true]

Nothing else is set, so everything else is 3D-Barolo's own choice: it finds the
source (``MASK=SEARCH``), estimates the centre, systemic velocity, inclination,
position angle, ring width and number of rings itself (its ellipse fit to the
moment-0 map), then fits VROT, VDISP, INC and PA ring by ring and, in its second
stage (``TWOSTAGE``, default on), regularises INC and PA and refits VROT and
VDISP. XPOS, YPOS and VSYS stay at its own estimates and the disc is thin
(``Z0`` default) -- its defaults, not choices made here. ``FREE`` is written out
only to make the free parameters explicit; it equals the default.

Errors: ``FLAGERRORS`` (off by default in 3D-Barolo; ``--barolo-errors`` here)
adds Monte-Carlo errors per ring at about 5x the run time: VROT's from the final
stage, INC's and PA's from the first (the second stage's regularised angles have
none). The inclination and position-angle errors recorded are the median of
the per-ring first-stage errors.

3D-Barolo's PA is east of north to the receding side and XPOS/YPOS are 0-based
pixels, as galkin's (checked on KinMS cubes by ``tests/test_referee.py``).
"""

import importlib.util
import shutil
import subprocess
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from .cache import content_hash, read_json, write_json

__all__ = ["barolo_executable", "run_barolo", "barolo_for", "BAROLO_PARAMS"]

#: The parameters every run gets (besides FITSFILE, OUTFOLDER and FLAGERRORS).
BAROLO_PARAMS = {
    "3DFIT": "true",
    "FREE": "VROT VDISP INC PA",
    "THREADS": "1",
    "PLOTS": "false",
    "SHOWBAR": "false",
}
_TIMEOUT_S = 1800


def barolo_executable():
    """Path of the ``BBarolo`` executable (pyBBarolo's, else one on ``$PATH``), or None."""
    spec = importlib.util.find_spec("pyBBarolo")
    if spec is not None and spec.submodule_search_locations:
        exe = Path(list(spec.submodule_search_locations)[0]) / "BBarolo"
        if exe.exists():
            return exe
    found = shutil.which("BBarolo")
    return Path(found) if found else None


def _read_rings(path):
    """A 3D-Barolo rings file as a dict of column name -> float array; None if it has no ring."""
    lines = path.read_text().splitlines() if path.exists() else []
    if len(lines) < 2:  # no file, or a header only (3D-Barolo stopped before any ring)
        return None
    names = lines[0].lstrip("#").split()
    values = np.loadtxt(lines[1:], ndmin=2)
    return {name: values[:, k] for k, name in enumerate(names)}


def _initial_guesses(log):
    """3D-Barolo's own initial estimates, parsed from its log (for the record)."""
    guesses = {}
    for line in log.splitlines():
        for key in ("Xpos", "Ypos", "Vsys", "Vrot", "Inc", "PA"):
            token = f"{key} (e)"
            if token in line:
                tail = line.split(token, 1)[1].split("=", 1)[1].split()
                guesses[key] = float(tail[0])
    return guesses


def _half_width(rings, name):
    low, high = rings.get(f"E_{name}1"), rings.get(f"E_{name}2")
    return None if low is None else 0.5 * (high - low)


def _estimate(final, first, truth):
    """The standard estimate fields of :mod:`.metrics` from 3D-Barolo's rings."""
    pa = np.radians(final["P.A.(deg)"])
    radius, vrot = final["RAD(arcs)"], final["VROT(km/s)"]
    r_true = np.asarray(truth["radius_arcsec"], dtype=float)
    # the curve at the truth's radii: linear between rings, V(0) = 0, flat beyond the last
    curve = np.interp(r_true, np.r_[0.0, radius], np.r_[0.0, vrot])
    vrot_err = _half_width(final, "VROT")
    inc_err, pa_err = _half_width(first, "INC"), _half_width(first, "PA")
    return {
        "inclination": float(np.median(final["INC(deg)"])),
        "inclination_err": None if inc_err is None else float(np.median(inc_err)),
        "position_angle": float(np.degrees(np.arctan2(np.sin(pa).mean(), np.cos(pa).mean())) % 360),
        "position_angle_err": None if pa_err is None else float(np.median(pa_err)),
        "systemic_velocity": float(np.median(final["VSYS(km/s)"])),
        "systemic_velocity_err": None,
        "v_max": None,
        "v_max_err": None,
        "center_px": [float(final["XPOS(pix)"][0]), float(final["YPOS(pix)"][0])],
        "curve_v": curve.tolist(),
        "curve_v_err": None if vrot_err is None else np.interp(r_true, radius, vrot_err).tolist(),
        "curve_extrapolated": int(np.sum(r_true > radius.max())),
    }


def run_barolo(path, truth, *, errors=False):
    """Fit ``path`` with 3D-Barolo's automatic 3DFIT (not cached; see :func:`barolo_for`).

    Returns
    -------
    dict
        ``ok``, ``error``, ``runtime_s``, ``stage`` (2 when the second stage
        finished, else 1), ``initial`` (its own initial guesses), ``rings`` (every
        column of the final rings file, and ``first_stage`` with the first's), and
        the standard estimate fields of :mod:`.metrics`.
    """
    exe = barolo_executable()
    if exe is None:
        return {"ok": False, "error": "no BBarolo executable (pip install pybbarolo)"}
    params = dict(BAROLO_PARAMS, FITSFILE=str(Path(path).resolve()))
    if errors:
        params["FLAGERRORS"] = "true"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="referee-barolo-") as tmp:
        params["OUTFOLDER"] = tmp
        cmd = [str(exe), "-c", *(f"{k}={v}" for k, v in params.items())]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=_TIMEOUT_S, cwd=tmp, check=False
            )
            log, code = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired:
            log, code = f"timed out after {_TIMEOUT_S} s", None
        runtime = time.perf_counter() - start
        # the second stage's rings when it finished, else the first's
        first = _read_rings(Path(tmp) / "rings_final1.txt")
        second = _read_rings(Path(tmp) / "rings_final2.txt")
    if first is None and second is None:
        tail = " | ".join(line.strip() for line in log.strip().splitlines()[-4:])
        return {
            "ok": False,
            "error": f"no rings written (exit code {code}): {tail}",
            "runtime_s": runtime,
            "initial": _initial_guesses(log),
        }
    final = first if second is None else second
    first = final if first is None else first
    out = {
        "ok": True,
        "error": None,
        "runtime_s": runtime,
        "stage": 1 if second is None else 2,
        "initial": _initial_guesses(log),
        "rings": {k: v.tolist() for k, v in final.items()},
        "first_stage": {k: v.tolist() for k, v in first.items()},
    }
    out.update(_estimate(final, first, truth))
    return out


def barolo_for(path, truth, *, errors=False, refresh=False, cache_dir=None):
    """:func:`run_barolo`'s result, from the cache when it was run before.

    The cache file is ``<cube stem>.barolo-<key>.json`` in ``cache_dir``
    (default: beside the cube); the key hashes the parameters and the 3D-Barolo
    version. The curve is re-sampled at the truth's radii on every read, so a
    change of the comparison radii does not need a new fit.
    """
    try:
        bb_version = version("pybbarolo")
    except PackageNotFoundError:
        bb_version = "unknown"
    key = content_hash({"params": BAROLO_PARAMS, "errors": errors, "version": bb_version})
    folder = Path(path).parent if cache_dir is None else Path(cache_dir)
    cache = folder / f"{Path(path).stem}.barolo-{key}.json"
    result = None if refresh else read_json(cache)
    if result is None:
        result = run_barolo(path, truth, errors=errors)
        result["cached"] = False
        if result.get("runtime_s") is not None:  # an executable was found and ran
            write_json(cache, result)
    else:
        result["cached"] = True
        if result["ok"]:
            final = {k: np.asarray(v) for k, v in result["rings"].items()}
            first = {k: np.asarray(v) for k, v in result["first_stage"].items()}
            result.update(_estimate(final, first, truth))
    return result
