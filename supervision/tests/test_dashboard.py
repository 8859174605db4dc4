"""The ongoing-conversations dashboard over HTTP (SUP-1, SUP-2, SEC-1)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.models import Conversation, QueueDepthSample, SentimentLevel
from omnichannel.conversations.states import Channel, State
from supervision.selectors import PAGE_SIZE, clock

URL = "/supervisor/"


def rows_of(response) -> list[int]:
    return [row.pk for row in response.context["page_obj"]]


@pytest.fixture
def every_state(make_workstream, make_conversation, agent):
    """One conversation in each state (Closed included), by state."""
    sms = make_workstream(Channel.SMS)
    opened = make_conversation(sms)
    active = make_conversation(sms)
    conversation_pick(conversation=active, agent=agent)
    wrap_up = make_conversation(sms)
    conversation_pick(conversation=wrap_up, agent=agent)
    conversation_end(conversation=wrap_up, agent=agent)
    waiting = make_conversation(sms)
    conversation_pick(conversation=waiting, agent=agent)
    conversation_close_session(conversation=waiting, agent=agent)
    closed = make_conversation(sms)
    conversation_pick(conversation=closed, agent=agent)
    conversation_end(conversation=closed, agent=agent)
    conversation_close_session(conversation=closed, agent=agent)
    return {
        State.OPEN: opened,
        State.ACTIVE: active,
        State.WRAP_UP: wrap_up,
        State.WAITING: waiting,
        State.CLOSED: closed,
    }


def test_dashboard_lists_every_conversation_not_closed(client, supervisor, every_state):
    """SUP-1: every conversation not Closed is listed with its state, channel, queue, agent and
    time in state; Closed ones are not."""
    client.force_login(supervisor)
    response = client.get(URL)
    assert response.status_code == 200
    listed = set(rows_of(response))
    assert listed == {c.pk for state, c in every_state.items() if state != State.CLOSED}
    page = response.content.decode()
    for state, conversation in every_state.items():
        assert (f'id="conversation-{conversation.pk}"' in page) == (state != State.CLOSED)
    assert 'data-state="wrap_up"' in page and "Wrap-up" in page and "Anna Jensen" in page and "SMS" in page
    assert 'hx-ext="ws" ws-connect="/ws/supervisor/"' in page


def test_key_figures(client, supervisor, every_state, make_agent, other_queue, presences):
    """SUP-1: KPI tiles: waiting per queue, longest wait, agents by presence, capacity in use."""
    make_agent(presence="away", capacity=20, queues=[other_queue])
    Conversation.objects.filter(pk=every_state[State.OPEN].pk).update(
        state_changed_at=timezone.now() - timedelta(minutes=3, seconds=5)
    )
    client.force_login(supervisor)
    response = client.get(URL)
    context = response.context
    waiting = {load.name: load.waiting for load in context["queue_loads"]}
    queue = every_state[State.OPEN].queue
    assert waiting == {queue.name: 1, other_queue.name: 0}
    assert context["waiting_total"] == 1
    assert context["longest_wait"].startswith("3:0")
    counts = {base: count for base, _, count in context["presence_counts"]}
    # Anna and the supervisor are Available; the new agent is Away.
    assert counts["available"] == 2 and counts["away"] == 1 and counts["offline"] == 0
    units = every_state[State.ACTIVE].workstream.capacity_units
    # Active and Wrap-up (Always block) hold capacity; agents not Offline offer 30 + 30 + 20.
    assert (context["capacity_held"], context["capacity_offered"]) == (2 * units, 80)
    page = response.content.decode()
    assert f'data-queue-waiting="{queue.pk}">1<' in page and 'data-kpi="longest-wait"' in page


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("state=waiting", [State.WAITING]),
        ("state=open", [State.OPEN]),
        ("channel=sms", [State.OPEN, State.ACTIVE, State.WRAP_UP, State.WAITING]),
        ("channel=voice", []),
    ],
)
def test_filters_by_state_and_channel(client, supervisor, every_state, param, expected):
    """SUP-1: filter by state and by channel."""
    client.force_login(supervisor)
    response = client.get(f"{URL}?{param}")
    assert response.status_code == 200
    assert set(rows_of(response)) == {every_state[s].pk for s in expected}
    assert f'ws-connect="/ws/supervisor/?{param}"' in response.content.decode()


def test_filters_by_queue_agent_and_sentiment(
    client, supervisor, make_workstream, make_conversation, agent, other_agent, other_queue
):
    """SUP-1: filter by queue, agent and sentiment; filters combine."""
    chat = make_workstream(Channel.LIVE_CHAT)
    mine = make_conversation(chat)
    conversation_pick(conversation=mine, agent=agent)
    theirs = make_conversation(chat)
    conversation_pick(conversation=theirs, agent=other_agent)
    elsewhere = make_conversation(chat, queue=other_queue)
    Conversation.objects.filter(pk=theirs.pk).update(sentiment_level=SentimentLevel.NEGATIVE)
    client.force_login(supervisor)
    assert rows_of(client.get(f"{URL}?queue={other_queue.pk}")) == [elsewhere.pk]
    assert rows_of(client.get(f"{URL}?agent={agent.pk}")) == [mine.pk]
    assert rows_of(client.get(f"{URL}?sentiment=negative")) == [theirs.pk]
    assert rows_of(client.get(f"{URL}?sentiment=negative&agent={agent.pk}")) == []
    page = client.get(f"{URL}?sentiment=negative").content.decode()
    assert '<span class="sentiment sentiment--negative">Negative</span>' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=closed", "State: “closed” is not a state of an ongoing conversation (Open, Active, Wrap-up, Waiting)."),
        ("queue=999999", "Queue: There is no queue “999999”."),
        ("queue=abc", "Queue: There is no queue “abc”."),
        ("agent=999999", "Agent: There is no agent “999999”."),
        ("channel=fax", "Channel: There is no channel “fax”."),
        ("sentiment=grumpy", "Sentiment: There is no sentiment level “grumpy”."),
        ("page=0", "Page: The page must be 1 or more."),
        ("page=two", "Page: The page must be a whole number."),
    ],
)
def test_bad_filter_values_are_refused_clearly(client, supervisor, every_state, query, message):
    """SUP-1: a bad filter value is answered 400 naming the filter and the value; nothing is
    listed for it and no socket follows it."""
    client.force_login(supervisor)
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400
    page = response.content.decode()
    assert message.replace("“", "&ldquo;").replace("”", "&rdquo;") in page or message in page
    assert 'id="conversation-' not in page and "/ws/supervisor/" not in page


def test_filter_changes_swap_the_live_region(client, supervisor, every_state):
    """SUP-1: the filter form asks with htmx; the answer is the live region alone, whose socket
    URL carries the new filters."""
    client.force_login(supervisor)
    response = client.get(f"{URL}?state=active", headers={"HX-Request": "true"})
    html = response.content.decode().strip()
    assert html.startswith('<div id="dashboard"') and "<html" not in html
    assert 'ws-connect="/ws/supervisor/?state=active"' in html
    shown = {c.pk for c in every_state.values() if f'id="conversation-{c.pk}"' in html}
    assert shown == {every_state[State.ACTIVE].pk}


def test_pages_of_rows(client, supervisor, chat_workstream, queue):
    """SUP-1: rows come a page at a time, oldest first; the count covers them all."""
    now = timezone.now()
    Conversation.objects.bulk_create(
        [Conversation(workstream=chat_workstream, queue=queue, state_changed_at=now) for _ in range(PAGE_SIZE + 5)]
    )
    client.force_login(supervisor)
    first = client.get(URL)
    assert len(rows_of(first)) == PAGE_SIZE and first.context["page_obj"].paginator.count == PAGE_SIZE + 5
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(f"{URL}?page=2")
    assert len(rows_of(second)) == 5 and not set(rows_of(first)) & set(rows_of(second))
    assert rows_of(client.get(f"{URL}?page=9")) == rows_of(second)  # past the end: the last page


def test_query_count_is_the_same_for_10_and_10000_ongoing(client, supervisor, chat_workstream, queue, agent):
    """SUP-1: the dashboard costs a fixed number of queries however many conversations are ongoing."""
    client.force_login(supervisor)

    def add(n: int) -> None:
        now = timezone.now()
        Conversation.objects.bulk_create(
            [
                Conversation(
                    workstream=chat_workstream,
                    queue=queue,
                    state=[State.OPEN, State.ACTIVE, State.WAITING][i % 3],
                    primary_agent=None if i % 3 == 0 else agent,
                    accepted_at=None if i % 3 == 0 else now,
                    sentiment_level=SentimentLevel.NEGATIVE if i % 5 == 0 else "",
                    state_changed_at=now - timedelta(seconds=i),
                )
                for i in range(n)
            ],
            batch_size=1000,
        )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    add(10)
    client.get(URL)  # warm caches that are not per request (content types, permissions)
    few = queries()
    add(9_990)
    assert Conversation.objects.exclude(state=State.CLOSED).count() == 10_000
    assert queries() == few


def test_queue_depth_chart_draws_the_last_hour(client, supervisor, queue, chat_workstream, make_conversation):
    """SUP-1: a line per queue over the last hour from the worker's samples, ending at the depth now."""
    now = timezone.now()
    QueueDepthSample.objects.bulk_create(
        [
            QueueDepthSample(queue=queue, taken_at=now - timedelta(minutes=m), depth=d)
            for m, d in ((90, 50), (45, 4), (30, 8), (15, 2))
        ]
    )
    make_conversation(chat_workstream)
    client.force_login(supervisor)
    response = client.get(URL)
    chart = response.context["chart"]
    [series] = chart.series
    assert series.name == queue.name and series.latest == 1 and chart.peak == 8  # the 90-minute sample is out
    assert len(series.points.split()) == 4
    assert "<polyline" in response.content.decode()

    QueueDepthSample.objects.all().delete()
    [fresh] = client.get(URL).context["chart"].series
    assert len(fresh.points.split()) == 2 and len(set(fresh.points.split())) == 1  # a dot for the depth now


