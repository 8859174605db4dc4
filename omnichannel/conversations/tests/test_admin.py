"""Administration: validation messages, filters and search on configuration objects."""

import pytest
from django.urls import reverse

from omnichannel.conversations.capacity import WrapUpBlock
from omnichannel.conversations.models import Workstream


def workstream_form(workstream, **changes):
    data = {
        "name": workstream.name,
        "channel": workstream.channel,
        "default_queue": workstream.default_queue_id,
        "distribution": workstream.distribution,
        "assignment_method": workstream.assignment_method,
        "capacity_units": workstream.capacity_units,
        "allowed_presences": [p.pk for p in workstream.allowed_presences.all()],
        "offer_timeout_seconds": workstream.offer_timeout_seconds,
        "wrap_up_block": workstream.wrap_up_block,
        "wrap_up_block_minutes": workstream.wrap_up_block_minutes or "",
        "waiting_timeout_minutes": workstream.waiting_timeout_minutes,
        "agent_reconnect_timeout_seconds": workstream.agent_reconnect_timeout_seconds,
        "persistent_chat_days": workstream.persistent_chat_days,
        "allow_monitor": "on",
        "allow_assign": "on",
        "allow_transfer": "on",
        "allow_force_close": "on",
        "sentiment_alert_threshold": workstream.sentiment_alert_threshold,
        "widget_key": workstream.widget_key,
        "widget_secret": workstream.widget_secret,
        "monitoring_notice": workstream.monitoring_notice,
        "customer_reconnect_timeout_seconds": workstream.customer_reconnect_timeout_seconds,
        "routing_rules-TOTAL_FORMS": "0",
        "routing_rules-INITIAL_FORMS": "0",
        "pre_chat_questions-TOTAL_FORMS": "0",
        "pre_chat_questions-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("minutes", [0, 61])
def test_wrap_up_block_outside_1_to_60_minutes_is_refused(client, administrator, chat_workstream, minutes):
    """ST-20: the wrap-up block is 1–60 minutes; 0 and 61 are refused with a message, nothing saved."""
    client.force_login(administrator)
    url = reverse("admin:conversations_workstream_change", args=[chat_workstream.pk])
    response = client.post(
        url, workstream_form(chat_workstream, wrap_up_block=WrapUpBlock.MINUTES, wrap_up_block_minutes=minutes)
    )
    assert response.status_code == 200
    assert "Block capacity for wrap-up must be from 1 to 60 minutes." in response.content.decode()
    chat_workstream.refresh_from_db()
    assert chat_workstream.wrap_up_block == WrapUpBlock.ALWAYS


def test_wrap_up_block_of_60_minutes_is_saved(client, administrator, chat_workstream):
    """ST-20: 60 minutes is allowed."""
    client.force_login(administrator)
    url = reverse("admin:conversations_workstream_change", args=[chat_workstream.pk])
    response = client.post(
        url, workstream_form(chat_workstream, wrap_up_block=WrapUpBlock.MINUTES, wrap_up_block_minutes=60)
    )
    assert response.status_code == 302
    assert Workstream.objects.get(pk=chat_workstream.pk).wrap_up_block_minutes == 60


def test_minutes_are_required_for_a_timed_block(client, administrator, chat_workstream):
    """ST-20: choosing a timed block without minutes says what is missing."""
    client.force_login(administrator)
    url = reverse("admin:conversations_workstream_change", args=[chat_workstream.pk])
    response = client.post(url, workstream_form(chat_workstream, wrap_up_block=WrapUpBlock.MINUTES))
    assert "Give the number of minutes (1 to 60)" in response.content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "workstream",
        "routingrule",
        "queue",
        "presence",
        "agentprofile",
        "presencechange",
        "contact",
        "account",
        "case",
        "conversation",
        "message",
    ],
)
def test_every_admin_list_renders_with_filters_and_search(client, administrator, active_chat, name):
    """Every configuration object is listed in admin, searchable."""
    client.force_login(administrator)
    response = client.get(reverse(f"admin:conversations_{name}_changelist"), {"q": "a"})
    assert response.status_code == 200


def test_conversations_are_read_only_in_admin(client, administrator, active_chat):
    """State changes go through the actions only: admin cannot edit or add conversations."""
    client.force_login(administrator)
    page = client.get(reverse("admin:conversations_conversation_change", args=[active_chat.pk]))
    assert page.status_code == 200 and b'name="state"' not in page.content
    assert client.get(reverse("admin:conversations_conversation_add")).status_code == 403


def test_a_case_added_in_admin_is_a_record_work_item(client, administrator, contact, make_workstream):
    """MSG-2, REC-1: adding a case in admin creates it through the same action as the workspace:
    active, with its record work item routed in the default case workstream, and says where."""
    from omnichannel.conversations.models import Case
    from omnichannel.conversations.states import Channel, State

    cases = make_workstream(Channel.CASE)
    client.force_login(administrator)
    add = reverse("admin:conversations_case_add")
    assert b'name="status"' not in client.get(add).content  # a new case is active
    response = client.post(add, {"title": "Warranty claim", "contact": contact.pk, "account": ""}, follow=True)
    case = Case.objects.get()
    assert (case.title, case.account) == ("Warranty claim", contact.account)
    record = case.conversations.get()
    assert (record.workstream, record.state, record.events.get().actor) == (cases, State.OPEN, administrator)
    page = response.content.decode()
    assert f"The case waits in {cases.default_queue} as a work item." in page
    assert f'/admin/conversations/case/{case.pk}/change/' in page


def test_without_a_case_workstream_admin_says_the_case_is_no_work_item(client, administrator, contact):
    """MSG-2: with nowhere to route it, the case is saved and admin says it is no work item."""
    from omnichannel.conversations.models import Case

    client.force_login(administrator)
    response = client.post(reverse("admin:conversations_case_add"), {"title": "Parked", "contact": contact.pk}, follow=True)
    assert "No case workstream is configured, so the case is not a work item." in response.content.decode()
    assert Case.objects.get().conversations.count() == 0
