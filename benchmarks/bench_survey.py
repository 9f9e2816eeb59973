"""Survey throughput: galaxies per second from FITS cubes and map files, against 3D-Barolo.

    python benchmarks/bench_survey.py [--cubes 200] [--maps 100] [--barolo 3] [--workers N]

Writes ``--cubes`` simulated 64x64 cubes of ~130 channels (random geometry and
rotation curve, beam 2-4", S/N 8-30; as ``bench_fit_many.py``) and a mock
MaNGA + SAMI survey of ``--maps`` map files, then prints, all measured in this
run on this machine:

1. cube -> moment maps, one core: the direct FITS reader (``maps_from_fits``)
   against the spectral-cube reader (``maps_from_cube``) on the same cubes, with
   the stages of the direct reader;
2. galaxies per second of ``galkin.fit_many`` (blind, ``--mc-samples`` MC
   samples) from the cube files with every core, with one, and one galaxy at a
   time through spectral-cube (the path galkin took before batching), and from
   the map files;
3. 3D-Barolo's 3DFIT (automatic: only the file and ``3DFIT=true``; pyBBarolo,
   one thread) on the first ``--barolo`` of the same cubes, and each galkin
   path's speed-up over it.

pyBBarolo is optional (``pip install galkin[bench]``); without it the 3D-Barolo
rows are skipped.  The blind fit here is the network's; when the model refines
its estimate the refinement is included in these times.
"""

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u

import galkin
from galkin.fitting import as_maps
from galkin.io import fitscube, moments, spectral
from galkin.io.cube import SpectralCube, maps_from_cube
from galkin.position_angle import angle_difference


