"""Printed output of the referee: the side-by-side table, the targets, the per-galaxy rows."""

from dataclasses import dataclass

import numpy as np

from .metrics import METRICS, UNITS, galaxy_metrics, summarise

__all__ = [
    "TOOLS",
    "summaries",
    "print_summary",
    "print_targets",
    "print_rows",
    "print_profiles",
    "TARGETS",
]

#: Result keys of the tools, in the order printed, with their labels.
TOOLS = {"galkin": "galkin", "barolo": "3D-Barolo 3DFIT"}


def summaries(records):
    """``{tool: {metric: summary}}`` over ``records`` (see :func:`.metrics.summarise`).

    Each summary also carries ``fail``: the galaxies the tool was run on and
    failed (an exception, no rings written), which no metric includes.
    """
    out = {}
    for tool in TOOLS:
        ran = [r for r in records if r.get(tool) is not None]
        if not ran:
            continue
        per_galaxy = [galaxy_metrics(r["truth"], r[tool]) for r in ran]
        fail = sum(not r[tool].get("ok") for r in ran)
        out[tool] = {
            m: dict(summarise([g[m] for g in per_galaxy if m in g]), fail=fail, ran=len(ran))
            for m in METRICS
        }
    return out


_COLUMNS = ("n", "bias", "med|err|", "scatter", "std", "cover")


def _fmt(value, width=8, digits=2):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return f"{'--':>{width}s}"
    return f"{value:{width}.{digits}f}"


def _cells(s):
    cover = "--" if s["cover"] is None else f"{100 * s['cover']:.0f}%"
    return (
        f"{s['n']:4d} {_fmt(s['bias'])} {_fmt(s['med_abs'])} {_fmt(s['scatter'])} "
        f"{_fmt(s['std'])} {cover:>6s}"
    )


def print_summary(stats, title):
    """The side-by-side table: one row per metric, galkin | 3D-Barolo | ratio of med|err|."""
    print(f"\n{title}")
    tools = [t for t in TOOLS if t in stats]
    head = f"{'metric':17s} {'unit':5s}"
    sub = " " * 23
    for tool in tools:
        s0 = stats[tool]["inclination"]
        label = f"{TOOLS[tool]} ({s0['ran'] - s0['fail']}/{s0['ran']} ok)"
        head += f" | {label:^46s}"
        sub += (
            f" | {'n':>4s} {'bias':>8s} {'med|err|':>8s} {'scatter':>8s} {'std':>8s} {'cover':>6s}"
        )
    if len(tools) == 2:
        head += " | ratio"
        sub += " | med|err|"
    print(head)
    print(sub)
    for metric in METRICS:
        line = f"{metric:17s} {UNITS[metric]:5s}"
        for tool in tools:
            line += " | " + _cells(stats[tool][metric])
        if len(tools) == 2:
            a, b = (stats[t][metric]["med_abs"] for t in tools)
            ratio = a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else np.nan
            line += f" | {_fmt(ratio, 6)}"
        print(line)


@dataclass(frozen=True)
class Target:
    """A pass/fail line of an issue's "Done when"."""

    label: str
    tool: str
    metric: str
    key: str
    low: float = -np.inf
    high: float = np.inf
    vs_barolo: bool = False  # compare with 3D-Barolo's value of the same key instead
    absolute: bool = False  # compare |value|

    def value(self, stats):
        s = stats.get(self.tool, {}).get(self.metric)
        value = np.nan if s is None or s[self.key] is None else s[self.key]
        return abs(value) if self.absolute else value

    def check(self, stats):
        """``(value, bound text, passed)``; passed is None when it cannot be evaluated."""
        value = self.value(stats)
        if self.vs_barolo:
            bound = Target(self.label, "barolo", self.metric, self.key).value(stats)
            text = f"<= 3D-Barolo's {_fmt(bound, 0)}"
            ok = None if not np.isfinite(bound) or not np.isfinite(value) else value <= bound
            return value, text, ok
        text = f"in [{self.low:g}, {self.high:g}]" if np.isfinite(self.low) else f"<= {self.high:g}"
        ok = None if not np.isfinite(value) else bool(self.low <= value <= self.high)
        return value, text, ok


