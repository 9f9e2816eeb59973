"""Reading the data: FITS files, spectral cubes and moment maps -> `KinematicMaps`.

The first stage of the data path, in the order a cube goes through it:

* :mod:`galkin.io.maps` -- `KinematicMaps`, the data model every fit starts from;
* :mod:`galkin.io.blanks` -- blanks written as a value (0, -1e30) instead of NaN;
* :mod:`galkin.io.spectral` -- the spectral axis in km/s: rest frequency, convention;
* :mod:`galkin.io.noise` -- the noise in line-free channels and of each channel;
* :mod:`galkin.io.masking` -- 3-D emission masks (smooth, clip);
* :mod:`galkin.io.moments` -- noise -> mask -> moments and their errors, on arrays;
* :mod:`galkin.io.fitscube` -- :func:`~galkin.io.fitscube.maps_from_fits`, a FITS cube
  read once into arrays (the survey path);
* :mod:`galkin.io.cube` -- :func:`~galkin.io.cube.maps_from_cube`, moments of a
  `~spectral_cube.SpectralCube` (the reference);
* :mod:`galkin.io.survey` -- the survey-adapter interface plugins implement;
* :mod:`galkin.io.loading` -- :func:`galkin.load`: which adapter knows a file;
* :mod:`galkin.io.files` -- one file per galaxy from files and directories.
"""
