"""galkin: physics-aware machine learning for galaxy kinematics.

Cube in, rotation curve out::

    import galkin
    res = galkin.fit(cube, mode="solo")
    res.to_table()

torch is imported only when a model runs, so ``import galkin`` stays fast.
"""

from ._version import __version__
from .exceptions import GalkinError, GalkinWarning, ModelWeightsError, PluginError, RejectedGalaxy
from .hookspecs import hookimpl
from .io.maps import KinematicMaps
from .plugins import (
    get_model,
    get_pa_estimator,
    get_postprocessor,
    get_profile,
    get_survey_adapter,
    list_models,
    list_pa_estimators,
    list_postprocessors,
    list_profiles,
    list_survey_adapters,
)

__all__ = [
    "__version__",
    "GalkinError",
    "GalkinWarning",
    "ModelWeightsError",
    "PluginError",
    "RejectedGalaxy",
    "hookimpl",
    "KinematicMaps",
    "fit",
    "fit_many",
    "load",
    "maps_from_cube",
    "FitResult",
    "simulate_cube",
    "classify",
    "get_model",
    "get_pa_estimator",
    "get_postprocessor",
    "get_profile",
    "get_survey_adapter",
    "list_models",
    "list_pa_estimators",
    "list_postprocessors",
    "list_profiles",
    "list_survey_adapters",
]


def __getattr__(name):
    # Lazy imports keep `import galkin` free of torch and spectral-cube.
    if name == "fit":
        from .fitting import fit

        return fit
    if name == "FitResult":
        from .result import FitResult

        return FitResult
    if name == "fit_many":
        from .batch import fit_many

        return fit_many
    if name == "load":
        from .io.loading import load

        return load
    if name == "maps_from_cube":
        from .io.cube import maps_from_cube

        return maps_from_cube
    if name == "simulate_cube":
        from .simulation.simulate import simulate_cube

        return simulate_cube
    if name == "classify":
        from .classification import classify

        return classify
    raise AttributeError(f"module 'galkin' has no attribute {name!r}")
