"""`KinematicMaps`: the data model every fit starts from.

Moment maps with units, a mask of valid pixels, the pixel scale and orientation
on the sky, the beam, and optional priors (centre, position angle, systemic
velocity).  Cubes become `KinematicMaps` through
:func:`galkin.io.cube.maps_from_cube` (which imports this module, never the
reverse); IFU velocity maps are wrapped directly.
"""

import warnings

import numpy as np
from astropy import units as u
from radio_beam import Beam

from ..exceptions import GalkinError, GalkinWarning
from ..units import KM_S, as_quantity
from .blanks import blank_fill

__all__ = ["KinematicMaps", "MIN_VALID_PIXELS", "celestial_wcs", "wcs_jacobian"]

#: Fewer valid pixels than this and a map cannot constrain a disc model.
MIN_VALID_PIXELS = 16


def _as_map(value, name, shape=None, physical_type=None):
    if value is None:
        return None
    if not isinstance(value, u.Quantity):
        kind = physical_type or "any"
        raise GalkinError(
            f"{name} must be an astropy Quantity (a 2-D array with units, e.g. "
            f"{name}=array * u.km / u.s); got {type(value).__name__} with no units. "
            f"Expected physical type: {kind}."
        )
    if physical_type is not None:
        as_quantity(value, name, physical_type)
    if value.ndim != 2:
        hint = " Pass a cube to galkin.maps_from_cube(cube) instead." if value.ndim == 3 else ""
        raise GalkinError(
            f"{name} must be a 2-D map; got {value.ndim} dimension(s) with shape "
            f"{value.shape}.{hint}"
        )
    if shape is not None and value.shape != shape:
        raise GalkinError(
            f"{name} has shape {value.shape} but moment0 has shape {shape}; all maps must be "
            "on the same pixel grid (reproject them first)."
        )
    return u.Quantity(value, dtype=float, copy=True)


def _as_beam(beam):
    if beam is None or isinstance(beam, Beam):
        return beam
    if isinstance(beam, u.Quantity):
        fwhm = as_quantity(beam, "beam", "angle", scalar=True)
        return Beam(major=fwhm, minor=fwhm, pa=0 * u.deg)
    raise GalkinError(
        "beam must be a radio_beam.Beam (e.g. Beam(major=12*u.arcsec, minor=10*u.arcsec, "
        "pa=30*u.deg)) or an angle Quantity for a circular beam (e.g. beam=3*u.arcsec); "
        f"got {type(beam).__name__}."
    )


def celestial_wcs(header, shape=None):
    """The celestial WCS of an image's ``header``, or None: no RA/Dec axes, malformed
    cards, or (given the image's ``shape``, ``(ny, nx)``) axes of another size."""
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)  # astropy repairing old cards
        warnings.simplefilter("ignore", u.UnitsWarning)
        try:
            wcs = WCS(header).celestial
        except Exception:  # malformed WCS cards: the caller falls back to no WCS
            return None
    if wcs.naxis != 2 or not wcs.has_celestial:
        return None
    if shape is not None and wcs.pixel_shape not in (None, tuple(shape)[::-1]):
        return None
    return wcs


def wcs_jacobian(wcs, shape):
    """2x2 matrix turning pixel offsets ``(dx, dy)`` into ``(east, north)`` arcsec.

    At the centre of a map of ``shape`` ``(ny, nx)`` with the celestial ``wcs``.
    The offsets are those of astropy's ``SkyCoord.spherical_offsets_to`` (the
    longitude and latitude in a frame whose origin is the map's centre),
    computed here in NumPy: building sky coordinates costs milliseconds.
    """
    ny, nx = shape
    x0, y0 = (nx - 1) / 2, (ny - 1) / 2
    lon, lat = wcs.pixel_to_world_values([x0, x0 + 1.0, x0], [y0, y0, y0 + 1.0])
    if wcs.wcs.lng == 1:  # a (lat, lon) WCS
        lon, lat = lat, lon
    lon, lat = np.radians(lon), np.radians(lat)
    # unit vectors, rotated so that the centre lies at (lon, lat) = (0, 0)
    dlon = lon - lon[0]
    x, y, z = np.cos(lat) * np.cos(dlon), np.cos(lat) * np.sin(dlon), np.sin(lat)
    sin0, cos0 = np.sin(lat[0]), np.cos(lat[0])
    east = np.arctan2(y, x * cos0 + z * sin0)
    north = np.arcsin(np.clip(z * cos0 - x * sin0, -1.0, 1.0))
    return np.degrees(np.array([[east[1], east[2]], [north[1], north[2]]])) * 3600.0


