"""What a queue did, counted in Redis: totals since it began, and one bucket per minute.

The settle scripts the workers already call keep them, so counting adds no round trip: a
completion adds its batch to ``{prefix}:completed``, a retry adds one to ``{prefix}:retried``, a
burial (a last failure, or a job of a lost worker out of attempts) one to ``{prefix}:buried``;
and each adds the same to the hash of the current minute (``{prefix}:minute:N``, N the minute
since the epoch by Redis's clock as the worker last read it), which expires by itself
:data:`BUCKET_TTL` seconds after its last write. Totals only grow, so every reader (a
Prometheus exporter, the dashboard) sees the same counts whichever worker did the work.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .clock import redis_now
from .keys import Keys

#: Seconds a minute's bucket is kept after its last write: two hours.
BUCKET_TTL = 7200
#: What a bucket counts.
FIELDS = ("succeeded", "retried", "dead")


def minute_of(moment: float) -> int:
    """The bucket of ``moment`` (epoch seconds): minutes since the epoch."""
    return int(moment // 60)


def totals(client: Any, keys: Keys) -> Dict[str, int]:
    """``succeeded``, ``retried``, ``dead`` (jobs buried, ever) and ``failed`` (attempts that
    failed: retried or buried), since the queue began."""
    completed, retried, buried = client.mget(keys.completed, keys.retried, keys.buried)
    counts = {"succeeded": int(completed or 0), "retried": int(retried or 0), "dead": int(buried or 0)}
    counts["failed"] = counts["retried"] + counts["dead"]
    return counts


def history(client: Any, keys: Keys, minutes: int = 60, now: Optional[float] = None) -> List[Dict[str, int]]:
    """The last ``minutes`` minutes by Redis's clock (at ``now`` if given), oldest first: each a
    dict with ``minute`` (its start, epoch seconds) and the counts of :data:`FIELDS`."""
    if now is None:
        now = redis_now(client)
    last = minute_of(now)
    pipe = client.pipeline(transaction=False)
    span = range(last - minutes + 1, last + 1)
    for minute in span:
        pipe.hmget(keys.minute(minute), *FIELDS)
    rows = []
    for minute, values in zip(span, pipe.execute()):
        row = {"minute": minute * 60}
        row.update({field: int(value or 0) for field, value in zip(FIELDS, values)})
        rows.append(row)
    return rows
