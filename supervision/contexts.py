"""What the supervisor's pages and their socket pushes render, built once for both."""

from __future__ import annotations

from django.http import QueryDict
from django.utils import timezone

from .forms import DashboardFilters
from .selectors import dashboard


def dashboard_context(*, user, params: QueryDict) -> tuple[dict, bool]:
    """What the dashboard shows for these query parameters, and whether they were valid.
    Bad filter values are named and nothing is listed for them."""
    filters = DashboardFilters(params)
    if not filters.is_valid():
        return {"filters": filters, "problems": filters.problems()}, False
    query = params.copy()
    query.pop("page", None)
    encoded = query.urlencode()
    now = timezone.now()
    return {
        "filters": filters,
        "now": now,
        "query": f"{encoded}&" if encoded else "",
        "socket_url": f"/ws/supervisor/?{params.urlencode()}" if params else "/ws/supervisor/",
        **dashboard(user=user, lookups=filters.lookups(), page=filters.cleaned_data["page"], now=now),
    }, True
