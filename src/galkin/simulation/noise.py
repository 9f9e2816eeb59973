"""Beam images and the noise of simulated cubes.

* :func:`beam_kernel` -- the beam on the pixel grid (north = +y, east = -x);
* :func:`add_noise` -- Gaussian noise at the thesis's S/N (Eq. 2.2), either
  white (independent pixels, as in optical IFU cubes or a noise-only model) or
  correlated like an interferometer's: convolved so that its spatial
  autocorrelation is the beam itself (a synthesised image's noise is white noise
  filtered by the uv coverage, whose autocorrelation is the synthesised beam).
"""

import numpy as np
from astropy import units as u
from radio_beam import Beam
from scipy.signal import fftconvolve

__all__ = ["beam_kernel", "add_noise"]

_FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


def beam_kernel(beam, pixel_scale):
    """Peak-normalised image of ``beam`` on a pixel grid with north = +y, east = -x.

    Parameters
    ----------
    beam : `radio_beam.Beam`
        Elliptical Gaussian beam; its PA is the major axis east of north.
    pixel_scale : float
        Pixel size in arcsec.

    Returns
    -------
    `numpy.ndarray`
        Odd-sized ``(ny, nx)`` kernel, 1 at the centre, extending to 4 sigma
        of the major axis. Convolving a Jy/pixel image with it gives Jy/beam.
    """
    sig_maj = beam.major.to_value(u.arcsec) * _FWHM_TO_SIGMA
    sig_min = beam.minor.to_value(u.arcsec) * _FWHM_TO_SIGMA
    pa = beam.pa.to_value(u.rad)
    half = int(np.ceil(4.0 * sig_maj / pixel_scale))
    dy, dx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    east, north = -dx * pixel_scale, dy * pixel_scale
    along = east * np.sin(pa) + north * np.cos(pa)
    across = east * np.cos(pa) - north * np.sin(pa)
    return np.exp(-0.5 * ((along / sig_maj) ** 2 + (across / sig_min) ** 2))


def add_noise(data, sigma, rng, *, beam=None, pixel_scale=None):
    """``data`` plus Gaussian noise of rms ``sigma`` per voxel.

    Parameters
    ----------
    data : `numpy.ndarray`
        ``(n_channel, ny, nx)`` cube.
    sigma : float
        Noise rms per voxel, in the unit of ``data``.
    rng : `numpy.random.Generator`
    beam : `radio_beam.Beam`, optional
        Correlate the noise of each channel over this beam: white noise is
        convolved with the Gaussian whose autocorrelation is the beam (the beam
        with sigmas divided by sqrt(2)) and rescaled to ``sigma``. None: white.
    pixel_scale : float, optional
        Pixel size in arcsec (needed with ``beam``).

    Returns
    -------
    `numpy.ndarray`
    """
    if beam is None:
        return data + rng.normal(0.0, 1.0, data.shape) * sigma
    root = Beam(major=beam.major / np.sqrt(2.0), minor=beam.minor / np.sqrt(2.0), pa=beam.pa)
    kernel = beam_kernel(root, pixel_scale)
    kernel /= np.sqrt(np.sum(kernel**2))  # unit rms after the convolution
    pad = kernel.shape[0] // 2
    nv, ny, nx = data.shape
    white = rng.normal(0.0, 1.0, (nv, ny + 2 * pad, nx + 2 * pad))
    noise = fftconvolve(white, kernel[None], mode="valid", axes=(1, 2))
    return data + noise * sigma
