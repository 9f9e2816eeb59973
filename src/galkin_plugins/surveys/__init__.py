"""Survey adapters: ALMA and HI cubes, SoFiA moment maps, SAMI and MaNGA IFU maps.

Each module reads one survey's files with its documented conventions and
returns `~galkin.KinematicMaps`; :func:`galkin.load` picks the adapter through
the :func:`~galkin.hookspecs.galkin_identify_survey` hook implemented here,
which asks each adapter's ``identify`` in the order of :data:`ADAPTERS`.
"""

from galkin.hookspecs import hookimpl

from .alma import AlmaAdapter
from .hi import HIAdapter
from .manga import MangaAdapter
from .sami import SamiAdapter

__all__ = [
    "ADAPTERS",
    "AlmaAdapter",
    "HIAdapter",
    "MangaAdapter",
    "SamiAdapter",
    "galkin_register_survey_adapters",
    "galkin_identify_survey",
]

#: The built-in adapters, most specific first (the order ``identify`` is asked in).
ADAPTERS = (MangaAdapter, SamiAdapter, AlmaAdapter, HIAdapter)


@hookimpl
def galkin_register_survey_adapters():
    """Register the built-in survey adapters."""
    return list(ADAPTERS)


@hookimpl
def galkin_identify_survey(path, header):
    """Return the first built-in adapter whose ``identify`` claims ``path``, or None."""
    for adapter in ADAPTERS:
        if adapter.identify(path, header):
            return adapter
    return None
