"""From a table of fits to the Tully-Fisher relation: galkin's science post-processors.

Each step takes the `~astropy.table.QTable` that ``galkin.fit_many`` returns
(one row per galaxy) and returns a new table or a result, never dropping rows:

========================= ============================================================
post-processor            does
========================= ============================================================
``"join"``                :class:`JoinCatalogue`: add a user catalogue by galaxy id
``"asymmetric_drift"``    :class:`AsymmetricDrift`: V_max corrected by thesis Eq. 4.4
``"quality_cuts"``        :class:`QualityCuts`: flag i < 30 deg and poor reconstructions
``"tully_fisher"``        :class:`TullyFisher`: LtsFit fit, a :class:`TullyFisherFit`
``"correlations"``        :class:`Correlations`: Spearman rho with catalogue columns
========================= ============================================================

Figures are in :mod:`galkin_plugins.science.figures` and thesis Table 4.1 in
:func:`literature_table`.
"""

from galkin.hookspecs import hookimpl

from .catalogue import JoinCatalogue, join_catalogue
from .correlations import Correlations, spearman_correlations
from .cuts import QualityCuts
from .drift import AsymmetricDrift, drift_corrected_v_max, mean_dispersion
from .literature import LITERATURE_FITS, LITERATURE_PIVOT, literature_table
from .tully_fisher import TullyFisher, TullyFisherFit, fit_tully_fisher

__all__ = [
    "JoinCatalogue",
    "join_catalogue",
    "AsymmetricDrift",
    "mean_dispersion",
    "drift_corrected_v_max",
    "QualityCuts",
    "TullyFisher",
    "TullyFisherFit",
    "fit_tully_fisher",
    "literature_table",
    "LITERATURE_FITS",
    "LITERATURE_PIVOT",
    "Correlations",
    "spearman_correlations",
    "galkin_register_postprocessors",
]


@hookimpl
def galkin_register_postprocessors():
    """Register the science post-processors under their ``name``."""
    return [JoinCatalogue, AsymmetricDrift, QualityCuts, TullyFisher, Correlations]
