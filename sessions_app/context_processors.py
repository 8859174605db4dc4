from django.utils.functional import SimpleLazyObject

from omnichannel.conversations.models import AgentProfile, Presence
from omnichannel.conversations.selectors import is_agent, pending_offers, pending_transfers


def agent_bar(request):
    """The presence selector and pending offers every agent page shows in its header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not is_agent(user):
        return {}
    return agent_bar_context(user)


def agent_bar_context(user) -> dict:
    # Lazy: pages that never show the bar (admin, partials) never query for it.
    return {
        "agent_profile": SimpleLazyObject(
            lambda: AgentProfile.objects.select_related("presence").filter(user=user).first()
        ),
        "presences": Presence.objects.all(),
        "offers": pending_offers(user),
        "transfers": pending_transfers(user),
    }
