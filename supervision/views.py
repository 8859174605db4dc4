"""The supervisor's ongoing-conversations dashboard (SUP-1): the page, and the same partials
its socket pushes (`consumers.DashboardConsumer`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone

from omnichannel.conversations.roles import supervisor_required

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


@login_required
@supervisor_required
def supervisor_home(request: HttpRequest) -> HttpResponse:
    context, valid = dashboard_context(user=request.user, params=request.GET)
    template = "supervision/home.html#dashboard" if request.htmx else "supervision/home.html"
    return render(request, template, context, status=200 if valid else 400)
