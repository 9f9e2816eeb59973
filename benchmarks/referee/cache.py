"""On-disk cache of the referee's cubes and of 3D-Barolo's fits.

A cube is keyed by its condition set, seed and index *and* by a hash of its full
specification and of the generator's version, so that changing a condition set
or the generator makes new cubes instead of reusing stale ones. 3D-Barolo's
results are keyed by the cube file and a hash of the parameters it was run with.
Files are written to a temporary name and renamed, so parallel workers never
read half-written files.
"""

import hashlib
import json
import os
from pathlib import Path

__all__ = ["default_cache_dir", "content_hash", "read_json", "write_json", "atomic_path"]

#: Bump when the cube generator changes in a way that alters its cubes.
#: 2: the gas is drawn out to where it is negligible (1 cut it at the field's
#: corner radius, a sharp edge inside the field for large inclined discs).
GENERATOR_VERSION = 2


def default_cache_dir():
    """``$GALKIN_REFEREE_CACHE``, else ``~/.cache/galkin-referee``."""
    env = os.environ.get("GALKIN_REFEREE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "galkin-referee"


def content_hash(obj, *, length=10):
    """Short SHA-1 of the canonical JSON of ``obj`` (dict keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def atomic_path(path):
    """A temporary sibling of ``path`` (unique per process) to write and then rename."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    tmp.write_text(json.dumps(obj, indent=1, default=_jsonable))
    tmp.replace(path)


def read_json(path):
    """The JSON in ``path``, or None when there is no such file."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def _jsonable(value):
    """numpy scalars and arrays as Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
