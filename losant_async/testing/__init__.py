"""A local Losant API server for tests."""

from ._examples import EncodedRequest, SeededIds, encode_request
from ._faults import FaultRule, Faults
from ._journal import Journal, JournalEntry, Stats
from ._server import FakeLosant

__all__ = [
    "EncodedRequest",
    "FakeLosant",
    "FaultRule",
    "Faults",
    "Journal",
    "JournalEntry",
    "SeededIds",
    "Stats",
    "encode_request",
]
