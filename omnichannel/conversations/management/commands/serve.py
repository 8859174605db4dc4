"""Serve HTTP and websockets with daphne, with the background worker in the same process.

On the embedded default the in-memory channel layer reaches only sockets of this process, so
the worker must run here for its pushes (offers, timeouts) to arrive. In scale-out, each
process may run one too (they never apply a deadline twice) or use --no-worker with separate
`run_worker` processes.
"""

import asyncio
import gc
import sys

from django.core.management.base import BaseCommand


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
        from django.conf import settings
        from django.utils.module_loading import import_string

        from omnichannel.conversations.worker import run_forever

        application = import_string(settings.ASGI_APPLICATION)

        def start_worker() -> None:
            if no_worker:
                return
            # Keep a reference (an unreferenced task may be collected) and restart it if it ever ends.
            self.worker = asyncio.get_event_loop().create_task(run_forever())
            self.worker.add_done_callback(lambda task: task.cancelled() or start_worker())

        # A busy chat server allocates fast enough to run Python's cycle collector hundreds of
        # times a second (700 allocations apart), each pass walking the young objects and now
        # and then every object: a tenth of its time in profiles. What is loaded by now lives as
        # long as the process and leaves the collections; new objects are collected 10,000
        # allocations apart (most of ours are freed by reference counting long before), and the
        # older generations 50 and 100 times more rarely than the default 10: measured at load,
        # their passes paused the server 26 and 43 ms, which set the half-load p99 (bench chat).
        gc.collect()  # nothing left from start-up is frozen with the rest
        gc.freeze()
        gc.set_threshold(10_000, 50, 100)
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            action_logger=AccessLogGenerator(sys.stdout),
            ready_callable=start_worker,
        ).run()