TARGETS = {
    "issue11_accuracy": (
        Target(
            "|median V_max sin i bias| (%)", "galkin", "v_sin_i", "bias", high=2.0, absolute=True
        ),
        Target("median |dV_max / V_max| (%)", "galkin", "v_max", "med_abs", high=5.0),
        Target("68% coverage, inclination", "galkin", "inclination", "cover", 0.55, 0.80),
        Target("68% coverage, V_max", "galkin", "v_max", "cover", 0.55, 0.80),
    ),
    "issue11_vs_barolo": (
        Target("median |d inclination| (deg)", "galkin", "inclination", "med_abs", vs_barolo=True),
        Target("median |d PA| (deg)", "galkin", "position_angle", "med_abs", vs_barolo=True),
        Target("median curve |dV/V| (%)", "galkin", "curve", "med_abs", vs_barolo=True),
    ),
    "issue11_noiseless": (
        Target("sigma_i (std, deg)", "galkin", "inclination", "std", high=0.98),
        Target("sigma_(V_max sin i) (std, km/s)", "galkin", "v_sin_i_kms", "std", high=3.48),
        Target("68% coverage, inclination", "galkin", "inclination", "cover", 0.60, 0.76),
        Target("68% coverage, V_max", "galkin", "v_max", "cover", 0.60, 0.76),
    ),
    "issue12_rings": (
        Target("median curve |dV/V| (%)", "galkin", "curve", "med_abs", high=5.0),
        Target("median |d inclination| (deg)", "galkin", "inclination", "med_abs", high=3.0),
        Target("ring-velocity coverage", "galkin", "curve", "cover", 0.50, 0.85),
    ),
}


def print_targets(stats, keys):
    """PASS/FAIL of the "Done when" targets ``keys`` of :data:`TARGETS`."""
    for key in keys:
        print(f"\ntargets {key}:")
        for target in TARGETS[key]:
            value, text, ok = target.check(stats)
            verdict = {True: "PASS", False: "FAIL", None: "n/a"}[ok]
            print(f"  {target.label:34s} {_fmt(value, 8, 3)} {text:28s} {verdict}")


def _short(result):
    if result is None:
        return "-"
    if result.get("ok"):
        return "ok"
    return (result.get("error") or "failed").split(" [")[0][:60]


def print_rows(records):
    """One line per galaxy: truth beside each tool's inclination, PA, V_max and curve error."""
    print(
        f"\n{'galaxy':18s} {'i':>5s} {'i_g':>6s} {'i_b':>6s} {'PA':>6s} {'PA_g':>6s} "
        f"{'PA_b':>6s} {'Vmax':>6s} {'Vmax_g':>7s} {'dV/V_g':>7s} {'dV/V_b':>7s}  status"
    )
    for r in records:
        t = r["truth"]
        fits = {tool: r.get(tool) if (r.get(tool) or {}).get("ok") else {} for tool in TOOLS}
        curve = {tool: galaxy_metrics(t, r.get(tool)).get("curve", {}) for tool in TOOLS}
        cells = [f"{t['name']:18s} {t['inclination_deg']:5.1f}"]
        cells += [_fmt(fits[tool].get("inclination"), 6, 1) for tool in TOOLS]
        cells.append(f"{t['position_angle_deg']:6.1f}")
        cells += [_fmt(fits[tool].get("position_angle"), 6, 1) for tool in TOOLS]
        cells += [f"{t['v_max_kms']:6.0f}", _fmt(fits["galkin"].get("v_max"), 7, 0)]
        cells += [_fmt(curve[tool].get("abs"), 7, 1) for tool in TOOLS]
        status = "; ".join(f"{tool} {_short(r.get(tool))}" for tool in TOOLS)
        print(" ".join(cells) + "  " + status)


def print_profiles(records):
    """How many of galkin's fits ended with each intensity profile, when they differ
    (the default fit refits galaxies with a free ring surface density, or with a
    sharp edge, where the maps ask for it: ``intensity_fallback``)."""
    import collections

    counts = collections.Counter(
        (r["galkin"].get("table") or {}).get("intensity_profile")
        for r in records
        if r.get("galkin") and r["galkin"].get("ok")
    )
    if len(counts) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in counts.most_common())
        print(f"galkin's intensity profiles: {listed} (refits: intensity_fallback)")
