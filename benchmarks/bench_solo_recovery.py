"""Solo-mode recovery on simulated cubes (issue: "Cube in, rotation curve out").

Simulates N galaxies (inclination 30-80 deg, v_max 100-300 km/s, random position
angle, beam 2-3 px, S/N 10-20) with galkin's particle simulator, fits each in solo
mode, and prints truth vs fit, the wall time per fit, and the acceptance count
(inclination within 5 deg, v_max within 10%, position angle within 5 deg).

    python benchmarks/bench_solo_recovery.py [N] [seed]
"""

import sys
import time

import numpy as np
from astropy import units as u

import galkin
from galkin.position_angle import angle_difference


def main(n=10, seed=2026):
    rng = np.random.default_rng(seed)
    rows, good, times = [], 0, []
    for k in range(n):
        truth = dict(
            inclination=rng.uniform(30, 80),
            v_max=rng.uniform(100, 300),
            position_angle=rng.uniform(5, 355),
            r_turn=rng.uniform(2, 8),
            r_scale=rng.uniform(5, 10),
        )
        beam, snr = rng.uniform(2, 3), rng.uniform(10, 20)
        cube = galkin.simulate_cube(
            inclination=truth["inclination"] * u.deg,
            position_angle=truth["position_angle"] * u.deg,
            v_max=truth["v_max"] * u.km / u.s,
            r_turn=truth["r_turn"] * u.arcsec,
            r_scale=truth["r_scale"] * u.arcsec,
            beam=beam * u.arcsec,
            snr=snr,
            seed=k,
        )
        t0 = time.perf_counter()
        res = galkin.fit(cube, seed=k)
        times.append(time.perf_counter() - t0)
        d_inc = res.inclination.value - truth["inclination"]
        d_v = res.v_max.value / truth["v_max"] - 1
        d_pa = angle_difference(res.position_angle.value, truth["position_angle"])
        ok = abs(d_inc) < 5 and abs(d_v) < 0.1 and abs(d_pa) < 5
        good += ok
        rows.append(
            f"{k:3d} {truth['inclination']:6.1f} {res.inclination.value:6.1f}±"
            f"{res.inclination_err.value:4.1f} {truth['v_max']:6.1f} {res.v_max.value:6.1f}±"
            f"{res.v_max_err.value:5.1f} {100 * d_v:+6.1f}% {truth['position_angle']:6.1f} "
            f"{res.position_angle.value:6.1f} {truth['r_turn']:5.1f} {res.r_turn.value:5.1f} "
            f"{truth['r_scale']:5.1f} {res.r_scale.value:5.1f} {snr:5.1f} {beam:4.1f} "
            f"{times[-1]:6.1f}  {'ok' if ok else 'MISS'}"
        )
    print(
        "  k  i_true  i_fit        V_true V_fit          dV     PA_true PA_fit "
        "rt_tr rt_fit rs_tr rs_fit  S/N beam time[s]"
    )
    print("\n".join(rows))
    print(
        f"\nrecovered {good}/{n} (|di| < 5 deg, |dV/V| < 10%, |dPA| < 5 deg); "
        f"solo fit wall time: median {np.median(times):.1f} s, max {np.max(times):.1f} s"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
