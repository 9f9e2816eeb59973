"""Checkpoints of survey runs: every finished row appended to a file, crash-safely.

:func:`galkin.fit_many` with ``checkpoint=PATH`` appends each finished row
(fitted, failed or rejected) to PATH as one line of JSON, flushed and synced to
disk before the run goes on.  A run that dies -- killed, out of memory, a node
lost -- leaves at worst a partial last line, which is dropped when the file is
read again; every earlier row is intact.  Calling ``fit_many`` again with the
same checkpoint and items fits only the galaxies missing from it.

The first line records the options of the run; a checkpoint written with other
options (another mode, number of Monte-Carlo samples...) is refused rather than
mixed into a table whose rows would not be comparable.
"""

import json
import os
from pathlib import Path

import numpy as np
from astropy import units as u

from .exceptions import GalkinError

__all__ = ["Checkpoint", "encode_row", "decode_row"]

_FORMAT = "galkin-checkpoint-1"


def _encode(value):
    if isinstance(value, dict):  # a row's rotation curve: columns by name
        return {"columns": {key: _encode(v) for key, v in value.items()}}
    if isinstance(value, u.Quantity):
        return {"value": _encode(value.value), "unit": value.unit.to_string()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict) and set(value) == {"columns"}:
        return {key: _decode(v) for key, v in value["columns"].items()}
    if isinstance(value, dict) and set(value) == {"value", "unit"}:
        return u.Quantity(np.asarray(value["value"], dtype=float), value["unit"])
    if isinstance(value, list):
        return np.asarray(value)
    return value


def encode_row(row):
    """A table row (dict of Quantities, arrays, numbers, strings) as plain JSON types."""
    return {key: _encode(value) for key, value in row.items()}


def decode_row(row):
    """The inverse of :func:`encode_row` (arrays come back as `numpy.ndarray`)."""
    return {key: _decode(value) for key, value in row.items()}


class Checkpoint:
    """The rows of one survey run in a JSON-lines file.

    Parameters
    ----------
    path : str or `pathlib.Path`
    options : dict
        The run's options, compared (as text) with those the file was written with.
    """

    def __init__(self, path, options):
        self.path = Path(path)
        self.options = {key: repr(value) for key, value in sorted(options.items())}

    def load(self):
        """The rows already in the file, by item key (``{}`` for a new checkpoint).

        A partial last line (a write cut short) is dropped and cut from the file,
        so that the next append starts on a line of its own.

        Raises
        ------
        GalkinError
            When the file is not a galkin checkpoint, or was written with other options.
        """
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._write_lines([{"format": _FORMAT, "options": self.options}], mode="w")
            return {}
        with open(self.path, "rb") as stream:
            content = stream.read()
        complete = content[: content.rfind(b"\n") + 1]
        if len(complete) < len(content):  # a write cut short by a crash
            with open(self.path, "r+b") as stream:
                stream.truncate(len(complete))
        lines = complete.decode("utf-8").splitlines()
        if not lines:  # the header itself was cut short
            self._write_lines([{"format": _FORMAT, "options": self.options}], mode="w")
            return {}
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError:
            header = {}
        if header.get("format") != _FORMAT:
            raise GalkinError(
                f"{self.path} is not a galkin checkpoint (its first line is not a galkin "
                "header); pass another checkpoint path."
            )
        if header.get("options") != self.options:
            changed = sorted(
                key
                for key in set(self.options) | set(header.get("options", {}))
                if self.options.get(key) != header.get("options", {}).get(key)
            )
            raise GalkinError(
                f"{self.path} was written by a run with other options ({', '.join(changed)} "
                "differ); resume with the same options, or use a new checkpoint path."
            )
        rows = {}
        for line in lines[1:]:
            record = json.loads(line)
            rows[record["key"]] = decode_row(record["row"])
        return rows

    def append(self, rows):
        """Append ``(key, row)`` pairs and sync them to disk."""
        self._write_lines([{"key": key, "row": encode_row(row)} for key, row in rows], mode="a")

    def _write_lines(self, records, mode):
        text = "".join(json.dumps(record) + "\n" for record in records)
        with open(self.path, mode, encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
