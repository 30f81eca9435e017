"""The base of every generated model."""

from __future__ import annotations

import msgspec


class Model(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """A Losant API object.

    Decoding ignores unknown fields and leaves absent ones ``None``, so responses that
    drift from the published schema still decode. Encoding omits ``None`` fields, so a
    partly filled model is a valid PATCH body.
    """
