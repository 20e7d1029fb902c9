"""Names from a closed set (campaigns, media, creatives) as small ints for numpy columns."""

from __future__ import annotations


class NameIds:
    """Interns names: ``id_of`` gives each new name the next int; ``names[i]`` gives it back."""

    __slots__ = ("_ids", "names")

    def __init__(self) -> None:
        self.names: list[str] = []
        self._ids: dict[str, int] = {}

    def id_of(self, name: str) -> int:
        name_id = self._ids.get(name)
        if name_id is None:
            name_id = self._ids[name] = len(self.names)
            self.names.append(name)
        return name_id
