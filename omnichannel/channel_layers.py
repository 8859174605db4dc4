"""The in-memory channel layer of the embedded default, without its sweep on every message."""

import time

from channels.layers import InMemoryChannelLayer


class EmbeddedChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer sweeps every channel and every group membership for expiry on
    each receive and group_send: work in proportion to the open sockets for every message, which
    profiling found to be half the server's time with 600 chat sockets. Expiries here are a
    minute (messages) and a day (groups), so sweeping at most once a second keeps their meaning."""

    sweep_interval_seconds = 1.0
    _swept_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= self.sweep_interval_seconds:
            self._swept_at = now
            super()._clean_expired()
