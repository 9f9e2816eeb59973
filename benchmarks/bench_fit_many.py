"""A survey run in blind mode: N simulated cube files, 5% of them broken.

    python benchmarks/bench_fit_many.py [--galaxies 1000] [--broken 0.05] [--dir DIR]

Writes N FITS cubes (random inclination 20-85 deg, V_max 80-320 km/s, position
angle, beam 2-4", S/N 8-30) of which a fraction is broken in the ways real archives
are: truncated files, non-FITS bytes, empty (all-zero) cubes, all-NaN cubes,
and paths that do not exist. Runs `galkin.fit_many` on them in blind mode and
prints: how many galaxies were fitted, how many were reported failed and with
which reasons, whether every good one was fitted and every broken one reported,
the wall time and the rate, and the accuracy on the good ones.
"""

import argparse
import collections
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

import galkin
from galkin.position_angle import angle_difference

BREAKAGES = ("truncated", "not-fits", "empty", "all-nan", "missing")


def write_survey(folder, n, broken_fraction, seed):
    rng = np.random.default_rng(seed)
    n_broken = int(round(broken_fraction * n))
    broken = set(rng.choice(n, n_broken, replace=False).tolist())
    paths, truths, kinds = [], [], []
    for k in range(n):
        path = Path(folder) / f"gal{k:05d}.fits"
        truth = dict(
            inclination=rng.uniform(20, 85),
            position_angle=rng.uniform(0, 360),
            v_max=rng.uniform(80, 320),
        )
        kind = BREAKAGES[len(kinds) % len(BREAKAGES)] if k in broken else "good"
        if kind != "missing":
            cube = galkin.simulate_cube(
                inclination=truth["inclination"] * u.deg,
                position_angle=truth["position_angle"] * u.deg,
                v_max=truth["v_max"] * u.km / u.s,
                r_turn=rng.uniform(2, 10) * u.arcsec,
                r_scale=rng.uniform(5, 11) * u.arcsec,
                beam=rng.uniform(2, 4) * u.arcsec,
                snr=rng.uniform(8, 30),
                seed=k,
                n_particles=300_000,
            )
            if kind in ("empty", "all-nan"):
                fill = 0.0 if kind == "empty" else np.nan
                data = np.full(cube.shape, fill, dtype=np.float32)
                fits.PrimaryHDU(data, header=cube.header).writeto(path)
            else:
                cube.write(path)
                if kind == "truncated":
                    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
                elif kind == "not-fits":
                    path.write_bytes(b"<html>404 Not Found</html>" * 40)
        if k in broken:
            kinds.append(kind)
        paths.append(path)
        truths.append(truth if kind == "good" else None)
    return paths, truths, kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--galaxies", type=int, default=1000)
    parser.add_argument("--broken", type=float, default=0.05)
    parser.add_argument("--mc-samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", default=None, help="where to write the cubes (default: temp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths, truths, kinds = write_survey(folder, args.galaxies, args.broken, args.seed)
        t_write = time.perf_counter() - t0
        t1 = time.perf_counter()
        table = galkin.fit_many(paths, mc_samples=args.mc_samples, seed=0, progress=False)
        t_fit = time.perf_counter() - t1

    good = np.array([t is not None for t in truths])
    ok = np.asarray(table["status"] == "ok")
    print(
        f"{args.galaxies} cube files written in {t_write:.0f} s "
        f"({good.sum()} good, {(~good).sum()} broken: {dict(collections.Counter(kinds))})"
    )
    print(
        f"fit_many (blind, {args.mc_samples} MC samples): {t_fit:.1f} s wall, "
        f"{args.galaxies / t_fit:.1f} galaxies/s including reading each cube and its moments"
    )
    print(
        f"fitted: {ok.sum()}   failed: {(table['status'] == 'failed').sum()}   "
        f"rejected: {(table['status'] == 'rejected').sum()}"
    )
    print(
        f"every good galaxy fitted: {bool(np.all(ok[good]))}   "
        f"every broken one reported with a reason: "
        f"{bool(np.all(~ok[~good]) and all(table['error'][~good]))}"
    )
    reasons = collections.Counter(e.split(":")[0] for e in table["error"][~ok])
    print("reasons:", dict(reasons))
    examples = {re.sub(r"'[^']*'", "'...'", e)[:60]: e for e in table["error"][~ok]}
    for e in examples.values():
        print("   e.g.", e[:160])
    sel = ok & good
    if not sel.any():
        return
    inc = np.array([truths[i]["inclination"] for i in np.flatnonzero(sel)])
    vmax = np.array([truths[i]["v_max"] for i in np.flatnonzero(sel)])
    pa = np.array([truths[i]["position_angle"] for i in np.flatnonzero(sel)])
    d_inc = table["inclination"][sel].to_value(u.deg) - inc
    d_v = table["v_max"][sel].to_value(u.km / u.s) / vmax - 1
    d_pa = angle_difference(table["position_angle"][sel].to_value(u.deg), pa)
    print(
        f"accuracy on the good ones: inclination median |d| {np.median(np.abs(d_inc)):.2f} deg, "
        f"V_max median |dV/V| {100 * np.median(np.abs(d_v)):.1f}%, "
        f"PA median |d| {np.median(np.abs(d_pa)):.2f} deg"
    )


if __name__ == "__main__":
    main()
