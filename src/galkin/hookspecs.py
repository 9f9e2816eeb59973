"""The hooks a galkin plugin may implement.

Plugins are modules (or objects) whose functions are marked with
:data:`galkin.hookimpl` and named after the specifications below.  galkin finds
them through the ``galkin`` entry-point group (see :doc:`/plugins/index`).
Hooks are always called with keyword arguments.

Registration hooks return lists of classes; galkin merges the lists of every
plugin into one registry per kind and refuses duplicate names.
"""

import pluggy

__all__ = [
    "hookspec",
    "hookimpl",
    "galkin_register_profiles",
    "galkin_register_models",
    "galkin_register_survey_adapters",
    "galkin_register_postprocessors",
    "galkin_register_pa_estimators",
    "galkin_register_classifiers",
    "galkin_register_ring_starts",
    "galkin_identify_survey",
]

#: Marker for hook specifications (used by galkin itself).
hookspec = pluggy.HookspecMarker("galkin")
#: Marker for hook implementations: decorate your plugin's functions with it.
hookimpl = pluggy.HookimplMarker("galkin")


@hookspec
def galkin_register_profiles():
    """Return decoder profile classes this plugin provides.

    Returns
    -------
    list of type
        Subclasses of `~galkin.profiles.IntensityProfile` or
        `~galkin.profiles.VelocityProfile`.
    """


@hookspec
def galkin_register_models():
    """Return kinematic model classes (subclasses of `~galkin.model.KinematicModel`).

    Returns
    -------
    list of type
    """


@hookspec
def galkin_register_survey_adapters():
    """Return survey adapter classes (subclasses of `~galkin.io.survey.SurveyAdapter`).

    Returns
    -------
    list of type
    """


@hookspec
def galkin_register_postprocessors():
    """Return post-processor classes (subclasses of `~galkin.postprocess.PostProcessor`).

    Returns
    -------
    list of type
    """


@hookspec
def galkin_register_pa_estimators():
    """Return position-angle estimator classes.

    Returns
    -------
    list of type
        Subclasses of `~galkin.position_angle.PositionAngleEstimator`.
    """


@hookspec
def galkin_register_classifiers():
    """Return velocity-map classifier classes (regular vs disturbed gas).

    Returns
    -------
    list of type
        Classes with a ``name``, ``size``, ``predict(images, masks, *, method)``
        (``method`` may be None; returns a dict with ``latent``, ``regular``,
        ``boundary_distance``, ``position_angle`` and optionally
        ``cae_distance`` and ``disc_residual``) and ``pa_error(inclination_deg)``,
        as used by :func:`galkin.classify`.
    """


@hookspec
def galkin_register_ring_starts():
    """Return ring-start estimator classes (subclasses of `~galkin.ring_start.RingStart`).

    Returns
    -------
    list of type
    """


@hookspec(firstresult=True)
def galkin_identify_survey(path, header):
    """Return the survey adapter class that can read ``path``, or `None`.

    Parameters
    ----------
    path : `pathlib.Path`
        The file to identify.
    header : `astropy.io.fits.Header` or None
        Its primary FITS header when the file is FITS, else `None`.

    Returns
    -------
    type or None
        The first adapter that claims the file wins.
    """
