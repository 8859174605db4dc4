"""A message's body as the transcript shows it: escaped, line breaks kept, and web addresses
as links that open outside the chat (an agent's knowledge article link, KB-1)."""

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.html import Urlizer
from django.utils.safestring import mark_safe

register = template.Library()


class _NewTabUrlizer(Urlizer):
    # The widget runs in an iframe: a link must not navigate the chat away.
    url_template = '<a href="{href}" target="_blank" rel="noopener noreferrer"{attrs}>{url}</a>'


_urlize = _NewTabUrlizer()


@register.filter(is_safe=True, needs_autoescape=True)
def message_text(body: str, autoescape: bool = True):
    # Most messages hold no address: skip the urlizer's per-word work on the chat's hot path.
    if "://" not in body and "www." not in body:
        return linebreaksbr(body, autoescape)
    # The urlizer escapes every word it does not link (autoescape), so its output is safe.
    return linebreaksbr(mark_safe(_urlize(body, autoescape=autoescape)))
