"""The supervisor's ongoing-conversations dashboard (SUP-1): the page, and the same partials
its socket pushes (`consumers.DashboardConsumer`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from omnichannel.conversations.roles import supervisor_required

from ..contexts import dashboard_context


@login_required
@supervisor_required
def supervisor_home(request: HttpRequest) -> HttpResponse:
    context, valid = dashboard_context(user=request.user, params=request.GET)
    template = "supervision/home.html#dashboard" if request.htmx else "supervision/home.html"
    return render(request, template, context, status=200 if valid else 400)
