"""ALMA cubes as exported from CASA (``exportfits``).

Conventions (CASA's FITS export, as in the ALMA science archive products):
axes RA, Dec, FREQ and a Stokes axis of length one (4-D array ``(1, nchan, ny,
nx)``); the line's rest frequency in RESTFRQ (converted with the radio velocity
convention, CASA's default, unless ``velocity_convention=`` says otherwise); the
brightness in Jy/beam; one restoring beam in BMAJ/BMIN/BPA (degrees) or, for
cubes imaged with per-channel beams, ``CASAMBM = T`` and a binary table
extension ``BEAMS`` (columns BMAJ, BMIN in arcsec, BPA in deg, CHAN, POL), which
spectral-cube reads as a `~spectral_cube.VaryingResolutionSpectralCube` that
:func:`galkin.io.cube.maps_from_cube` convolves to the common beam.

No public ALMA file is shipped with galkin's tests: they use small synthetic
files written to this data model (``tests/test_surveys.py``).
"""

from galkin.io.survey import SurveyAdapter

from ._common import cube_to_maps, spectral_axis
from .hi import is_hi_cube

__all__ = ["AlmaAdapter"]


class AlmaAdapter(SurveyAdapter):
    """CASA-exported ALMA line cubes -> `~galkin.KinematicMaps`.

    Identified by TELESCOP containing 'ALMA', or by ORIGIN 'CASA ...' with a
    frequency axis (when the HI adapter does not claim it), for files with a
    spectral axis of more than one channel.  Loading reads the cube with
    spectral-cube and takes its moments with :func:`galkin.io.cube.maps_from_cube`.
    """

    name = "alma"

    @classmethod
    def identify(cls, path, header):
        """True for a CASA/ALMA spectral cube (see the class docstring)."""
        axis, ctype = spectral_axis(header)
        if axis is None or int(header.get("NAXIS", 0)) < 3 or header[f"NAXIS{axis}"] < 2:
            return False
        if "ALMA" in str(header.get("TELESCOP", "")).upper():
            return True
        casa = str(header.get("ORIGIN", "")).upper().startswith("CASA")
        return casa and ctype.startswith("FREQ") and not is_hi_cube(header)

    def load(self, path, *, beam=None, return_cube=False, **kwargs):
        """Read an ALMA cube and return its moment maps.

        Parameters
        ----------
        path : `pathlib.Path`
        beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
            Overrides the header beam (or the common beam of a multi-beam cube,
            which is then convolved to it).
        return_cube : bool, optional
            Return the `~spectral_cube.SpectralCube` (Stokes I) instead of maps.
        **kwargs
            Passed to :func:`galkin.io.cube.maps_from_cube`: ``rest_frequency``,
            ``velocity_convention``, ``mask``, ``clip_sigma``, ``noise``, ``region``,
            ``name``, ``center``, ``position_angle``, ``systemic_velocity``.

        Returns
        -------
        `~galkin.KinematicMaps` or `~spectral_cube.SpectralCube`
            ``meta`` records the survey ('alma'), the file, the beam's source and
            how the moments were made.
        """
        from galkin.io.loading import read_primary_header

        header = read_primary_header(path)
        return cube_to_maps(
            path, header, survey=self.name, beam=beam, return_cube=return_cube, **kwargs
        )
