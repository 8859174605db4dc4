"""A standalone worker process for scale-out: as many as you like, side by side."""

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from omnichannel.conversations.worker import tick


class Command(BaseCommand):
    help = "Apply deadlines (offers, reconnects, waiting, wrap-up) and distribute work, until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")

    def handle(self, *args, once: bool, **options):
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        interval = settings.OMNICHANNEL["WORKER_INTERVAL_SECONDS"]
        while not stopping:
            done = tick()
            if once:
                self.stdout.write(str(done))
                return
            time.sleep(interval)
