"""pytest runs the ``>>>`` examples of these pages as doctests (``--doctest-glob=*.rst``).

``conf.py`` is Sphinx's configuration, not a module to import (it needs the
docs extras), and ``_build``/``api`` hold generated files.
"""

collect_ignore = ["conf.py"]
collect_ignore_glob = ["_build/*", "api/*"]
