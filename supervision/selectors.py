"""Reads of the ongoing-conversations dashboard (SUP-1). Every figure is one SQL query (a
count, a sum, a grouped aggregate) and the rows are one page, so the page and each live
push cost the same number of queries for 10 ongoing conversations as for 10,000."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import Count, Min, Sum

from omnichannel.conversations.models import AgentProfile, Conversation, Queue, QueueDepthSample, SentimentLevel
from omnichannel.conversations.routing import PresenceBase
from omnichannel.conversations.selectors import ONGOING, holding_capacity, supervisor_actions_for
from omnichannel.conversations.states import Channel, State

PAGE_SIZE = 50
CHART_WINDOW = timedelta(hours=1)
CHART_SERIES = 6
CHART_WIDTH, CHART_HEIGHT = 600, 160


def clock(seconds: float) -> str:
    """A duration as the dashboard's clocks show it: m:ss, or h:mm:ss from an hour (elapsed.js agrees)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def ongoing_page(*, user, lookups: dict, page: int | None, now: datetime) -> Page:
    """One page of the conversations not Closed that match the filters, oldest first, each
    with what the supervisor may do to it (SUP-2) and how long it has been in its state."""
    rows = (
        Conversation.objects.filter(ONGOING, **lookups)
        .select_related("workstream", "queue", "contact", "case", "primary_agent")
        .order_by("pk")  # creation order, read off the index of ongoing conversations: no sort
    )
    shown = Paginator(rows, PAGE_SIZE).get_page(page)
    # Labels translated once per page, not once per row: get_FOO_display rebuilds its choices each call.
    states, channels, levels = (
        {value: str(label) for value, label in choices.choices} for choices in (State, Channel, SentimentLevel)
    )
    for row in shown:
        row.supervisor_actions = supervisor_actions_for(row, user)
        row.in_state_for = clock((now - row.state_changed_at).total_seconds())
        row.state_label = states[row.state]
        row.channel_label = channels[row.workstream.channel]
        row.sentiment_label = levels.get(row.sentiment_level, "")
        agent = row.primary_agent
        row.agent_name = (agent.get_full_name() or agent.get_username()) if agent else row.external_party
    return shown


@dataclass(frozen=True)
class QueueLoad:
    queue_id: int
    name: str
    waiting: int
    oldest: datetime | None  # when the longest-waiting Open conversation entered the queue


def queue_loads() -> list[QueueLoad]:
    """Every queue's Open conversations and its longest wait: one grouped query over Open
    conversations alone (the state index), however many have ever closed."""
    waiting = {
        row["queue"]: row
        for row in Conversation.objects.filter(state=State.OPEN)
        .values("queue")
        .annotate(n=Count("pk"), oldest=Min("state_changed_at"))
        .order_by()
    }
    return [
        QueueLoad(pk, name, waiting[pk]["n"], waiting[pk]["oldest"]) if pk in waiting else QueueLoad(pk, name, 0, None)
        for pk, name in Queue.objects.order_by("name").values_list("pk", "name")
    ]


def agents_by_presence() -> list[tuple[str, str, int]]:
    """(base presence, its label, agents showing it), in the base presences' order."""
    counts = dict(AgentProfile.objects.values_list("presence__base").annotate(n=Count("pk")).order_by())
    return [(base.value, str(base.label), counts.get(base.value, 0)) for base in PresenceBase]


def capacity_use(now: datetime) -> tuple[int, int]:
    """Capacity units held by conversations now, and the capacity of agents not Offline."""
    held = Conversation.objects.filter(holding_capacity(now)).aggregate(total=Sum("capacity_units"))["total"]
    offered = AgentProfile.objects.exclude(presence__base=PresenceBase.OFFLINE).aggregate(total=Sum("capacity"))[
        "total"
    ]
    return held or 0, offered or 0


@dataclass(frozen=True)
class Series:
    name: str
    points: str  # SVG polyline points
    latest: int


@dataclass(frozen=True)
class Chart:
    series: list[Series]
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def queue_depth_chart(loads: list[QueueLoad], now: datetime) -> Chart:
    """The last hour of each queue's depth, from the worker's minute samples and, as the last
    point, the depth now; the busiest queues get a line each."""
    start = now - CHART_WINDOW
    history: dict[int, list[tuple[datetime, int]]] = {}
    for queue_id, taken_at, depth in QueueDepthSample.objects.filter(taken_at__gte=start).values_list(
        "queue_id", "taken_at", "depth"
    ):
        history.setdefault(queue_id, []).append((taken_at, depth))
    lines = []
    for load in loads:
        points = [*history.get(load.queue_id, []), (now, load.waiting)]
        if any(depth for _, depth in points):
            lines.append((max(depth for _, depth in points), load.name, points))
    lines.sort(key=lambda line: -line[0])
    lines = lines[:CHART_SERIES]
    peak = max((line[0] for line in lines), default=0)
    scale = max(peak, 1)

    def xy(taken_at: datetime, depth: int) -> str:
        x = (taken_at - start) / CHART_WINDOW * CHART_WIDTH
        y = CHART_HEIGHT - depth / scale * CHART_HEIGHT
        return f"{x:.1f},{y:.1f}"

    def polyline(points: list[tuple[datetime, int]]) -> str:
        if len(points) == 1:
            points = points * 2  # no sample yet: a zero-length line, which its round caps draw as a dot
        return " ".join(xy(taken_at, depth) for taken_at, depth in points)

    return Chart(
        series=[Series(name=name, points=polyline(points), latest=points[-1][1]) for _, name, points in lines],
        peak=peak,
    )


def dashboard(*, user, lookups: dict, page: int | None, now: datetime) -> dict:
    """Everything the dashboard's live region shows."""
    loads = queue_loads()
    held, offered = capacity_use(now)
    oldest = min((load.oldest for load in loads if load.oldest), default=None)
    return {
        "page_obj": ongoing_page(user=user, lookups=lookups, page=page, now=now),
        "queue_loads": loads,
        "waiting_total": sum(load.waiting for load in loads),
        "longest_wait_since": oldest,
        "longest_wait": clock((now - oldest).total_seconds()) if oldest else "",
        "presence_counts": agents_by_presence(),
        "capacity_held": held,
        "capacity_offered": offered,
        "capacity_percent": round(100 * held / offered) if offered else 0,
        "chart": queue_depth_chart(loads, now),
    }
