"""Which galaxies are disturbed? :func:`classify` with the CAE of thesis Chapter 2.

A moment-one map (from `~galkin.KinematicMaps`, a cube, or a bare velocity Quantity) is
cleaned of outliers, cropped, resampled and normalised by
:func:`galkin.velocity_image.velocity_image` (the same function that made the
training images) and embedded by the CAE. The decision combines the folded
latent space with how well a rotating disc fits the map
(:func:`galkin.disc_fit.fit_rotating_disc`) and whether the two agree on the
position angle (``method="combined"``, the default), or is the thesis's boundary
on the latent radius alone (``method="cae"``): a regular rotator has
``kappa > 0.5``. The latent angle is the position angle.

The position angle is east of north to the receding side: a map with a
celestial WCS (a cube, a survey's maps, a FITS image with RA/Dec axes) is
oriented by it, whatever its rotation or handedness; a map without one is
taken to have north up and east left (the standard orientation).
"""

import functools
import os
import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.table import QTable

from .exceptions import GalkinError, GalkinWarning
from .io.cube import is_cube, maps_from_cube
from .io.files import galaxy_name, read_velocity_data
from .io.maps import KinematicMaps, wcs_jacobian
from .quality import LOW_INCLINATION
from .units import KM_S, as_quantity

__all__ = ["classify", "Classification", "DEFAULT_CLASSIFIER"]

#: Registry name of the default classifier: the built-in CAE plugin.
DEFAULT_CLASSIFIER = "cae"


@dataclass
class Classification:
    """The CAE's verdict on one galaxy.

    Attributes
    ----------
    name : str
    label : {"regular", "disturbed"}
    latent : `numpy.ndarray`
        PCA-rotated latent coordinates ``(x, y, z)``.
    boundary_distance : float
        Distance from the decision boundary, positive on the regular side; near
        0 means an uncertain call.
    cae_distance : float
        Folded latent radius minus the thesis's boundary (positive: regular).
    disc_residual : float
        Rms residual of a rotating-disc fit to the normalised map (NaN with
        ``method="cae"``).
    position_angle, position_angle_error : `~astropy.units.Quantity`
        East of north to the receding side, and its calibrated 1-sigma (which
        depends on the inclination when one is given). Meaningful for regular
        rotators only.
    low_inclination : bool
        The inclination given is below `galkin.quality.LOW_INCLINATION` (30
        deg): the map shows ``v sin i``, little of the rotation, and regular
        rotators there are often called disturbed; the label is uncertain.
        False when no inclination is given.
    """

    name: str
    label: str
    latent: np.ndarray
    boundary_distance: float
    cae_distance: float
    disc_residual: float
    position_angle: u.Quantity
    position_angle_error: u.Quantity
    low_inclination: bool = False

    @property
    def regular(self):
        """True for a regular rotator."""
        return self.label == "regular"


@functools.cache
def _registered_classifier(name):
    from .plugins import get_classifier

    return get_classifier(name)()


def _velocity_map(data, index):
    """``(name, velocity in km/s with NaN blanks, mask, sky Jacobian or None)`` of one
    input; the Jacobian (pixel offsets -> east, north) where a WCS orients the map."""
    if isinstance(data, (str, os.PathLike)):  # named after its maps, else the file
        read, wcs = read_velocity_data(data, return_wcs=True)
        _, vel, mask, jacobian = _velocity_map(read, index)
        if jacobian is None and wcs is not None:  # a bare image oriented by its header
            jacobian = wcs_jacobian(wcs, vel.shape)
        return getattr(read, "name", None) or galaxy_name(data), vel, mask, jacobian
    if is_cube(data):
        data = maps_from_cube(data)
    if isinstance(data, KinematicMaps):
        jacobian = None if data.wcs is None else data.sky_jacobian
        return data.name, data.moment1.to_value(KM_S), data.mask, jacobian
    if isinstance(data, u.Quantity):
        vel = as_quantity(data, "data", "speed").to_value(KM_S)
        if vel.ndim != 2:
            raise GalkinError(
                f"A velocity map must be 2-D; got shape {vel.shape}. Pass a cube as a "
                "SpectralCube, or a list of maps to classify several galaxies."
            )
        return f"galaxy {index}", vel, np.isfinite(vel), None
    raise GalkinError(
        "classify needs a file path, a KinematicMaps, a SpectralCube, or a 2-D velocity "
        f"Quantity (e.g. moment1 * u.km / u.s), or a list of them; got {type(data).__name__}."
    )


