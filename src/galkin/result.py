"""`FitResult`: fitted parameters as Quantities with Monte-Carlo-dropout errors."""

import dataclasses
import functools

import numpy as np
from astropy import units as u
from astropy.table import QTable

from .geometry import disc_radius, rotation_to_disc, sky_offsets
from .parameters import ParameterSpace
from .quality import quality_flags
from .units import KM_S

__all__ = ["FitResult", "N_PROFILE_BINS"]

#: Radial bins of the dispersion profile reported in tables.
N_PROFILE_BINS = 16


def _normal_quantiles(n):
    """``n`` standard-normal values at evenly spaced quantiles, in a fixed shuffled order
    (zero mean, 68% interval +-1, no correlation with the other parameters' samples)."""
    from scipy.stats import norm

    z = norm.ppf((np.arange(n) + 0.5) / n)
    return np.random.default_rng(0).permutation(z / z.std()) if n > 1 else np.zeros(n)


class FitResult:
    """The fit of one galaxy.

    Every fitted parameter is an attribute holding the mean of the Monte-Carlo
    dropout samples as a Quantity, with ``<name>_err`` holding their standard
    deviation: ``inclination``, ``position_angle``, ``systemic_velocity`` and
    each profile parameter (``r_scale``, ``v_max``, ``r_turn`` for the default
    exponential disc and arctan rotation curve).

    ``<name>_err_mc`` is the spread of the model's predictions under dropout
    (thesis §3.2.7, the position-angle one with the estimator's error added in
    quadrature): a lower limit on the true uncertainty. In blind mode
    ``<name>_err`` is the *calibrated* error -- the dropout spread and the
    network's predicted aleatoric scatter, scaled so that 68% intervals cover the
    truth on held-out simulations; in solo and combined modes, where no
    calibration exists, it equals ``<name>_err_mc``.

    Attributes
    ----------
    samples : dict of str to `~astropy.units.Quantity`
        The Monte-Carlo samples.
    error_samples : dict of str to `~astropy.units.Quantity` or None
        Samples whose spread is the calibrated error (blind mode).
    loss : float
        Normalised reconstruction MSE of the mean model.
    prepared : `~galkin.preprocess.PreparedMaps`
        The network inputs and scales.
    output : `~galkin.model.ModelOutput`
        The model's raw output (decoder units).
    """

    def __init__(self, prepared, output, intensity, velocity, *, model, mode, runtime=None):
        self.prepared = prepared
        self.output = output
        self.intensity = intensity
        self.velocity = velocity
        self.model = model
        self.mode = mode
        self.runtime = runtime
        self.space = ParameterSpace(intensity, velocity)
        scales = prepared.scales
        vsys = scales.systemic_velocity + output.velocity_offset * scales.velocity
        self.samples = self.space.to_physical(output.samples, scales)
        self.error_samples = None
        if output.error_samples is not None:
            self.error_samples = self.space.to_physical(output.error_samples, scales)
        # the systemic velocity is solved in closed form (the mean moment-1 residual),
        # so its error is that mean's standard error, drawn as normal samples
        error = self.systemic_velocity_standard_error()
        for samples in (self.samples, self.error_samples):
            if samples is not None:
                z = _normal_quantiles(len(samples["inclination"]))
                samples["systemic_velocity"] = (vsys + error * z) * KM_S
        self.loss = output.loss
        self.name = prepared.maps.name

    def systemic_velocity_standard_error(self):
        """Standard error of the fitted systemic velocity (km/s, a float).

        The decoder solves the systemic velocity in closed form, as the offset that
        zeroes the mean moment-1 residual; its error is the rms residual of the
        mean model (on the network grid, where it was fitted) divided by the square
        root of the number of independent measurements: mask pixels per
        correlation area. For a refined fit that is the area of its moment-1
        residuals (`galkin.refine.Refinement.correlation`, never less than the
        noise's own where it was measured in the cube); for a network-only fit
        the beam's area (with the resampling's anti-aliasing) or the noise's,
        whichever is larger, and without a beam the input map's valid pixels.
        On the referee's KinMS cubes the refined rule covers the truth for 55%
        (beam-correlated noise) to 85% of galaxies, where the beam-area rule
        gave 40% to 98%.
        """
        prepared, scales = self.prepared, self.prepared.scales
        valid = prepared.mask > 0
        if not valid.any():
            return 0.0
        residual = (prepared.moment1 - self.output.moment1)[valid] * scales.velocity
        ref = self.output.refinement
        if ref is not None:
            n = valid.sum() / max(ref.correlation[1], 1.0)
        elif scales.beam is None:
            n = min(valid.sum(), prepared.maps.n_valid)
        else:  # Gaussian beam area 2 pi sigma_maj sigma_min, in network pixels
            area = 2 * np.pi * scales.beam[0] * scales.beam[1] * scales.size**2
            n = valid.sum() / max(area, scales.noise_area or 1.0, 1.0)
        return float(np.sqrt(np.mean(residual**2) / max(n, 1)))

    # ------------------------------------------------------------------ values
    @property
    def parameter_names(self):
        """Names of every reported parameter."""
        ringwise = set()  # ring values are reported by rotation_curve(), not as columns
        for profile in (self.intensity, self.velocity):
            if getattr(profile, "tabulated", False):
                ringwise |= set(profile.parameter_names())
        return ("inclination", "position_angle", "systemic_velocity") + tuple(
            n
            for n in self.space.names
            if n not in ("inclination", "pa_offset") and n not in ringwise
        )

    def value(self, name):
        """Mean of parameter ``name`` (a Quantity)."""
        s = self.samples[name]
        if name == "position_angle":
            ang = np.radians(s.to_value(u.deg))
            return (
                np.mod(np.degrees(np.arctan2(np.sin(ang).mean(), np.cos(ang).mean())), 360) * u.deg
            )
        return s.mean()

    def _spread(self, samples, name):
        s = samples[name]
        if name == "position_angle":
            diff = np.mod(s.to_value(u.deg) - self.value(name).to_value(u.deg) + 180, 360) - 180
            return np.sqrt(np.mean(diff**2)) * u.deg
        return s.std()

    def error(self, name):
        """1-sigma error of parameter ``name`` (a Quantity): calibrated when available.

        The calibrated error is half the central 68% interval of the calibrated
        samples, robust to the long tail that e.g. ``V_max = V_max sin i / sin i``
        develops near face-on.
        """
        if self.error_samples is None:
            return self.error_mc(name)
        s = self.error_samples[name]
        if name == "position_angle":
            ref = self.value(name).to_value(u.deg)
            s = (np.mod(s.to_value(u.deg) - ref + 180, 360) - 180) * u.deg
        lo, hi = np.percentile(s, [15.865, 84.135])
        return 0.5 * (hi - lo)

    def error_mc(self, name):
        """Monte-Carlo-dropout spread of parameter ``name`` (a Quantity)."""
        spread = self._spread(self.samples, name)
        if name == "position_angle":
            return np.hypot(spread, self.prepared.scales.position_angle_error * u.deg)
        return spread

    def __getattr__(self, name):
        samples = self.__dict__.get("samples", {})
        if name.endswith("_err_mc") and name[:-7] in samples:
            return self.error_mc(name[:-7])
        if name.endswith("_err") and name[:-4] in samples:
            return self.error(name[:-4])
        if name in samples:
            return self.value(name)
        raise AttributeError(f"FitResult has no attribute {name!r}")

    # ------------------------------------------------------------------ geometry
    @property
    def refined(self):
        """Whether the fit was refined by the physics (:mod:`galkin.refine`)."""
        return self.output.refinement is not None

    def _center_offset(self):
        """Refined centre offset ``(dx, dy)`` in input pixels and its 2x2 covariance."""
        ref = self.output.refinement
        if ref is None:
            return np.zeros(2), np.zeros((2, 2))
        scales = self.prepared.scales
        # network (major, minor) field units -> (east, north) arcsec -> input pixels
        jac = scales.sky_to_pixel @ rotation_to_disc(scales.position_angle) * scales.field
        k = [ref.names.index("x0"), ref.names.index("y0")]
        shift = jac @ np.array([ref.value["x0"], ref.value["y0"]])
        return shift, jac @ ref.covariance[np.ix_(k, k)] @ jac.T

    @functools.cached_property
    def center(self):
        """``(x, y)`` pixel position of the disc centre (0-based, input maps).

        The refined kinematic centre when the fit was refined, otherwise the
        centre the preprocessing used (given, or the moment-0 centroid).
        """
        x, y = np.asarray(self.prepared.scales.center) + self._center_offset()[0]
        return float(x), float(y)

    @property
    def center_err(self):
        """1-sigma errors of `center` in pixels (0 when the centre was not fitted)."""
        cov = self._center_offset()[1]
        return float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))

    @functools.cached_property
    def _disc_radius(self):
        """De-projected radius (arcsec) of every valid input pixel, for the mean geometry."""
        maps = self.prepared.maps
        east, north = sky_offsets(maps, self.center, valid_only=True)
        return disc_radius(
            east,
            north,
            self.value("position_angle").to_value(u.deg),
            self.value("inclination").to_value(u.deg),
        )

    @property
    def r_max(self):
        """Extent of the detected emission in the disc plane (98th percentile radius)."""
        return np.percentile(self._disc_radius, 98) * u.arcsec

    def dispersion_profile(self, n_bins=N_PROFILE_BINS, *, beam_smearing=True):
        """Line-of-sight dispersion in ``n_bins`` equal radial bins from 0 to `r_max`.

        Each bin holds the quadrature mean ``sqrt(<sigma^2>)`` of its valid pixels.
        With ``beam_smearing=True`` (the default) the mean model's own dispersion
        (`model_dispersion`, the rotation blended within the beam) is first
        subtracted in quadrature pixel by pixel, ``sigma^2 - sigma_model^2``; the
        differences are averaged with their sign, so noise does not bias the mean
        upwards, and a bin whose mean difference is negative reads 0.

        Returns
        -------
        edges, sigma : `~astropy.units.Quantity`
            Bin edges (arcsec, de-projected) and dispersion (km/s; NaN where a bin
            is empty or the maps have no dispersion).
        """
        edges = np.linspace(0, self.r_max.to_value(u.arcsec), n_bins + 1)
        return edges * u.arcsec, self._dispersion_in_bins(edges, beam_smearing=beam_smearing)

    def _dispersion_in_bins(self, edges, *, beam_smearing=True):
        """`dispersion_profile` in annuli with ``edges`` (arcsec, de-projected); km/s."""
        n_bins = len(edges) - 1
        disp = self.prepared.maps.dispersion
        if disp is None:
            return np.full(n_bins, np.nan) * KM_S
        mask = self.prepared.maps.mask
        squared = disp.to_value(KM_S)[mask] ** 2
        if beam_smearing:
            squared = squared - self._masked_model_sigma**2
        idx = np.digitize(self._disc_radius, edges) - 1
        use = np.isfinite(squared) & (idx >= 0) & (idx < n_bins)
        counts = np.bincount(idx[use], minlength=n_bins)
        sums = np.bincount(idx[use], weights=squared[use], minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts  # NaN in empty bins
        return np.sqrt(np.clip(mean, 0.0, None)) * KM_S

    def flags(self):
        """Quality flags of this fit (dict of bool; see :func:`galkin.quality.quality_flags`)."""
        return quality_flags(self)

    @property
    def at_bound(self):
        """Names of the fitted parameters that ended at a bound of their range."""
        from .quality import _at_bound

        return _at_bound(self)

    # ------------------------------------------------------------------ outputs
    def to_table(self):
        """One-row `~astropy.table.QTable`: parameters, errors, geometry, flags, provenance."""
        return QTable(self._table_columns())

    def _table_columns(self):
        """`to_table`'s columns, one value each (a survey's rows take them without the
        table: building a QTable per galaxy cost a quarter of a row)."""
        row = {"name": [self.name]}
        for name in self.parameter_names:
            row[name] = u.Quantity([self.value(name)])
            row[f"{name}_err"] = u.Quantity([self.error(name)])
            row[f"{name}_err_mc"] = u.Quantity([self.error_mc(name)])
        v_outer, v_outer_err = self.v_outer()
        row["v_outer"] = u.Quantity([v_outer])
        row["v_outer_err"] = u.Quantity([v_outer_err])
        x, y = self.center
        dx, dy = self.center_err
        row["center_x"], row["center_x_err"] = [x] * u.pix, [dx] * u.pix
        row["center_y"], row["center_y_err"] = [y] * u.pix, [dy] * u.pix
        row["loss"] = [self.loss]
        ref = self.output.refinement
        row["refined"] = [self.refined]
        row["chi2_moment0"] = [np.nan if ref is None else ref.chi2[0]]
        row["chi2_moment1"] = [np.nan if ref is None else ref.chi2[1]]
        scales = self.prepared.scales
        pedestal = np.nan if ref is None else ref.pedestal * scales.flux
        row["moment0_pedestal"] = [pedestal] * u.Unit(scales.flux_unit)
        jitter = np.nan if ref is None else ref.jitter[1] * scales.velocity
        row["residual_moment1"] = [jitter] * KM_S
        row["v_scale"] = [scales.velocity] * KM_S
        row["r_max"] = u.Quantity([self.r_max])
        row["dispersion_profile"] = self.dispersion_profile()[1][None, :]
        observed = self.dispersion_profile(beam_smearing=False)[1]
        row["dispersion_profile_observed"] = observed[None, :]
        for flag, value in self.flags().items():
            row[f"flag_{flag}"] = [value]
        row["at_bound"] = [",".join(self.at_bound)]
        row["model"] = [self.model]
        row["mode"] = [self.mode]
        row["intensity_profile"] = [self.intensity.name]
        row["velocity_profile"] = [self.velocity.name]
        row["mc_samples"] = [len(self.samples["inclination"])]
        return row

    def mean_parameters(self):
        """Mean decoder-unit parameters (dict of float)."""
        return {k: float(np.mean(v)) for k, v in self.output.samples.items()}

    def model_maps(self):
        """Model moment maps on the **input** pixel grid, beam-convolved.

        Returns
        -------
        moment0, moment1 : `~astropy.units.Quantity`
            In the units of the input moment 0 and km/s.
        """
        m0, m1 = self._decode_input_grid(dispersion=False)
        scales = self.prepared.scales
        m0 = m0 * self.output.amplitude * scales.flux * scales.flux_unit
        m1 = (m1 + self.output.velocity_offset) * scales.velocity
        return m0, (m1 + scales.systemic_velocity) * KM_S

    def model_dispersion(self):
        """Line-of-sight dispersion the mean model's rotation alone produces (input grid).

        Within a beam (and along a line of sight through a disc of finite
        thickness) gas at different rotation velocities is blended, so even a
        perfectly cold disc shows a dispersion: the *beam smearing*, largest where
        the velocity field is steep -- near the centre of compact, fast rotators.
        This is ``sqrt(B * (M0 v^2) / B * M0 - M1'^2)`` of the beam-convolved model.
        Subtracting it in quadrature from an observed dispersion leaves the random
        motions (see `dispersion_profile`).

        Returns
        -------
        `~astropy.units.Quantity`
            km/s, the shape of the input maps.
        """
        return self._model_sigma * KM_S

    @functools.cached_property
    def _model_sigma(self):
        """`model_dispersion` in km/s, decoded once per result."""
        return self._decode_input_grid(dispersion=True)[2] * self.prepared.scales.velocity

    @functools.cached_property
    def _masked_model_sigma(self):
        """`model_dispersion` (km/s) in the mask's pixels only, rendered only where the
        mask needs it (the survey table's dispersion profiles)."""
        mask = self.prepared.maps.mask
        if "_model_sigma" in self.__dict__:  # the whole map is decoded already
            return self._model_sigma[mask]
        sigma = self._decode_input_grid(dispersion=True, support=mask)[2]
        return sigma[mask] * self.prepared.scales.velocity

    def _decode_input_grid(self, dispersion, support=None):
        """The decoder's maps of the mean parameters on the input grid (decoder units);
        with a boolean ``support`` map, meaningful only there (see `DiscDecoder`)."""
        import torch

        from .decoder import DiscDecoder

        scales = dataclasses.replace(self.prepared.scales, center=self.center)
        shape = self.prepared.maps.shape
        origin, steps = scales.input_grid(shape)
        mean = {
            k: torch.tensor([v], dtype=torch.float64) for k, v in self.mean_parameters().items()
        }
        decoder = DiscDecoder(self.intensity, self.velocity).double()
        beams = None
        if scales.beam is not None:
            beams = torch.tensor([scales.beam], dtype=torch.float64)
        with torch.no_grad():
            maps = decoder(
                mean,
                mean["inclination"],
                torch.tensor(origin[None], dtype=torch.float64),
                torch.tensor(steps[None], dtype=torch.float64),
                shape,
                pa_offset=mean["pa_offset"],
                beams=beams,
                dispersion=dispersion,
                support=None if support is None else torch.as_tensor(support)[None],
            )
        return [m[0].numpy() for m in maps]

    def velocity_at(self, radius):
        """Rotation speed of the fit at ``radius`` and its 1-sigma error.

        The value is the curve of the best-fitting parameters; the error the
        spread of the curve over the error samples (calibrated or Laplace when
        available, else the Monte-Carlo-dropout samples), half its central 68%.

        Parameters
        ----------
        radius : `~astropy.units.Quantity`
            Angle(s), de-projected radius in the disc plane.

        Returns
        -------
        value, error : `~astropy.units.Quantity`
            km/s, the shape of ``radius``.
        """
        import torch

        from .units import as_value

        r = as_value(radius, "radius", u.arcsec) / self.prepared.scales.field
        shape = np.shape(r)
        r = torch.as_tensor(np.atleast_1d(r).ravel(), dtype=torch.float64)[None, :]
        names = self.velocity.parameter_names()
        draws = self.output.error_samples or self.output.samples
        best = self.mean_parameters()

        def curve(params):
            p = {
                k: torch.as_tensor(np.atleast_1d(params[k]), dtype=torch.float64)[:, None]
                for k in names
            }
            with torch.no_grad():
                v = self.velocity.evaluate(r, **p).numpy()
            sin_i = np.clip(np.sin(np.atleast_1d(params["inclination"])), 1e-3, None)
            return v * self.prepared.scales.velocity / sin_i[:, None]

        value = curve(best)[0]
        lo, hi = np.percentile(curve(draws), [15.865, 84.135], axis=0)
        return value.reshape(shape) * KM_S, (0.5 * (hi - lo)).reshape(shape) * KM_S

    def v_outer(self):
        """Rotation speed at `r_max`, the edge of the data, and its error (km/s).

        Unlike an asymptotic ``v_max``, this is a speed the data reach: quote it
        when ``flag_extrapolated`` is set.
        """
        return self.velocity_at(self.r_max)

    def rotation_curve(self, radius=None):
        """The rotation curve ring by ring, as a table (`galkin.curves.rotation_curve_table`).

        A ring fit (``velocity="rings"``) reports its own rings; any other
        profile is evaluated at the rings laid out for the galaxy (every half
        beam out to the data's extent), so fits compare on one table.

        Parameters
        ----------
        radius : `~astropy.units.Quantity`, optional
            Report the curve at these radii (angles, increasing) instead.

        Returns
        -------
        `~astropy.table.QTable`
            ``ring``, ``radius``, ``v_rot``, ``v_rot_err``, ``surface_density``,
            ``surface_density_err``, ``dispersion``; write it with
            ``table.write("curve.ecsv")``.
        """
        from .curves import rotation_curve_table

        return rotation_curve_table(self, radius)

    def plot(self, path=None, **kwargs):
        """Figure of input, model and residual maps and the profiles (thesis Fig. 3.5).

        Parameters
        ----------
        path : str or `pathlib.Path`, optional
            Save the figure here.

        Returns
        -------
        `matplotlib.figure.Figure`
        """
        from .plotting import plot_fit

        return plot_fit(self, path, **kwargs)

    def plot_pv(self, cube, path=None, **kwargs):
        """Position-velocity diagrams of ``cube`` along the fitted axes, model overplotted.

        See :func:`galkin.pv.plot_pv`; ``cube`` is the cube that was fitted.

        Returns
        -------
        `matplotlib.figure.Figure`
        """
        from .pv import plot_pv

        return plot_pv(self, cube, path, **kwargs)

    def __repr__(self):
        parts = [
            f"{n}={self.value(n).value:.4g}±{self.error(n).value:.2g} {self.value(n).unit}"
            for n in self.parameter_names
        ]
        return f"<FitResult {self.name!r}: " + ", ".join(parts) + ">"
