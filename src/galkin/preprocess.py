"""Preprocessing: `KinematicMaps` -> the normalised square maps the network sees.

The steps, in order:

0. **outliers** -- moment-1 pixels far from their neighbours (noise at the edge of
   a mask, bad spaxels) are masked (:func:`velocity_outliers`);
1. **centre** -- the given centre, or the intensity-weighted centroid of moment 0;
2. **systemic velocity** -- the given one, or the mid-point of the 2nd and 98th
   percentiles of moment 1;
3. **position angle** -- the given one, or a registered estimator (default the
   fast ``"symmetry"`` estimator; ``"pafit"`` is the slow reference);
4. **de-rotation, centring and resampling** in a single bilinear resampling onto a
   ``size x size`` grid whose +x axis is the receding major axis (an anti-aliasing
   smoothing is applied when the map is downsampled, and added to the beam);
5. optional **percentile clipping** of moment 1 (thesis §2.2.4);
6. **normalisation**: moment 0 into [0, 1], moment 1 about the systemic velocity into
   about [-1, 1], blanks set to 0 with an explicit mask. Per-pixel errors of the
   maps, when known, are carried to the same grid and units.

Every scale used is kept in :class:`Scales`, so each output converts back to
physical units.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from scipy import ndimage

from .exceptions import GalkinError
from .geometry import rotation_to_disc, sky_offsets
from .io.maps import KinematicMaps
from .units import KM_S, as_value

__all__ = [
    "Scales",
    "PreparedMaps",
    "prepare",
    "velocity_outliers",
    "DEFAULT_SIZE",
    "FWHM_PER_SIGMA",
    "OUTLIER_SIGMA",
]

#: Side of the square maps the network sees (thesis §3.2.3).
DEFAULT_SIZE = 64
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
#: A moment-1 pixel this many local robust sigmas from its neighbours' median is an outlier.
OUTLIER_SIGMA = 6.0


@dataclass(frozen=True)
class Scales:
    """Everything needed to turn normalised network quantities back into physics.

    Attributes
    ----------
    size : int
        Side of the network maps in pixels.
    field : float
        Side of the network field of view in arcsec (decoder lengths are fractions of it).
    velocity : float
        km/s per unit of normalised moment 1.
    flux : float
        Moment-0 value (in ``flux_unit``) per unit of normalised moment 0.
    flux_unit : `~astropy.units.UnitBase`
    systemic_velocity : float
        km/s, subtracted before normalising moment 1.
    center : tuple of float
        ``(x, y)`` pixel position of the centre in the input maps.
    position_angle : float
        Degrees east of north to the receding side: the direction of the network's +x axis.
    position_angle_error : float
        1-sigma error of ``position_angle`` in degrees (0 when it was given).
    beam : tuple of float or None
        ``(sigma_major, sigma_minor, angle)``: Gaussian sigmas in field units and the
        angle of the beam's major axis from the network +x axis towards +y (radians).
        Includes the anti-aliasing smoothing. None when the beam is unknown.
    sky_to_pixel : `numpy.ndarray`
        2x2 matrix turning (east, north) arcsec offsets into input-pixel offsets.
    noise_area : float or None
        Network pixels per independent noise value: the correlation area the
        noise of the cube was measured to have (``maps.meta["noise_correlation_area"]``,
        :func:`galkin.io.noise.correlation_area`) after the resampling's blur.
        None when it was not measured (maps not made from a cube, noiseless cubes).
    """

    size: int
    field: float
    velocity: float
    flux: float
    flux_unit: object
    systemic_velocity: float
    center: tuple
    position_angle: float
    position_angle_error: float
    beam: tuple | None
    sky_to_pixel: np.ndarray
    noise_area: float | None = None

    def rotation(self):
        """2x2 matrix turning (east, north) offsets into (major, minor) network axes."""
        return rotation_to_disc(self.position_angle)

    def input_grid(self, shape):
        """Affine map of the *input* pixel grid in field units.

        Returns ``(origin, steps)``: the (major, minor) coordinate of pixel (0, 0) and
        the 2x2 matrix whose columns are the steps for +x and +y pixels.
        """
        pixel_to_sky = np.linalg.inv(self.sky_to_pixel)
        steps = self.rotation() @ pixel_to_sky / self.field
        origin = -steps @ np.asarray(self.center, dtype=float)
        return origin, steps

    def network_grid(self):
        """Affine map of the network grid in field units (see :meth:`input_grid`)."""
        step = 1.0 / self.size
        c = (self.size - 1) / 2.0
        return np.array([-c * step, -c * step]), np.eye(2) * step


@dataclass
class PreparedMaps:
    """Normalised network inputs of one galaxy and the scales that undo them.

    Attributes
    ----------
    moment0, moment1 : `numpy.ndarray`
        ``(size, size)`` float32 maps, normalised, 0 where masked.
    mask : `numpy.ndarray`
        ``(size, size)`` float32, 1 for valid pixels.
    scales : Scales
    maps : KinematicMaps
        The input maps (with velocity outliers removed from their mask).
    error0, error1 : `numpy.ndarray` or None
        ``(size, size)`` 1-sigma errors of the normalised maps, from the input
        maps' ``moment0_err`` and ``moment1_err`` (None when those are absent).
    """

    moment0: np.ndarray
    moment1: np.ndarray
    mask: np.ndarray
    scales: Scales
    maps: KinematicMaps
    error0: np.ndarray | None = None
    error1: np.ndarray | None = None


def _centroid(maps):
    w = np.where(maps.mask, np.clip(np.nan_to_num(maps.moment0.value), 0, None), 0.0)
    if w.sum() <= 0:
        raise GalkinError(
            "moment0 has no positive valid pixel, so the centre cannot be estimated; "
            "pass it, e.g. galkin.fit(data, center=(x, y)), or check the moment-0 map."
        )
    ny, nx = maps.shape
    yy, xx = np.mgrid[:ny, :nx]
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())


def velocity_outliers(velocity, valid, *, window=5, nsigma=OUTLIER_SIGMA):
    """Pixels of a velocity map that disagree with their neighbours.

    Each valid pixel is compared with the median of the valid pixels in the
    ``window x window`` box around it; it is an outlier when it differs by more
    than ``nsigma`` times the box's robust spread (1.4826 x its median absolute
    deviation) -- so a steep but smooth velocity gradient, whose box spread is
    large, is kept, while a noise spike at the edge of a mask is not. A floor of
    0.5% of the map's velocity range keeps noiseless maps from flagging rounding.

    Parameters
    ----------
    velocity : `numpy.ndarray`
        2-D map (any unit).
    valid : `numpy.ndarray` of bool
        Pixels to test (and to use as neighbours).
    window : int, optional
        Box size in pixels (odd; e.g. the beam FWHM).
    nsigma : float, optional

    Returns
    -------
    `numpy.ndarray` of bool
        True for outliers (a subset of ``valid``).

    Examples
    --------
    >>> import numpy as np
    >>> v = np.add.outer(np.arange(20.0), np.arange(20.0))  # a smooth gradient
    >>> v[5, 5] = 500.0
    >>> np.argwhere(velocity_outliers(v, np.ones(v.shape, bool))).tolist()
    [[5, 5]]
    """
    from numpy.lib.stride_tricks import sliding_window_view

    window = max(3, int(window) // 2 * 2 + 1)
    half = window // 2
    out = np.zeros(valid.shape, dtype=bool)
    if valid.sum() < 3:
        return out
    padded = np.pad(np.where(valid, velocity, np.nan), half, constant_values=np.nan)
    boxes = sliding_window_view(padded, (window, window))[valid].reshape(-1, window * window)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # boxes of NaN only cannot occur
        median = np.nanmedian(boxes, axis=1)
        spread = 1.4826 * np.nanmedian(np.abs(boxes - median[:, None]), axis=1)
    values = velocity[valid]
    lo, hi = np.percentile(values, [1, 99])
    floor = 0.005 * max(hi - lo, 1e-12)
    count = np.isfinite(boxes).sum(1)
    out[valid] = (np.abs(values - median) > nsigma * np.maximum(spread, floor)) & (count >= 4)
    return out


def _resampled_error(err, valid, scale, sample, filt, n_average):
    """Error map on the network grid, in normalised units (None when ``err`` is None).

    The anti-aliasing filter averages about ``n_average`` independent input pixels
    into each network pixel, which divides the variance by as much.
    """
    if err is None:
        return None
    var = np.where(valid & np.isfinite(err), np.asarray(err, dtype=float) ** 2, 0.0)
    known = (valid & np.isfinite(err)).astype(float)
    w = sample(filt(known))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(sample(filt(var)) / w / n_average) / scale
    return np.where(w > 1e-6, out, np.nan).astype(np.float32)


def _estimate_pa(estimator, east, north, vel):
    from .plugins import get_pa_estimator

    est = get_pa_estimator(estimator)() if isinstance(estimator, str) else estimator
    pa, err = est.estimate(east, north, vel)
    return float(np.mod(pa, 360.0)), float(err)


def _beam_sigmas(maps, field, smoothing_arcsec, pa_deg):
    if maps.beam is None:
        if smoothing_arcsec < maps.pixel_scale.to_value(u.arcsec):  # no beam to speak of
            return None
        s = smoothing_arcsec / field
        return (s, s, 0.0)
    bmaj = maps.beam.major.to_value(u.arcsec) / FWHM_PER_SIGMA
    bmin = maps.beam.minor.to_value(u.arcsec) / FWHM_PER_SIGMA
    smaj = np.hypot(bmaj, smoothing_arcsec) / field
    smin = np.hypot(bmin, smoothing_arcsec) / field
    angle = np.radians(maps.beam.pa.to_value(u.deg) - pa_deg)
    return (float(smaj), float(smin), float(angle))


def _noise_area(maps, step, blur):
    """Network pixels (``step`` arcsec) per independent noise value, or None.

    The measured correlation area of the input's noise, blurred by the
    resampling (``blur`` arcsec, a Gaussian sigma): for Gaussian correlations
    the areas add, ``A + 4 pi blur^2``, except that white noise's one pixel is
    replaced by the blur's own area (so one input pixel is taken off).
    """
    area = maps.meta.get("noise_correlation_area")
    if area is None:
        return None
    area = u.Quantity(area, u.arcsec**2).to_value(u.arcsec**2)
    if not np.isfinite(area):
        return None
    pixel = maps.pixel_scale.to_value(u.arcsec) ** 2
    blurred = max(area, pixel) + 4.0 * np.pi * blur**2 - pixel
    return float(max(blurred, pixel) / step**2)


def prepare(
    maps,
    *,
    size=DEFAULT_SIZE,
    center=None,
    systemic_velocity=None,
    position_angle=None,
    pa_estimator="symmetry",
    clip_percentile=None,
    field=None,
):
    """Centre, de-rotate, resample and normalise ``maps`` for the network.

    Parameters
    ----------
    maps : KinematicMaps
    size : int, optional
        Side of the output maps (64 in the thesis).
    center : tuple of float, optional
        ``(x, y)`` pixel centre; default ``maps.center`` or the moment-0 centroid.
    systemic_velocity : `~astropy.units.Quantity`, optional
        Default ``maps.systemic_velocity`` or the mid-point of the velocity range.
    position_angle : `~astropy.units.Quantity`, optional
        East of north to the receding side; default ``maps.position_angle`` or estimated.
    pa_estimator : str or PositionAngleEstimator, optional
        Registered estimator name used when no position angle is known.
    clip_percentile : float, optional
        Clip ``|moment 1 - systemic|`` at this percentile (e.g. 96 for noisy maps).
    field : `~astropy.units.Quantity`, optional
        Side of the square field of view; default: just large enough for every
        valid pixel.

    Returns
    -------
    PreparedMaps
    """
    if not isinstance(maps, KinematicMaps):
        raise GalkinError(f"maps must be galkin.KinematicMaps; got {type(maps).__name__}.")
    m1 = np.nan_to_num(maps.moment1.to_value(KM_S))
    beam_px = maps.beam_in_pixels()
    window = 5 if beam_px is None else max(5.0, beam_px[0])
    outliers = velocity_outliers(m1, maps.mask, window=window)
    if outliers.any() and outliers.sum() <= 0.2 * maps.n_valid:
        meta = dict(maps.meta, velocity_outliers=int(outliers.sum()))
        maps = maps.replace(mask=maps.mask & ~outliers, meta=meta)
    cx, cy = center if center is not None else (maps.center or _centroid(maps))
    m0 = np.nan_to_num(maps.moment0.value)
    valid = maps.mask
    v_in = m1[valid]

    vsys = systemic_velocity if systemic_velocity is not None else maps.systemic_velocity
    if vsys is None:
        lo, hi = np.percentile(v_in, [2, 98])
        vsys = 0.5 * (lo + hi)
    else:
        vsys = as_value(vsys, "systemic_velocity", KM_S, scalar=True)

    east, north = sky_offsets(maps, (cx, cy), valid_only=True)

    pa = position_angle if position_angle is not None else maps.position_angle
    if pa is None:
        pa, pa_err = _estimate_pa(pa_estimator, east, north, m1[valid] - vsys)
    else:
        pa, pa_err = float(np.mod(as_value(pa, "position_angle", u.deg, scalar=True), 360)), 0.0

    major, minor = rotation_to_disc(pa) @ np.stack([east, north])
    if field is None:
        extent = np.percentile(np.maximum(np.abs(major), np.abs(minor)), 99.5)
        pix = maps.pixel_scale.to_value(u.arcsec)
        field_arcsec = 2.0 * (extent + pix)
    else:
        field_arcsec = as_value(field, "field", u.arcsec, scalar=True)
    step = field_arcsec / size

    # One resampling: network pixel -> (major, minor) -> (east, north) -> input pixel.
    c = (size - 1) / 2.0
    grid = (np.arange(size) - c) * step
    gw, gu = np.meshgrid(grid, grid, indexing="ij")  # rows: minor axis, cols: major axis
    # rotation_to_disc is its own inverse (a reflection), so it maps back to the sky too.
    east_n, north_n = rotation_to_disc(pa) @ np.stack([gu.ravel(), gw.ravel()])
    sky_to_pixel = np.linalg.inv(maps.sky_jacobian)
    px, py = sky_to_pixel @ np.stack([east_n, north_n])
    coords = np.vstack([py + cy, px + cx])

    weight = valid.astype(float)
    downsample = step / maps.pixel_scale.to_value(u.arcsec)
    smoothing = 0.0
    n_average = 1.0
    # Bilinear interpolation blurs by a tent of one input pixel: variance 1/6 px^2 per
    # axis on average over the sub-pixel offsets, added to the beam like the smoothing.
    interpolation = maps.pixel_scale.to_value(u.arcsec) * np.sqrt(1 / 6.0 + 1 / 12.0)
    if downsample > 1.5:  # anti-alias: average over the output pixel before sampling
        sig_pix = 0.5 * downsample
        n_average = 4.0 * np.pi * sig_pix**2
        smoothing = sig_pix * maps.pixel_scale.to_value(u.arcsec)
        filt = lambda a: ndimage.gaussian_filter(a, sig_pix, mode="constant")  # noqa: E731
    else:
        filt = lambda a: a  # noqa: E731

    sample = lambda a: ndimage.map_coordinates(a, coords, order=1, cval=0.0).reshape(size, size)  # noqa: E731
    w_s = sample(filt(weight))
    w_full = sample(weight)
    good = (w_full >= 0.5) & (w_s > 1e-6)
    safe = np.where(good, w_s, 1.0)
    m0_s = np.where(good, sample(filt(m0 * weight)) / safe, 0.0)
    m1_s = np.where(good, sample(filt((m1 - vsys) * weight)) / safe, 0.0)
    if good.sum() < 16:
        raise GalkinError(
            f"Only {int(good.sum())} valid pixels remain after resampling to {size}x{size}: "
            "the field is too large for the valid area (check the mask, or pass field=)."
        )

    if clip_percentile is not None:
        if not 0 < clip_percentile <= 100:
            raise GalkinError(f"clip_percentile must be in (0, 100]; got {clip_percentile}.")
        lim = np.percentile(np.abs(m1_s[good]), clip_percentile)
        m1_s = np.clip(m1_s, -lim, lim)

    flux = float(m0_s[good].max())
    if not flux > 0:
        raise GalkinError("moment0 is not positive anywhere in the valid area; cannot normalise.")
    vscale = float(np.percentile(np.abs(m1_s[good]), 99.0))
    if not vscale > 0:
        raise GalkinError("moment1 is constant over the valid area: there is no rotation to model.")
    scales = Scales(
        size=size,
        field=float(field_arcsec),
        velocity=vscale,
        flux=flux,
        flux_unit=maps.moment0.unit,
        systemic_velocity=float(vsys),
        center=(float(cx), float(cy)),
        position_angle=pa,
        position_angle_error=pa_err,
        beam=_beam_sigmas(maps, field_arcsec, np.hypot(smoothing, interpolation), pa),
        sky_to_pixel=sky_to_pixel,
        noise_area=_noise_area(maps, step, np.hypot(smoothing, interpolation)),
    )
    mask = good.astype(np.float32)
    errors = [
        _resampled_error(
            None if err is None else err.to_value(unit), valid, norm, sample, filt, n_average
        )
        for err, unit, norm in (
            (maps.moment0_err, maps.moment0.unit, flux),
            (maps.moment1_err, KM_S, vscale),
        )
    ]
    return PreparedMaps(
        moment0=(m0_s / flux * mask).astype(np.float32),
        moment1=(m1_s / vscale * mask).astype(np.float32),
        mask=mask,
        scales=scales,
        maps=maps,
        error0=errors[0],
        error1=errors[1],
    )
