"""Serve HTTP and websockets with daphne, with the background worker in the same process.

On the embedded default the in-memory channel layer reaches only sockets of this process, so
the worker must run here for its pushes (offers, timeouts) to arrive. In scale-out, each
process may run one too (they never apply a deadline twice) or use --no-worker with separate
`run_worker` processes.
"""

import asyncio
import logging
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run daphne on HOST:PORT, with the worker in-process unless --no-worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options):
        # Importing daphne.server installs Twisted's asyncio reactor: it must come first.
        from daphne.access import AccessLogGenerator
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from omnichannel.asgi import application

        def start_worker() -> None:
            if not no_worker:
                asyncio.get_event_loop().create_task(_worker_loop())

        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            action_logger=AccessLogGenerator(sys.stdout),
            ready_callable=start_worker,
        ).run()


async def _worker_loop() -> None:
    from channels.db import database_sync_to_async

    from omnichannel.conversations.worker import tick

    # Off the thread that runs sync views, so a slow pass never delays a page.
    run = database_sync_to_async(tick, thread_sensitive=False)
    interval = settings.OMNICHANNEL["WORKER_INTERVAL_SECONDS"]
    while True:
        try:
            await run()
        except Exception:
            logger.exception("worker pass failed")
        await asyncio.sleep(interval)
