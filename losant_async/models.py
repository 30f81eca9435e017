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
"""

from ._generated.models import *  # noqa: F403
from ._generated.models import __all__ as _generated_all
from ._models import Model

__all__ = ["Model", *_generated_all]
