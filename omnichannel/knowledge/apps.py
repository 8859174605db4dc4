from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    """Knowledge articles: managed in admin, searched from the agent workspace, linked in chats (KB-1)."""

    name = "omnichannel.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge base")
