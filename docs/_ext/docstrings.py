"""Griffe extension for the API reference: the package's docstrings, rendered as Markdown.

The docstrings are Google style with Sphinx roles (``:class:`KeyRing```), which Markdown would show
raw: a role becomes a code span. A ``msgspec.Struct`` documents its fields under ``Args:`` (they are
its constructor's keyword arguments, but griffe sees no ``__init__``), so the section is read as
``Attributes:``, which lists fields without inventing "required" for those that have defaults.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj|const):`~?([^`]+)`")


class Docstrings(griffe.Extension):
    """Rewrites each docstring once, when griffe loads its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None:
            return
        text = ROLE.sub(r"`\1`", docstring.value)
        if isinstance(obj, griffe.Class) and any(str(base).endswith("Struct") for base in obj.bases):
            text = re.sub(r"^(\s*)Args:$", r"\1Attributes:", text, flags=re.MULTILINE)
        docstring.value = text
