"""Per-user state the bidder reads on the hot path: frequency caps and audience tags."""

from bidder.stores.freqcap import EmbeddedFrequencyStore, FrequencyStore
from bidder.stores.persist import StoreFileError
from bidder.stores.tags import EmbeddedTagStore, TagStore

__all__ = [
    "EmbeddedFrequencyStore",
    "EmbeddedTagStore",
    "FrequencyStore",
    "StoreFileError",
    "TagStore",
]
