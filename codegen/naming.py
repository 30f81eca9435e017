"""Name conversions shared by the generators."""

from __future__ import annotations

import keyword
import re

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def snake(name: str) -> str:
    """``payloadCountsBreakdown`` -> ``payload_counts_breakdown``; ``urlTTL`` -> ``url_ttl``."""
    lead = "_" if name.startswith("_") else ""
    words = [w for w in _NON_WORD.split(name) if w]
    out = "_".join(_BOUNDARY.sub("_", w).lower() for w in words)
    if not out:
        out = "field"
    if out[0].isdigit():
        out = "f_" + out
    out = lead + out
    if keyword.iskeyword(out) or keyword.issoftkeyword(out):
        out += "_"
    return out


def pascal(name: str) -> str:
    """``payloadCountsBreakdown`` -> ``PayloadCountsBreakdown``."""
    words = [w for w in _NON_WORD.split(name) if w]
    out = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    if out[0].isdigit():
        out = "M" + out
    return out


def camel(snake_name: str) -> str:
    """msgspec's ``rename="camel"`` rule, to know when a field needs an explicit name."""
    stripped = snake_name.lstrip("_")
    lead = snake_name[: len(snake_name) - len(stripped)]
    parts = stripped.split("_")
    return lead + parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


_IRREGULAR = {"axes": "axis", "statuses": "status", "indices": "index", "analyses": "analysis"}
_UNCOUNTABLE = {"series", "species", "news", "data", "metadata"}


def singular(word: str) -> str | None:
    """The singular of an English plural (``Authorities`` -> ``Authority``), else None.

    Only the last word of a PascalCase name counts: ``yAxes`` -> ``yAxis``.
    """
    words = _BOUNDARY.split(word)
    last = words[-1]
    lower = last.lower()
    if lower in _UNCOUNTABLE:
        return None
    if lower in _IRREGULAR:
        one = _IRREGULAR[lower]
    elif lower.endswith("ies") and len(lower) > 4:
        one = lower[:-3] + "y"
    elif lower.endswith(("sses", "shes", "ches", "xes", "zes")):
        one = lower[:-2]
    elif lower.endswith("s") and not lower.endswith(("ss", "us", "is", "ies")) and len(lower) > 2:
        one = lower[:-1]
    else:
        return None
    one = last[0] + one[1:] if last[0].isupper() else one
    return "".join(words[:-1]) + one


def words(name: str) -> list[str]:
    """``DeviceAttributePost`` -> ``["Device", "Attribute", "Post"]``."""
    return [w for w in _BOUNDARY.split(name) if w]
