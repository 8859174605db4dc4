"""The supervisor's home: every ongoing conversation (SUP-1 grows from here)."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from omnichannel.conversations.selectors import ongoing_conversations


@login_required
@permission_required("conversations.supervise_conversation", raise_exception=True)
def supervisor_home(request: HttpRequest) -> HttpResponse:
    return render(request, "supervision/home.html", {"conversations": ongoing_conversations()})
