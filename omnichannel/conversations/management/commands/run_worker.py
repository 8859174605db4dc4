"""A standalone worker process for scale-out: as many as you like, side by side."""

import asyncio

from django.core.management.base import BaseCommand

from omnichannel.conversations.worker import run_forever, tick


class Command(BaseCommand):
    help = "Apply deadlines (offers, reconnects, waiting, wrap-up) and distribute work, until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one pass, print what it did, and exit.")

    def handle(self, *args, once: bool, **options):
        if once:
            self.stdout.write(str(tick()))
            return
        try:
            asyncio.run(run_forever())
        except KeyboardInterrupt:
            pass