def test_clock_format():
    """SUP-1: clocks read m:ss, and h:mm:ss from an hour."""
    assert [clock(s) for s in (0, 5, 65, 3600, 3725.9, -3)] == ["0:00", "0:05", "1:05", "1:00:00", "1:02:05", "0:00"]


def test_agents_get_403_and_anonymous_users_the_login(client, agent):
    """SEC-1: only supervisors see the dashboard."""
    assert client.get(URL).status_code == 302
    client.force_login(agent)
    assert client.get(URL).status_code == 403


def test_dashboard_shows_only_the_actions_each_workstream_enables(
    client, supervisor, sms_workstream, make_conversation, agent
):
    """SUP-2: Monitor, Assign, Transfer and Force close show on a row only where its workstream
    enables them (and its state allows them); switched off, they are hidden."""
    waiting_for_agent = make_conversation(sms_workstream)
    handled = make_conversation(sms_workstream)
    conversation_pick(conversation=handled, agent=agent)
    client.force_login(supervisor)

    def buttons(conversation) -> set[str]:
        page = client.get(URL).content.decode()
        row = page[page.index(f'id="conversation-{conversation.pk}"') :]
        row = row[: row.index("</tr>")]
        return {name for name in ("Monitor", "Assign", "Transfer", "Force close") if f'aria-label="{name} ' in row}

    assert buttons(waiting_for_agent) == {"Assign", "Force close"}
    assert buttons(handled) == {"Monitor", "Transfer", "Force close"}
    for switch in ("allow_monitor", "allow_assign", "allow_transfer", "allow_force_close"):
        setattr(sms_workstream, switch, False)
        sms_workstream.save()
        for conversation in (waiting_for_agent, handled):
            assert not {switch.removeprefix("allow_").replace("_", " ").capitalize()} & buttons(conversation)
    assert buttons(waiting_for_agent) == buttons(handled) == set()
