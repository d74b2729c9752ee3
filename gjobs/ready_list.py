"""The ready list: ids of jobs waiting to run, first in first out.

Producers push on the left; workers take from the right (see ``processing_list``). Jobs put back
by a shutdown or a recovery are pushed on the right, so they run next.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from . import scripts
from .keys import Keys, text


class ReadyList:
    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._enqueue = scripts.register(client, "enqueue")
        self._keys = [keys.jobs, keys.ready]

    def add(self, entries: Sequence[Tuple[str, bytes]], client: Any = None) -> Any:
        """Store ``(id, payload)`` pairs and make them ready, in order, in one atomic call.

        ``client`` may be a pipeline, to send several batches in one round trip.
        """
        args = [part for entry in entries for part in entry]
        return self._enqueue(keys=self._keys, args=args, client=client)

    def size(self) -> int:
        return int(self.client.llen(self.keys.ready))

    def peek(self, count: int = 10) -> List[str]:
        """The ids that run next, next first."""
        ids = self.client.lrange(self.keys.ready, -count, -1)
        return [text(i) for i in reversed(ids)]
