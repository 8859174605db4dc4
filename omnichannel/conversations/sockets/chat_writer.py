"""Group commit for the chat sockets of one server process (CH-5, REL-1).

Every message and mark the process's sockets receive at about the same moment is stored in
one transaction by one writer thread with its own database connection; then each sender
gets its acknowledgement, carrying the message's sequence. Committing is most of what a
transaction per message would cost, so sharing commits is what lets a process store
thousands of messages a second. Nothing is acknowledged before it is committed: a message
lost with a dying process was never acknowledged, and its client sends it again under the
same idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections

from ..actions.messages import Mark, Post, Posted, messages_mark, messages_post

logger = logging.getLogger(__name__)
MAX_BATCH = 500
# Fewer items than SMALL_BATCH wait LINGER_SECONDS for company before they are written: under
# moderate load that makes batches larger, and each batch's fixed cost (a transaction, its
# statements, the hop to the writer's thread) was what kept the server near full CPU at half
# its maximum rate (bench chat: 93% CPU before, 75% after, at the same rate). It costs a light
# load about 2 ms per message.
SMALL_BATCH = 8
LINGER_SECONDS = 0.002
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-writer")


def _write(items: list[Post | Mark]) -> list[Posted | None]:
    posts = [item for item in items if isinstance(item, Post)]
    marks = [item for item in items if isinstance(item, Mark)]
    try:
        posted = iter(messages_post(posts=posts) if posts else ())
    except DatabaseError:
        connections.close_all()  # the next batch starts on a fresh connection
        raise
    if marks:
        try:
            messages_mark(marks=marks)
        except DatabaseError:
            # Marks only report what a client saw, and the next mark carries them on; the
            # posts above are committed and must still be acknowledged.
            logger.exception("Delivery and read marks were not stored")
            connections.close_all()
    return [next(posted) if isinstance(item, Post) else None for item in items]


class _Writer:
    """One per event loop: collects items while a batch is being written, then writes them all."""

    def __init__(self) -> None:
        self.pending: list[tuple[Post | Mark, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, item: Post | Mark):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((item, future))
        if self.task is None:
            self.task = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        write = sync_to_async(_write, thread_sensitive=False, executor=_executor)
        try:
            while self.pending:
                if len(self.pending) < SMALL_BATCH:
                    await asyncio.sleep(LINGER_SECONDS)
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    results = await write([item for item, _ in batch])
                except Exception as error:
                    logger.exception("A batch of %s chat items was not stored", len(batch))
                    results = [error] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue  # its socket closed meanwhile
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.task = None


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = weakref.WeakKeyDictionary()


def _writer() -> _Writer:
    loop = asyncio.get_running_loop()
    if loop not in _writers:
        _writers[loop] = _Writer()
    return _writers[loop]


async def post(item: Post) -> Posted:
    """Store one message with the others arriving now; returns once it is committed."""
    return await _writer().submit(item)


async def mark(item: Mark) -> None:
    await _writer().submit(item)


def close_connection() -> None:
    """Close the writer thread's database connection (tests do, before dropping their database)."""
    _executor.submit(connections.close_all).result()
