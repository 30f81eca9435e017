"""msgspec Structs for every schema of the Losant API (generated; loaded on first use).

Each model ignores unknown fields and defaults absent ones to ``None``; encoding omits
``None`` fields, so a partly filled model is a valid request body.
"""

from ._generated.models import *  # noqa: F403
from ._generated.models import __all__ as _generated_all
from ._models import Model

__all__ = ["Model", *_generated_all]
