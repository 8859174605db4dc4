"""`python -m bench workspace`: server time of switching sessions in the agent workspace.

An agent with 10 open chat sessions (each with a short transcript, the focused one with the
communication panel) switches round them N times through Django's full request path (the
test client in this process: middleware, the focus action's writes, the selectors, the
session pane and the out-of-band session panel). In the same run the baseline renders that
same partial from a context built once beforehand: the bare template cost. The last line is
JSON: switch_p50_ms, switch_p99_ms, baseline_p50_ms, baseline_p99_ms, ratio (p99 to p99),
queries_per_switch.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.harness import PG_URL, SQLITE_URL, configure, percentile

SESSIONS = 10


def seed():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from omnichannel.conversations.actions.assignment import conversation_create, conversation_pick
    from omnichannel.conversations.actions.messages import message_post
    from omnichannel.conversations.models import (
        AgentProfile,
        Presence,
        PresenceBase,
        Queue,
        SenderRole,
        Visitor,
        Workstream,
    )
    from omnichannel.conversations.roles import AGENT, ensure_roles
    from sessions_app import actions as session_actions

    ensure_roles()
    available = Presence.objects.filter(base=PresenceBase.AVAILABLE).order_by("pk").first()
    queue = Queue.objects.create(name="bench-workspace")
    workstream = Workstream.objects.create(name="bench-chat", channel="live_chat", default_queue=queue)
    workstream.allowed_presences.add(available)
    agent = get_user_model().objects.create_user(username="bench-agent", first_name="Anna")
    agent.groups.add(Group.objects.get(name=AGENT))
    AgentProfile.objects.create(user=agent, capacity=1000, presence=available)
    queue.members.add(agent)
    sessions = []
    for i in range(SESSIONS):
        conversation = conversation_create(workstream=workstream, visitor=Visitor.objects.create())
        conversation_pick(conversation=conversation, agent=agent)
        for n in range(5):
            message_post(conversation=conversation, sender_role=SenderRole.CUSTOMER, body=f"Hello {i}.{n}")
            message_post(conversation=conversation, sender_role=SenderRole.AGENT, sender=agent, body="Hi!")
        sessions.append(session_actions.session_open(agent=agent, conversation=conversation))
    return agent, sessions


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench workspace")
    parser.add_argument("--switches", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "pg"], default="sqlite")
    args = parser.parse_args(argv)
    configure(PG_URL if args.backend == "pg" else SQLITE_URL)

    from django.db import connection, reset_queries
    from django.template.loader import get_template
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from sessions_app.contexts import workspace_context

    agent, sessions = seed()
    client = Client(HTTP_HX_REQUEST="true", HTTP_HOST="localhost")
    client.force_login(agent)
    urls = [reverse("sessions_app:session_focus", args=[s.pk]) for s in sessions]

    def switch(i: int) -> float:
        start = time.perf_counter()
        response = client.post(urls[i % SESSIONS])
        elapsed = time.perf_counter() - start
        assert response.status_code == 200 and b'id="session-pane"' in response.content
        return elapsed

    for i in range(SESSIONS * 3):  # warm caches, connections and templates
        switch(i)
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        switch(1)
    switch_times = [switch(i) for i in range(args.switches)]

    template = get_template("sessions_app/workspace.html#workspace-swap")
    request = RequestFactory().post(urls[0], HTTP_HX_REQUEST="true", HTTP_HOST="localhost")
    request.user = agent
    context = {**workspace_context(agent), "oob": True}
    for _ in range(SESSIONS * 3):
        template.render(context, request)
    baseline_times = []
    for _ in range(args.switches):
        start = time.perf_counter()
        template.render(context, request)
        baseline_times.append(time.perf_counter() - start)

    ms = lambda values, p: round(percentile(values, p) * 1000, 3)  # noqa: E731
    result = {
        "backend": args.backend,
        "sessions": SESSIONS,
        "switches": args.switches,
        "switch_p50_ms": ms(switch_times, 50),
        "switch_p99_ms": ms(switch_times, 99),
        "baseline_p50_ms": ms(baseline_times, 50),
        "baseline_p99_ms": ms(baseline_times, 99),
        "ratio": round(percentile(switch_times, 99) / percentile(baseline_times, 99), 2),
        "queries_per_switch": len(queries),
    }
    print(
        f"switch p50 {result['switch_p50_ms']} ms, p99 {result['switch_p99_ms']} ms; bare render of the same "
        f"partial p50 {result['baseline_p50_ms']} ms, p99 {result['baseline_p99_ms']} ms; "
        f"{result['queries_per_switch']} queries per switch"
    )
    print(json.dumps(result))
