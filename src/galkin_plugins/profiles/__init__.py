"""galkin's built-in decoder profiles, registered through the ordinary hook.

Intensity profiles: ``exponential`` (the thesis default), ``sersic``,
``truncated_gaussian``, ``truncated_exponential``, ``rings``.  Velocity
profiles: ``arctan`` (the thesis default), ``courteau``, ``polyex``,
``rings``.  Each lives in the module named after it (both ``rings`` profiles in
:mod:`.rings`).
"""

from galkin.hookspecs import hookimpl

from .arctan import ArctanProfile
from .courteau import CourteauProfile
from .exponential import ExponentialProfile
from .polyex import PolyexProfile
from .rings import RingsIntensityProfile, RingsVelocityProfile
from .sersic import SersicProfile
from .truncated_exponential import TruncatedExponentialProfile
from .truncated_gaussian import TruncatedGaussianProfile

__all__ = [
    "ArctanProfile",
    "CourteauProfile",
    "ExponentialProfile",
    "PolyexProfile",
    "RingsIntensityProfile",
    "RingsVelocityProfile",
    "SersicProfile",
    "TruncatedExponentialProfile",
    "TruncatedGaussianProfile",
    "galkin_register_profiles",
]


@hookimpl
def galkin_register_profiles():
    """Register the built-in intensity and velocity profiles."""
    return [
        ExponentialProfile,
        SersicProfile,
        TruncatedGaussianProfile,
        TruncatedExponentialProfile,
        ArctanProfile,
        CourteauProfile,
        PolyexProfile,
        RingsIntensityProfile,
        RingsVelocityProfile,
    ]