class KinematicMaps:
    """Moment maps of one galaxy, with units, mask, geometry and beam.

    Parameters
    ----------
    moment0 : `~astropy.units.Quantity`
        Integrated intensity (any unit), 2-D. NaN marks blanks.
    moment1 : `~astropy.units.Quantity`
        Intensity-weighted line-of-sight velocity (speed), same shape.
    dispersion : `~astropy.units.Quantity`, optional
        Line-of-sight velocity dispersion (moment two), same shape.
    moment0_err, moment1_err : `~astropy.units.Quantity`, optional
        1-sigma uncertainty of each pixel of ``moment0`` (its unit) and ``moment1``
        (a speed), e.g. propagated from the cube's channel noise or a survey's
        error extension. Fits weight the pixels by them; without them the noise
        is estimated from the fit's residuals.
    mask : array of bool, optional
        `True` where a pixel is valid; combined with the finite pixels of
        ``moment0`` and ``moment1``. Where ``moment1`` marks blanks with one
        value instead of NaN (0, -1e30: :func:`galkin.io.blanks.blank_fill`),
        those pixels are blanks too, with a `~galkin.exceptions.GalkinWarning`
        (``meta["blank_fill"]`` records the value).
    pixel_scale : `~astropy.units.Quantity`, optional
        Angular size of a pixel; taken from ``wcs`` when omitted.
    beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
        Restoring beam (or the FWHM of a circular one). Needed to model beam smearing.
    wcs : `astropy.wcs.WCS`, optional
        Celestial WCS of the maps; fixes the orientation of north and east.
        Without it, north is +y (up) and east is -x (left), as in a standard image.
    center : tuple of float, optional
        ``(x, y)`` pixel coordinates of the kinematic centre (0-based).
    position_angle : `~astropy.units.Quantity`, optional
        Kinematic position angle, east of north to the receding side.
    systemic_velocity : `~astropy.units.Quantity`, optional
        Systemic velocity in the frame of ``moment1``.
    name : str, optional
    meta : dict, optional
        Provenance (file, survey, header cards...).
    """

    def __init__(
        self,
        moment0,
        moment1,
        *,
        dispersion=None,
        moment0_err=None,
        moment1_err=None,
        mask=None,
        pixel_scale=None,
        beam=None,
        wcs=None,
        center=None,
        position_angle=None,
        systemic_velocity=None,
        name=None,
        meta=None,
    ):
        self.moment0 = _as_map(moment0, "moment0")
        if self.moment0 is None:
            raise GalkinError("moment0 is required.")
        self.moment1 = _as_map(moment1, "moment1", self.moment0.shape, "speed")
        if self.moment1 is None:
            raise GalkinError("moment1 is required (a velocity map with units of speed).")
        self.moment1 = self.moment1.to(KM_S)
        self.dispersion = _as_map(dispersion, "dispersion", self.moment0.shape, "speed")
        if self.dispersion is not None:
            self.dispersion = self.dispersion.to(KM_S)
        self.moment0_err = _as_map(moment0_err, "moment0_err", self.moment0.shape)
        if self.moment0_err is not None:
            as_quantity(self.moment0_err, "moment0_err", self.moment0.unit)
            self.moment0_err = self.moment0_err.to(self.moment0.unit)
        self.moment1_err = _as_map(moment1_err, "moment1_err", self.moment0.shape, "speed")
        if self.moment1_err is not None:
            self.moment1_err = self.moment1_err.to(KM_S)
        if wcs is not None:
            wcs = wcs.celestial
            if wcs.naxis != 2:
                raise GalkinError("wcs must have two celestial axes.")
        self.wcs = wcs
        if pixel_scale is None:
            if wcs is None:
                raise GalkinError(
                    "pixel_scale is required when no wcs is given, e.g. pixel_scale=0.5*u.arcsec."
                )
            pixel_scale = np.sqrt(abs(np.linalg.det(self._jacobian_from_wcs()))) * u.arcsec
        self.pixel_scale = as_quantity(pixel_scale, "pixel_scale", "angle", scalar=True).to(
            u.arcsec
        )
        if self.pixel_scale <= 0:
            raise GalkinError(f"pixel_scale must be positive; got {pixel_scale}.")
        self.beam = _as_beam(beam)

        finite = np.isfinite(self.moment0.value) & np.isfinite(self.moment1.value)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != self.moment0.shape:
                raise GalkinError(
                    f"mask has shape {mask.shape} but moment0 has shape {self.moment0.shape}."
                )
            finite &= mask.astype(bool)
        fill = blank_fill(self.moment1.value, finite)
        fill_value = None
        if fill.any():  # a velocity of 0 (or -1e30) km/s over the sky is not data
            fill_value = float(self.moment1.value[fill][0])
            warnings.warn(
                f"moment1 marks blanks with the value {fill_value:g} km/s ({int(fill.sum())} "
                "pixels, most of the map's edge): they are read as blanks. Write blanks "
                "as NaN, or pass a mask, to say so yourself.",
                GalkinWarning,
                stacklevel=2,
            )
            finite &= ~fill
        self.mask = finite
        if self.n_valid == 0:
            raise GalkinError(
                "The maps have no valid pixel (all NaN, or masked out): check the mask, the "
                "clipping threshold, or the region you passed."
            )
        if self.n_valid < MIN_VALID_PIXELS:
            raise GalkinError(
                f"Only {self.n_valid} valid pixels (need at least {MIN_VALID_PIXELS}) to fit a "
                "disc: the galaxy is unresolved or the mask is too strict."
            )

        if center is not None:
            if len(center) != 2 or isinstance(center, u.Quantity):
                raise GalkinError("center must be a pair of pixel coordinates (x, y).")
            center = (float(center[0]), float(center[1]))
        self.center = center
        self.position_angle = as_quantity(
            position_angle, "position_angle", "angle", scalar=True, allow_none=True
        )
        self.systemic_velocity = as_quantity(
            systemic_velocity, "systemic_velocity", "speed", scalar=True, allow_none=True
        )
        if self.systemic_velocity is not None:
            self.systemic_velocity = self.systemic_velocity.to(KM_S)
        self.name = name or "galaxy"
        self.meta = dict(meta or {})
        if fill_value is not None:
            self.meta["blank_fill"] = fill_value * KM_S

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self):
        """``(ny, nx)`` shape of the maps."""
        return self.moment0.shape

    @property
    def n_valid(self):
        """Number of valid pixels."""
        return int(self.mask.sum())

    def _jacobian_from_wcs(self):
        """`wcs_jacobian` of the maps' WCS at their centre."""
        shape = self.moment0.shape if hasattr(self, "moment0") else (1, 1)
        return wcs_jacobian(self.wcs, shape)

    @property
    def sky_jacobian(self):
        """2x2 matrix turning pixel offsets ``(dx, dy)`` into ``(east, north)`` in arcsec.

        Without a WCS the standard orientation is assumed: north up, east left.
        """
        if self.wcs is not None:
            return self._jacobian_from_wcs()
        s = self.pixel_scale.to_value(u.arcsec)
        return np.array([[-s, 0.0], [0.0, s]])

    def beam_in_pixels(self):
        """Beam ``(major, minor)`` FWHM in pixels and its PA (deg, east of north), or None."""
        if self.beam is None:
            return None
        s = self.pixel_scale.to_value(u.arcsec)
        return (
            self.beam.major.to_value(u.arcsec) / s,
            self.beam.minor.to_value(u.arcsec) / s,
            self.beam.pa.to_value(u.deg),
        )

    # ------------------------------------------------------------------ derived maps
    def replace(self, **changes):
        """Return a copy with some attributes replaced (same validation)."""
        kwargs = dict(
            dispersion=self.dispersion,
            moment0_err=self.moment0_err,
            moment1_err=self.moment1_err,
            mask=self.mask,
            pixel_scale=self.pixel_scale,
            beam=self.beam,
            wcs=self.wcs,
            center=self.center,
            position_angle=self.position_angle,
            systemic_velocity=self.systemic_velocity,
            name=self.name,
            meta=self.meta,
        )
        moment0 = changes.pop("moment0", self.moment0)
        moment1 = changes.pop("moment1", self.moment1)
        kwargs.update(changes)
        return type(self)(moment0, moment1, **kwargs)

    def restrict(self, region):
        """Return a copy whose mask keeps only the pixels inside ``region``.

        Parameters
        ----------
        region : `regions.PixelRegion` or `regions.SkyRegion`
            E.g. an ellipse around the galaxy; a sky region needs a ``wcs``.
            Use :meth:`exclude` to mask out a companion instead.
        """
        return self.replace(mask=self.mask & self._region_mask(region))

    def exclude(self, region):
        """Return a copy with the pixels inside ``region`` masked out (e.g. a companion)."""
        return self.replace(mask=self.mask & ~self._region_mask(region))

    def _region_mask(self, region):
        from regions import PixelRegion, SkyRegion

        if isinstance(region, SkyRegion):
            if self.wcs is None:
                raise GalkinError(
                    "A sky region needs maps with a WCS: build them with "
                    "galkin.KinematicMaps(..., wcs=...), or use a PixelRegion."
                )
            region = region.to_pixel(self.wcs)
        if not isinstance(region, PixelRegion):
            raise GalkinError(
                "region must be a regions.PixelRegion or regions.SkyRegion "
                f"(e.g. EllipsePixelRegion); got {type(region).__name__}."
            )
        ny, nx = self.shape
        rmask = region.to_mask(mode="center")
        return rmask.to_image((ny, nx)).astype(bool)

    def __repr__(self):
        beam = "none" if self.beam is None else f"{self.beam.major.to(u.arcsec):.3g}"
        return (
            f"<KinematicMaps {self.name!r} {self.shape[1]}x{self.shape[0]} px, "
            f"{self.n_valid} valid, pixel {self.pixel_scale:.3g}, beam {beam}>"
        )
