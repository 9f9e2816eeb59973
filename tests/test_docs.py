"""The documentation covers the plugin hooks (datasette's test_plugin_hooks_are_documented)."""

import re
from pathlib import Path

import pytest

from galkin import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
HOOK_DIRECTIVE = re.compile(r"^\.\. autofunction:: galkin\.hookspecs\.(\w+)\s*$", re.MULTILINE)


def hook_names():
    """Every function in galkin.hookspecs marked as a hook specification."""
    return sorted(
        name
        for name in dir(hookspecs)
        if callable(getattr(hookspecs, name)) and hasattr(getattr(hookspecs, name), "galkin_spec")
    )


def documented_hooks():
    """Hooks rendered with ``.. autofunction:: galkin.hookspecs.<name>`` in docs/**/*.rst."""
    found = set()
    for page in DOCS.rglob("*.rst"):
        if "_build" in page.parts or "api" in page.relative_to(DOCS).parts[:1]:
            continue
        found.update(HOOK_DIRECTIVE.findall(page.read_text(encoding="utf-8")))
    return found


def test_hookspecs_are_found():
    # Guards the test below against finding nothing (it then could not fail).
    assert "galkin_register_profiles" in hook_names()
    assert set(hook_names()) == {n for n in hookspecs.__all__ if n.startswith("galkin_")}


@pytest.mark.parametrize("hook", hook_names())
def test_plugin_hooks_are_documented(hook):
    assert hook in documented_hooks(), (
        f"Hook {hook} is not documented: add '.. autofunction:: galkin.hookspecs.{hook}' "
        "with a few words on when to implement it to docs/plugins/hooks.rst."
    )


def test_documented_hooks_exist():
    extra = documented_hooks() - set(hook_names())
    assert not extra, f"docs document hooks that do not exist: {sorted(extra)}"
