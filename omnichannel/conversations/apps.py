from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "omnichannel.conversations"
    label = "conversations"
    verbose_name = _("Omnichannel")

    def ready(self) -> None:
        from .presences import ensure_base_presences
        from .roles import ensure_roles

        # Roles and base presences exist on every installation, demo data or not.
        post_migrate.connect(ensure_roles, sender=self)
        post_migrate.connect(ensure_base_presences, sender=self)
