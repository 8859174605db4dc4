from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WidgetConfig(AppConfig):
    """The customer's surface: the embeddable chat widget (CH-1 to CH-5)."""

    name = "omnichannel.widget"
    label = "widget"
    verbose_name = _("Chat widget")
