"""Reading the data: FITS files, spectral cubes and moment maps -> `KinematicMaps`.

The first stage of the data path, in the order a cube goes through it:

* :mod:`galkin.io.maps` -- `KinematicMaps`, the data model every fit starts from;
* :mod:`galkin.io.masking` -- noise in line-free channels and 3-D emission masks;
* :mod:`galkin.io.cube` -- :func:`~galkin.io.cube.maps_from_cube`, moments of a cube;
* :mod:`galkin.io.survey` -- the survey-adapter interface plugins implement;
* :mod:`galkin.io.loading` -- :func:`galkin.load`: which adapter knows a file.
"""
