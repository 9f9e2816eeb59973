"""A third-party profile package, installed for real, is found through its entry point.

``examples/galkin-example-profile`` is built and installed (offline, without
dependencies) into a temporary directory; galkin must then list its ``tanh``
profile, and the package's own contract tests (subclassing
:mod:`galkin.testing`) must pass in a fresh interpreter.
"""

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import galkin
import galkin.plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "galkin-example-profile"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("setuptools") is None,
    reason="building the example plugin offline needs setuptools in this environment",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Copy the example (so the build leaves no files in the repo) and pip-install it."""
    root = tmp_path_factory.mktemp("example_plugin")
    source = root / "source"
    skip = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(EXAMPLE, source, ignore=skip)
    target = root / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--quiet",
        "--target",
        str(target),
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    return source, target


@pytest.fixture
def on_path(installed, monkeypatch):
    """Put the installed plugin on sys.path; restore path, modules and manager after."""
    _, target = installed
    monkeypatch.delenv(galkin.plugins.DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.syspath_prepend(str(target))  # also invalidates import caches
    galkin.plugins.reset_plugin_manager()
    yield target
    galkin.plugins.reset_plugin_manager()
    sys.modules.pop("galkin_example_profile", None)


def test_found_through_entry_point(on_path):
    assert "tanh" in galkin.list_profiles("velocity")
    cls = galkin.get_profile("tanh", kind="velocity")
    assert cls.__module__ == "galkin_example_profile"
    assert Path(sys.modules[cls.__module__].__file__).is_relative_to(on_path)
    pm = galkin.plugins.get_plugin_manager()
    assert pm.get_plugin("example") is sys.modules["galkin_example_profile"]
    # the built-ins are still there
    assert {"arctan", "exponential"} <= set(galkin.list_profiles())


def test_autoload_can_be_disabled(on_path, monkeypatch):
    monkeypatch.setenv(galkin.plugins.DISABLE_AUTOLOAD_ENV, "1")
    galkin.plugins.reset_plugin_manager()
    assert "tanh" not in galkin.list_profiles()


def test_not_found_once_removed(on_path):
    # Sanity check of the fixture's clean-up: the plain environment lacks the plugin.
    sys.path.remove(str(on_path))
    importlib.invalidate_caches()
    galkin.plugins.reset_plugin_manager()
    assert "tanh" not in galkin.list_profiles()
    sys.path.insert(0, str(on_path))  # monkeypatch restores sys.path from its own copy


def test_contract_suite_passes(installed):
    source, target = installed
    env = dict(os.environ)
    env.pop(galkin.plugins.DISABLE_AUTOLOAD_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    done = subprocess.run(command, cwd=source, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout
