"""The five base presences exist on every installation (PR-1); custom ones are added in admin."""

from .models import Presence, PresenceBase


def ensure_base_presences(**_kwargs) -> None:
    """Idempotent; run after every migrate (and after a test database flush)."""
    for base in PresenceBase:
        Presence.objects.get_or_create(name=str(base.label), defaults={"base": base})


def base_presence(base: PresenceBase) -> Presence:
    """The built-in presence of a base state (custom ones mapped to it come later)."""
    return Presence.objects.filter(base=base).order_by("pk").first()
