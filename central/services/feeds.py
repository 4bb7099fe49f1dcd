"""Per-resident and per-contact feeds: append-only records with increasing
sequence numbers, so "anything new since N?" is one indexed read."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from central.errors import InvalidInput, NotFound
from central.schema import feed_records, feeds

MAX_PAGE = 500


@dataclass(frozen=True)
class FeedRecord:
    seq: int
    kind: str
    ref: str
    body: dict[str, Any]
    created_at: int


def append(conn: Connection, feed: str, kind: str, ref: str, body: Mapping[str, Any],
           at: int) -> int:
    """Add a record to ``feed`` and return its sequence number.

    The head moves with an UPDATE ... RETURNING, which holds the feed's row
    until the transaction ends, so two writers never take the same number.
    """
    head = conn.execute(update(feeds).where(feeds.c.feed == feed).values(head=feeds.c.head + 1)
                        .returning(feeds.c.head)).scalar()
    if head is None:
        raise NotFound(f"no feed {feed}")
    conn.execute(feed_records.insert().values(feed=feed, seq=head, kind=kind, ref=ref,
                                              body=json.dumps(body, sort_keys=True),
                                              created_at=at))
    return int(head)


def head(conn: Connection, feed: str) -> int:
    value = conn.execute(select(feeds.c.head).where(feeds.c.feed == feed)).scalar()
    if value is None:
        raise NotFound(f"no feed {feed}")
    return int(value)


def since(conn: Connection, feed: str, after: int, limit: int = MAX_PAGE) -> list[FeedRecord]:
    """Records with seq > ``after``, oldest first, at most ``limit``."""
    if after < 0 or not (0 < limit <= MAX_PAGE):
        raise InvalidInput(f"since must be >= 0 and limit 1..{MAX_PAGE}")
    rows = conn.execute(select(feed_records).where(feed_records.c.feed == feed,
                                                   feed_records.c.seq > after)
                        .order_by(feed_records.c.seq).limit(limit))
    return [FeedRecord(r.seq, r.kind, r.ref, json.loads(r.body), r.created_at) for r in rows]