def _on_sky(position_angle, jacobian):
    """A PA measured on the image as if north were up and east left (deg), east of north
    on the sky through the map's ``jacobian`` (None: the map is so oriented)."""
    if jacobian is None or not np.isfinite(position_angle):
        return position_angle
    pa = np.radians(position_angle)
    east, north = jacobian @ np.array([-np.sin(pa), np.cos(pa)])  # receding side
    return float(np.degrees(np.arctan2(east, north)) % 360.0)


def _input_name(item, index):
    """The name of an input that could not be read: its file, its maps' name, or its index."""
    if isinstance(item, (str, os.PathLike)):
        return galaxy_name(item)
    return getattr(item, "name", None) or f"galaxy {index}"


def _fill(out, ok):
    """The classifier's ``out`` arrays for the galaxies ``ok``, spread over every galaxy
    (NaN, or False, for the others)."""
    full = {}
    for key, value in out.items():
        value = np.asarray(value)
        blank = False if value.dtype == bool else np.nan
        full[key] = np.full((len(ok),) + value.shape[1:], blank, dtype=value.dtype)
        full[key][ok] = value
    return full


def classify(data, *, inclination=None, classifier=None, method=None):
    """Classify galaxies as regular rotators or disturbed, and estimate their PA.

    Parameters
    ----------
    data : object or list
        One galaxy or a list of them; a galaxy is a `~galkin.KinematicMaps`, a
        `~spectral_cube.SpectralCube`, a velocity `~astropy.units.Quantity` or a
        file (str or `pathlib.Path`), read by
        :func:`galkin.io.files.read_velocity_data` (a survey's maps, a cube, or a
        bare 2-D velocity image, in km/s without a velocity BUNIT: the label and
        angle do not depend on the unit). A bare Quantity is a 2-D moment-one map in
        any velocity unit, with NaN blanks, about any systemic velocity (it is
        subtracted), with or without outliers, the galaxy anywhere in the map,
        north up and east left. Any size; pixels must be square.
    inclination : `~astropy.units.Quantity`, optional
        Inclination (scalar, or one per galaxy, e.g. from photometry). It picks
        the calibrated PA uncertainty (without it the uncertainty over all
        inclinations is given) and flags galaxies below
        `galkin.quality.LOW_INCLINATION`, whose labels are uncertain (with a
        `~galkin.exceptions.GalkinWarning`); it does not change the label.
    classifier : str or object, optional
        A registered classifier name (see `galkin.plugins.list_classifiers`), or
        anything with ``predict(images, masks, *, method)``, ``pa_error(inclination_deg)``
        and ``size``; default the shipped CAE (``"cae"``).
    method : {"combined", "cae"}, optional
        ``"combined"`` (default when the classifier carries a fitted rule): the
        latent space, a rotating-disc fit and their PA agreement; ``"cae"``: the
        thesis's boundary on the folded latent radius alone.

    Returns
    -------
    Classification or `~astropy.table.QTable`
        A `~galkin.classification.Classification` for one galaxy; a table with one row per galaxy
        (``name``, ``label``, ``regular``, ``latent_x/y/z``, ``boundary_distance``,
        ``cae_distance``, ``disc_residual``, ``position_angle``,
        ``position_angle_error``, ``flag_low_inclination``, ``error``) for a list.
        In a list, a galaxy that cannot be read or prepared (a broken file, an
        empty map) keeps its row with label ``"failed"``, NaN values and the
        reason in ``error``, and a `~galkin.exceptions.GalkinWarning` says how
        many failed; the others are classified as usual. A single galaxy raises instead.
    """
    from .velocity_image import velocity_image

    many = isinstance(data, (list, tuple))
    items = list(data) if many else [data]
    if not items:
        raise GalkinError("classify got an empty list of galaxies.")
    if classifier is None:
        classifier = DEFAULT_CLASSIFIER
    if isinstance(classifier, str):
        classifier = _registered_classifier(classifier)
    names, images, masks, errors, jacobians = [], [], [], [], []
    for k, item in enumerate(items):
        try:
            name, vel, mask, jacobian = _velocity_map(item, k)
            image, valid, _ = velocity_image(vel, mask, size=classifier.size)
        except (GalkinError, OSError, ValueError) as exc:
            if not many:
                raise
            # a list keeps the galaxies that worked; this one's row says why not
            names.append(_input_name(item, k))
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        names.append(name)
        errors.append("")
        images.append(image)
        masks.append(valid)
        jacobians.append(jacobian)
    ok = np.array([e == "" for e in errors])
    if not ok.any():
        raise GalkinError(f"None of the {len(items)} galaxies could be classified: {errors[0]}")
    if not ok.all():
        warnings.warn(
            f"{int((~ok).sum())} of {len(items)} galaxies could not be classified (label "
            f"'failed', see the 'error' column); the first: {errors[int(np.argmin(ok))]}",
            GalkinWarning,
            stacklevel=2,
        )
    out = classifier.predict(np.stack(images), np.stack(masks), method=method)
    out["position_angle"] = np.array(
        [_on_sky(pa, jac) for pa, jac in zip(out["position_angle"], jacobians, strict=True)]
    )
    out = _fill(out, ok)
    incl = None
    low = np.zeros(len(items), dtype=bool)
    if inclination is not None:
        incl = as_quantity(inclination, "inclination", "angle").to_value(u.deg)
        try:
            incl = np.broadcast_to(incl, (len(items),))
        except ValueError:
            raise GalkinError(
                f"inclination must be one value or one per galaxy ({len(items)}); got "
                f"{np.size(incl)} values."
            ) from None
        low = ok & (incl < LOW_INCLINATION)
        _warn_low_inclination(np.asarray(names)[low], len(items))
    err = np.where(ok, np.broadcast_to(classifier.pa_error(incl), (len(items),)), np.nan)
    label = np.where(ok, np.where(out["regular"], "regular", "disturbed"), "failed")
    table = QTable(
        {
            "name": names,
            "label": label,
            "regular": out["regular"] & ok,
            "latent_x": out["latent"][:, 0],
            "latent_y": out["latent"][:, 1],
            "latent_z": out["latent"][:, 2],
            "boundary_distance": out["boundary_distance"],
            "cae_distance": out.get("cae_distance", out["boundary_distance"]),
            "disc_residual": out.get("disc_residual", np.full(len(items), np.nan)),
            "position_angle": out["position_angle"] * u.deg,
            "position_angle_error": np.asarray(err, dtype=float) * u.deg,
            "flag_low_inclination": low,
            "error": errors,
        }
    )
    if many:
        return table
    return Classification(
        name=names[0],
        label=str(label[0]),
        latent=out["latent"][0],
        boundary_distance=float(out["boundary_distance"][0]),
        cae_distance=float(out["cae_distance"][0]),
        disc_residual=float(out["disc_residual"][0]),
        position_angle=table["position_angle"][0],
        position_angle_error=table["position_angle_error"][0],
        low_inclination=bool(low[0]),
    )


def _warn_low_inclination(names, total):
    """One warning naming the galaxies seen within `LOW_INCLINATION` of face-on."""
    if not len(names):
        return
    listed = ", ".join(repr(str(n)) for n in names[:3]) + (" ..." if len(names) > 3 else "")
    warnings.warn(
        f"{len(names)} of {total} galaxies ({listed}) are inclined less than "
        f"{LOW_INCLINATION:g} deg: a velocity field shows v sin i, little of the rotation "
        "near face-on, and regular rotators there are often called disturbed "
        "(benchmarks/bench_cae.py prints the recall by inclination); their labels are "
        "uncertain (flag_low_inclination).",
        GalkinWarning,
        stacklevel=3,
    )
