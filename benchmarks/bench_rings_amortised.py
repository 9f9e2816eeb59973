"""Amortised rings beside the proxy start and solo: ring curves from a network in milliseconds.

    python benchmarks/bench_rings_amortised.py [--set rings] [--n 20] [--seed 1] [--no-solo]
        [--sae-inclination] [--cache DIR] [--threads 1]

On the independent referee's KinMS cubes (``benchmarks/referee``, the cubes of
``bench_referee.py --set rings``; needs ``kinms``: ``pip install -e .[bench]``),
each cube is read and prepared once (`galkin.fitting.prepare_maps`), then fitted
on the same prepared maps, in the same run, by

``network only``
    the amortised ring network (``galkin_plugins.ring_net``) alone: its curve
    ``V sin i`` divided by ``sin i`` of its own inclination, one galaxy per
    call (the blind SAE's 100 Monte-Carlo samples, which the fits below start
    from, are timed separately);
``amortised + refined``
    ``velocity="rings", intensity="rings", ring_start="amortised"``: the rings
    start on the network's curve and inclination (the rest of the geometry on
    the blind SAE's), and the ring refinement fits them to the maps (no proxy
    refinement);
``proxy + refined``
    the same with ``ring_start="proxy"`` (galkin's default): blind SAE, arctan
    refinement, then the ring refinement;
``solo``
    ``mode="solo"`` rings (the SAE trained on the galaxy, then the same refinements).

and prints, per path, the metrics of ``benchmarks/referee/metrics.py``: the
median over galaxies of each galaxy's median ``|dV/V|`` over the truth's radii
(every half beam inside 80% of the half-field), the same for ``V sin i`` (free
of the inclination), the median ``|d inclination|``, the 68% coverage of the
ring speeds' errors, and the time per galaxy (model and refinement, after
preparation; the preparation's time is printed once).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from referee.cache import default_cache_dir  # noqa: E402
from referee.conditions import SETS, draw_galaxy  # noqa: E402
from referee.cubes import cube_for  # noqa: E402
from referee.metrics import galaxy_metrics, summarise  # noqa: E402
from referee.run_galkin import estimate  # noqa: E402

RINGS = dict(velocity="rings", intensity="rings")
PATHS = {
    "proxy + refined": dict(RINGS, ring_start="proxy"),
    "amortised + refined": dict(RINGS, ring_start="amortised"),
    "solo (proxy start)": dict(RINGS, mode="solo", seed=0),
}
#: ``--sae-inclination``: the amortised start with the blind SAE's inclination instead.
SAE_INCLINATION = "amortised, SAE incl."


def network_only(prepared, truth, blind, repeats=5):
    """The ring network's curve and inclination; and its time (s)."""
    import torch

    from galkin_plugins.ring_net.start import AmortisedRingStart

    start = AmortisedRingStart()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        profile, values, geometry = start.predict([prepared])
        times.append(time.perf_counter() - t0)
    s = prepared.scales
    r = np.asarray(truth["radius_arcsec"], dtype=float) / s.field
    with torch.no_grad():
        vsini = profile.evaluate(
            torch.tensor(r)[None, :],
            **{k: torch.tensor(v, dtype=torch.float64)[:, None] for k, v in values.items()},
        ).numpy()[0]
    est = estimate(blind, truth)  # the SAE's position angle, V_sys; the network's inclination
    est["inclination"] = float(np.degrees(geometry["inclination"][0]))
    est["inclination_err"] = None
    sin_i = np.sin(geometry["inclination"][0])
    est.update(curve_v=(vsini * s.velocity / sin_i).tolist(), curve_v_err=None)
    return est, float(np.median(times))


def run(args):
    import galkin
    from galkin.fitting import fit_prepared, prepare_maps

    cset = SETS[args.set_name]
    n = cset.n if args.n is None else args.n
    cache = args.cache or default_cache_dir()
    paths = {k: v for k, v in PATHS.items() if not (args.no_solo and "solo" in k)}
    if args.sae_inclination:
        from galkin_plugins.ring_net import AmortisedRingStart

        paths[SAE_INCLINATION] = dict(RINGS, ring_start=AmortisedRingStart(use_inclination=False))
    per = {k: [] for k in ["network only", *paths]}
    times = {k: [] for k in per}
    prep_times, sae_times = [], []
    for k in range(n):
        spec = draw_galaxy(cset, k, args.seed)
        path, truth = cube_for(spec, cache)
        t0 = time.perf_counter()
        prepared = prepare_maps(str(path))
        prep_times.append(time.perf_counter() - t0)
        line = [truth["name"]]
        t0 = time.perf_counter()
        blind = fit_prepared([prepared], refine=False)[0]
        sae_times.append(time.perf_counter() - t0)
        est, seconds = network_only(prepared, truth, blind)
        per["network only"].append(galaxy_metrics(truth, est))
        times["network only"].append(seconds)
        for name, options in paths.items():
            t0 = time.perf_counter()
            try:
                result = fit_prepared([prepared], **options)[0]
            except Exception as exc:  # a failure is counted, not a crash
                print(f"  {truth['name']} {name} failed: {exc!r}", file=sys.stderr)
                continue
            times[name].append(time.perf_counter() - t0)
            per[name].append(galaxy_metrics(truth, estimate(result, truth)))
            curve = per[name][-1].get("curve", {}).get("abs", np.nan)
            line.append(f"{name} {curve:.2f}% {times[name][-1]:.2f}s")
        print(", ".join(line), file=sys.stderr, flush=True)
    print(f"set {cset.name!r}: {cset.summary}; {n} galaxies, seed {args.seed}")
    print(f"galkin {galkin.__version__}; torch threads {args.threads}")
    print(
        f"preparation (read cube, moments, prepare): median {np.median(prep_times):.2f} s; "
        f"blind SAE network (100 MC samples): median {1e3 * np.median(sae_times):.0f} ms"
    )
    header = (
        f"{'path':22s} {'n':>3s} {'|dV/V| %':>9s} {'|dVsini/Vsini| %':>17s} "
        f"{'|d inc| deg':>12s} {'cover':>6s} {'time/galaxy':>12s}"
    )
    print(header)
    print("-" * len(header))
    for name, entries in per.items():

        def stat(metric, key, entries=entries):
            s = summarise([e[metric] for e in entries if metric in e])
            return s[key]

        t = np.median(times[name]) if times[name] else np.nan
        t_text = f"{1e3 * t:9.1f} ms" if name == "network only" else f"{t:10.2f} s"
        cover = stat("curve", "cover")
        cover_text = f"{cover:6.2f}" if cover is not None else f"{'--':>6s}"
        print(
            f"{name:22s} {len(entries):3d} {stat('curve', 'med_abs'):9.2f} "
            f"{stat('curve_v_sin_i', 'med_abs'):17.2f} {stat('inclination', 'med_abs'):12.2f} "
            f"{cover_text} {t_text}"
        )
    proxy, amortised = (np.median(times[k]) for k in ("proxy + refined", "amortised + refined"))
    print(f"\namortised + refined takes {amortised / proxy:.2f} x the time of proxy + refined")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="rings", choices=sorted(SETS), dest="set_name")
    parser.add_argument("--n", type=int, default=None, help="galaxies (default: the set's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None, help="cube cache")
    parser.add_argument("--no-solo", action="store_true", help="skip the solo fits")
    parser.add_argument(
        "--sae-inclination",
        action="store_true",
        help="also start the amortised fit at the blind SAE's inclination",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quality warnings are in the metrics
        run(args)


if __name__ == "__main__":
    main()
