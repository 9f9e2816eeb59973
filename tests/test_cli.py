"""The command line: `galkin demo` (the README's main job), `galkin survey`, `galkin classify`."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import QTable

import galkin
from galkin.cli import main
from galkin.exceptions import GalkinWarning


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


# ---------------------------------------------------------------- galkin survey
def _disc(seed, inclination):
    return galkin.simulate_cube(
        inclination=inclination * u.deg,
        position_angle=40 * u.deg,
        v_max=180 * u.km / u.s,
        r_turn=4 * u.arcsec,
        r_scale=8 * u.arcsec,
        beam=3 * u.arcsec,
        snr=20,
        seed=seed,
        n_particles=200_000,
    )


def test_survey_fits_a_directory_writes_a_table_and_resumes(tmp_path, capsys):
    folder = tmp_path / "cubes"
    (folder / "night2").mkdir(parents=True)
    _disc(1, 50).write(folder / "a.fits")
    _disc(2, 65).write(folder / "night2" / "b.fits")
    (folder / "broken.fits").write_bytes(b"<html>404</html>")
    (folder / "notes.txt").write_text("not a galaxy")
    out = tmp_path / "results.ecsv"
    argv = ["survey", str(folder), "-o", str(out), "--workers", "1", "--mc-samples", "10"]
    assert main([*argv, "--seed", "0", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "3 galaxies: 2 ok, 1 failed" in text and "broken" in text
    table = QTable.read(out)
    assert list(table["name"]) == ["a", "broken", "b"]
    assert list(table["status"]) == ["ok", "failed", "ok"]
    assert table["inclination"].unit == "deg"
    assert (
        abs(table["inclination"][0].value - 50) < 5 and abs(table["inclination"][2].value - 65) < 5
    )
    # a second run resumes from the checkpoint (nothing left to fit) and needs --overwrite
    with pytest.raises(SystemExit, match="--overwrite"):
        main(argv)
    assert main([*argv, "--seed", "0", "--quiet", "--overwrite"]) == 0
    assert "resuming from" in capsys.readouterr().err
    assert np.allclose(
        QTable.read(out)["inclination"][[0, 2]].value, table["inclination"][[0, 2]].value
    )
    fits_out = tmp_path / "results.fits"
    assert (
        main(["survey", str(folder / "a.fits"), "-o", str(fits_out), "--workers", "1", "--quiet"])
        == 0
    )
    assert QTable.read(fits_out)["status"][0] == "ok"
    with pytest.raises(SystemExit, match="ecsv or .fits"):
        main(["survey", str(folder), "-o", str(tmp_path / "results.csv")])


def test_classify_velocity_maps(tmp_path, capsys):
    y, x = np.mgrid[:48, :48] - 23.5
    r = np.hypot(x, y / np.cos(np.radians(50)))
    rotation = 150 * np.arctan(r / 5) * (x / np.maximum(r, 1e-6)) * np.sin(np.radians(50))
    rotation[r > 20] = np.nan
    header = fits.Header({"BUNIT": "m/s"})
    fits.PrimaryHDU(rotation * 1e3, header).writeto(tmp_path / "regular_mom1.fits")
    out = tmp_path / "labels.ecsv"
    assert main(["classify", str(tmp_path / "regular_mom1.fits"), "-o", str(out)]) == 0
    table = QTable.read(out)
    assert table["name"][0] == "regular_mom1" and table["label"][0] == "regular"
    assert "regular" in capsys.readouterr().out
    # a broken file in the folder: its row says so, the good map is still classified
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  =  truncated")
    with pytest.warns(GalkinWarning, match="1 of 2"):
        assert main(["classify", str(tmp_path), "-o", str(out), "--overwrite"]) == 0
    table = QTable.read(out)
    assert dict(zip(table["name"], table["label"], strict=True)) == {
        "broken": "failed",
        "regular_mom1": "regular",
    }
    assert "broken: GalkinError" in capsys.readouterr().out


def test_classify_real_alma_maps(tmp_path, capsys):
    """The ten real ALMA CO velocity maps: bare 2-D images without BUNIT or WCS."""
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / "alma_cae_dev"
    if not folder.exists():
        pytest.skip(f"real data not present: {folder}")
    out = tmp_path / "labels.fits"
    assert main(["classify", str(folder), "-o", str(out)]) == 0
    table = QTable.read(out)
    labels = {row["name"]: row for row in QTable.read(folder / "labels.csv", format="ascii.csv")}
    assert sorted(table["name"]) == sorted(labels)  # the README and labels.csv are skipped
    assert set(table["label"]) <= {"regular", "disturbed"}
    assert table["position_angle"].unit == u.deg


def test_survey_writes_ring_curves(tmp_path, capsys):
    """``--curves``: one row per galaxy and ring; ``--velocity rings`` fits the rings."""
    cube = tmp_path / "a.fits"
    _disc(1, 50).write(cube)
    out, curves = tmp_path / "results.ecsv", tmp_path / "curves.ecsv"
    argv = ["survey", str(cube), "-o", str(out), "--curves", str(curves), "--workers", "1"]
    argv += ["--velocity", "rings", "--intensity", "rings", "--mc-samples", "10", "--quiet"]
    assert main(argv) == 0
    assert "rotation curves" in capsys.readouterr().out
    table = QTable.read(curves)
    assert set(table["name"]) == {"a"} and bool(np.all(table["fitted_rings"]))
    assert table["v_rot"].unit == "km / s" and len(table) >= 5
    with pytest.raises(SystemExit, match="--overwrite"):
        main(argv)


def test_survey_can_keep_the_exponential(tmp_path, monkeypatch):
    """--no-intensity-fallback reaches fit_many as intensity_fallback=False."""
    seen = {}

    def fake_fit_many(files, client=None, **options):
        seen.update(options)
        raise SystemExit(0)

    monkeypatch.setattr(galkin, "fit_many", fake_fit_many)
    cube = tmp_path / "a.fits"
    cube.write_bytes(b"")
    argv = ["survey", str(cube), "-o", str(tmp_path / "r.ecsv"), "--quiet"]
    with pytest.raises(SystemExit):
        main([*argv, "--no-intensity-fallback"])
    assert seen["intensity_fallback"] is False
    seen.clear()
    with pytest.raises(SystemExit):
        main(argv)
    assert "intensity_fallback" not in seen  # the default: refit where the exponential fails
