"""msgspec Structs for every schema of the Losant API (generated; loaded on first use).

Each model ignores unknown fields and defaults absent ones to ``None``; encoding omits
``None`` fields, so a partly filled model is a valid request body. ``to_dict()`` /
``to_json()`` give the API's (camelCase) names, or attribute names with
``python_names=True``; ``Model.from_dict()`` / ``from_json()`` read the API's names.

Every type a model uses is exported here. Names:

- a schema of the API (``#/definitions/deviceAttributePost``) is its name in PascalCase
  (``DeviceAttributePost``);
- a nested object is named for where it lives, its owner's name and then the field's:
  ``Device.connection_info`` is a ``DeviceConnectionInfo``; a list item takes the field's
  singular (``DeviceTag`` in ``Device.tags``), or ``Item`` when that name is taken
  (``DeviceAttributesItem``: ``DeviceAttribute`` is the API's own schema); a map's
  values take ``Value``; a collection's ``items`` take the collection's singular;
- a nested object with exactly the shape of a schema whose name ends with the field's
  is that schema (``Devices.items`` holds ``Device``);
- the variants of one resource (``device``, ``devicePost``, ``devicePatch``) share one
  type per field (``DeviceTag``); equal shapes in places whose names end alike share that
  ending when it still names an owner (``SummaryPayloadCount``); otherwise each place
  has a type of its own. The docstring of a nested type names one place it appears in.

The models live in generated modules of a few dozen models each: a name loads its module
(and the modules that one imports) on first use, so a call loads the modules of the models
it decodes, not every model. ``from losant_async.models import *`` loads them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._generated.models import MODULES as _MODULES
from ._models import Model
from ._models import model_module as _module

if TYPE_CHECKING:
    # Type checkers see every name as imported, and no module ``__getattr__`` that would
    # let a misspelt one pass.
    from ._generated.models._all import *  # noqa: F403
    from ._generated.models._all import __all__ as __all__


def _getattr(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _module(name)
    # The module's other names too: later lookups of any of them find them at once.
    found = globals()
    found.update((n, getattr(module, n)) for n in module.__all__)
    return found[name]


def _dir() -> list[str]:
    return sorted({*globals(), *_MODULES})


if not TYPE_CHECKING:
    __all__ = ["Model", *sorted(_MODULES)]
    __getattr__ = _getattr
    __dir__ = _dir