def write_cubes(folder, n, seed):
    rng = np.random.default_rng(seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    paths, truths = [], []
    for k in range(n):
        truth = dict(inclination=rng.uniform(20, 85), v_max=rng.uniform(80, 320))
        truth["position_angle"] = rng.uniform(0, 360)
        cube = galkin.simulate_cube(
            inclination=truth["inclination"] * u.deg,
            position_angle=truth["position_angle"] * u.deg,
            v_max=truth["v_max"] * u.km / u.s,
            r_turn=rng.uniform(2, 10) * u.arcsec,
            r_scale=rng.uniform(5, 11) * u.arcsec,
            beam=rng.uniform(2, 4) * u.arcsec,
            snr=rng.uniform(8, 30),
            n_channels=int(rng.integers(120, 141)),
            seed=k,
            n_particles=300_000,
        )
        path = Path(folder) / f"cube{k:05d}.fits"
        cube.write(path, overwrite=True)
        paths.append(path)
        truths.append(truth)
    return paths, truths


def best_of(function, repeats=3):
    """Fastest of a few runs (seconds of CPU time of this process: other load does not count)."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.process_time()
        function()
        best = min(best, time.process_time() - t0)
    return best


def reader_table(paths):
    """ms per cube: the direct reader, its stages, and the spectral-cube reader."""
    fast, reference, stages = [], [], {k: [] for k in ("read", "noise+mask", "moments")}
    for path in paths:
        fast.append(best_of(lambda p=path: fitscube.maps_from_fits(p)))
        reference.append(best_of(lambda p=path: maps_from_cube(SpectralCube.read(p)), 1))
        cube = fitscube.read_fits_cube(path)
        velocity, _ = spectral.channel_velocities(cube.wcs, cube.data.shape[0])
        stages["read"].append(best_of(lambda p=path: fitscube.read_fits_cube(p)))
        mask, rms, _ = moments.noise_and_mask(cube.data, kernel_px=3.0)
        stages["noise+mask"].append(
            best_of(lambda c=cube: moments.noise_and_mask(c.data, kernel_px=3.0))
        )
        stages["moments"].append(
            best_of(lambda c=cube, v=velocity, m=mask: moments.take_moments(c.data, v, mask=m))
        )
    shape = fitscube.read_fits_cube(paths[0]).data.shape
    ms = lambda values: 1e3 * statistics.median(values)  # noqa: E731
    print(f"\ncube -> maps, one core, median over {len(paths)} cubes of {shape} (CPU ms)")
    print(f"  direct FITS reader (maps_from_fits)     {ms(fast):8.1f}")
    for name, values in stages.items():
        print(f"    of which {name:28s} {ms(values):8.1f}")
    print(f"  spectral-cube reader (maps_from_cube)   {ms(reference):8.1f}")
    print(f"  speed-up                                {ms(reference) / ms(fast):8.1f}x")


def barolo_seconds(paths, folder):
    if not paths:
        return None
    try:
        from pyBBarolo.wrapper import FitMod3D
    except ImportError:
        print("\n3D-Barolo: pyBBarolo is not installed (pip install galkin[bench]); skipped")
        return None
    seconds = []
    for k, path in enumerate(paths):
        out = Path(folder) / f"barolo{k}"
        t0 = time.perf_counter()
        FitMod3D(str(path), outfolder=str(out), threads=1, plotmode=0).run(stdout="null")
        seconds.append(time.perf_counter() - t0)
        if not (out / "rings_final2.txt").exists() and not (out / "rings_final1.txt").exists():
            print(f"  3D-Barolo wrote no rings for {path.name}")
    return float(np.mean(seconds))


def accuracy(table, truths):
    ok = np.asarray(table["status"] == "ok")
    inc = np.array([t["inclination"] for t in truths])[ok]
    vmax = np.array([t["v_max"] for t in truths])[ok]
    pa = np.array([t["position_angle"] for t in truths])[ok]
    d_inc = np.abs(table["inclination"][ok].to_value(u.deg) - inc)
    d_v = np.abs(table["v_max"][ok].to_value(u.km / u.s) / vmax - 1)
    d_pa = np.abs(angle_difference(table["position_angle"][ok].to_value(u.deg), pa))
    return (
        f"{ok.sum()}/{len(table)} fitted; median |d inc| {np.median(d_inc):.1f} deg, "
        f"|dV/V| {100 * np.median(d_v):.1f}%, |d PA| {np.median(d_pa):.1f} deg"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cubes", type=int, default=200)
    parser.add_argument("--maps", type=int, default=100, help="MaNGA/SAMI-like map files")
    parser.add_argument("--barolo", type=int, default=3, help="cubes 3D-Barolo fits")
    parser.add_argument("--readers", type=int, default=10, help="cubes the readers are timed on")
    parser.add_argument("--mc-samples", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None, help="default every core")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--dir", default=None, help="where to write the files (default: temp)")
    args = parser.parse_args()
    workers = args.workers or len(os.sched_getaffinity(0))
    options = dict(mc_samples=args.mc_samples, seed=0, progress=False)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths, truths = write_cubes(folder / "cubes", args.cubes, args.seed)
        from galkin_plugins.mock_survey import make_mock_survey

        survey = make_mock_survey(folder / "maps", args.maps, seed=args.seed, n_particles=100_000)
        print(
            f"wrote {args.cubes} cubes and {args.maps} MaNGA/SAMI map files in "
            f"{time.perf_counter() - t0:.0f} s"
        )
        reader_table(paths[: args.readers])

        galkin.fit(paths[0], mc_samples=2)  # load the network once, outside the timings
        rows = []
        for label, kwargs in (
            (f"FITS cubes, fit_many, {workers} workers", dict(workers=workers)),
            ("FITS cubes, fit_many, 1 process", dict(workers=1)),
        ):
            t0 = time.perf_counter()
            table = galkin.fit_many(paths, **kwargs, **options)
            rows.append((label, len(paths), time.perf_counter() - t0, accuracy(table, truths)))
        n_old = min(len(paths), 50)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # spectral-cube's notes on reading
            for path in paths[:n_old]:
                galkin.fit(as_maps(SpectralCube.read(path)), mc_samples=args.mc_samples, seed=0)
        rows.append(
            ("FITS cubes one at a time, spectral-cube", n_old, time.perf_counter() - t0, "")
        )
        t0 = time.perf_counter()
        table = galkin.fit_many(survey.files, names=survey.names, workers=workers, **options)
        n_ok = int((table["status"] == "ok").sum())
        rows.append(
            (
                f"map files, fit_many, {workers} workers",
                len(survey.files),
                time.perf_counter() - t0,
                f"{n_ok} fitted, {len(table) - n_ok} rejected by the survey cuts",
            )
        )
        barolo = barolo_seconds(paths[: args.barolo], folder)

    print(f"\nfits, blind, {args.mc_samples} MC samples (wall clock, this machine)")
    print(f"{'path':42s}{'galaxies':>9s}{'s/galaxy':>10s}{'gal/s':>8s}{'x 3DFIT':>9s}")
    for label, n, seconds, note in rows:
        per = seconds / n
        ratio = f"{barolo / per:9.0f}" if barolo else f"{'-':>9s}"
        print(f"{label:42s}{n:9d}{per:10.4f}{1 / per:8.1f}{ratio}   {note}")
    if barolo:
        print(f"{'3D-Barolo 3DFIT (automatic, 1 thread)':42s}{args.barolo:9d}{barolo:10.2f}")


if __name__ == "__main__":
    main()
