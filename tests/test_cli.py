"""The README's main job: `galkin demo` prints truth vs fit with units and saves a figure."""

import matplotlib.pyplot as plt

from galkin.cli import main


def test_demo_prints_truth_and_fit(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--output", str(out), "--seed", "1"]) == 0
    plt.close("all")
    text = capsys.readouterr().out
    assert "blind mode" in text
    for name in ("inclination", "position_angle", "v_max", "r_turn", "r_scale"):
        line = next(row for row in text.splitlines() if row.split()[:1] == [name])
        truth, fit, error = (float(v) for v in line.split()[1:4])
        # blind-mode errors are calibrated 68% intervals: the truth lies within 3 of them
        assert 0 < error and abs(fit - truth) < 3 * error, line
    inclination = next(row for row in text.splitlines() if row.startswith("      inclination"))
    assert abs(float(inclination.split()[2]) - 60.0) < 3, inclination
    assert "km / s" in text and "deg" in text
    assert out.stat().st_size > 10_000
