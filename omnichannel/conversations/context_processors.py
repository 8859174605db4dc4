from .selectors import is_agent, is_supervisor


def navigation(request):
    """Which surfaces the header links to, by role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_agent": is_agent(user), "nav_supervisor": is_supervisor(user), "nav_admin": user.is_staff}
