"""The supervisor switches per workstream, set by administrators in admin (SUP-2)."""

from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.tests.test_admin import workstream_form


def test_administrator_switches_transfer_off_and_the_dashboard_hides_it(
    client, administrator, supervisor, sms_workstream, make_conversation, agent
):
    """SUP-2: the administrator clears *Supervisors may transfer* in the workstream's
    Supervision settings; the dashboard then offers Monitor and Force close on its Active
    conversation, no longer Transfer."""
    conversation = make_conversation(sms_workstream)
    conversation_pick(conversation=conversation, agent=agent)
    client.force_login(supervisor)
    row = f'id="conversation-{conversation.pk}"'

    def offered() -> str:
        page = client.get("/supervisor/").content.decode()
        return page[page.index(row) : page.index("</tr>", page.index(row))]

    assert 'aria-label="Transfer ' in offered()

    client.force_login(administrator)
    form = workstream_form(sms_workstream)
    del form["allow_transfer"]  # an unticked checkbox is not posted
    page = client.get(reverse("admin:conversations_workstream_change", args=[sms_workstream.pk])).content.decode()
    assert "Supervisors may transfer" in page and "Supervisors may force close" in page
    response = client.post(reverse("admin:conversations_workstream_change", args=[sms_workstream.pk]), form)
    assert response.status_code == 302
    sms_workstream.refresh_from_db()
    assert not sms_workstream.allow_transfer and sms_workstream.allow_monitor

    client.force_login(supervisor)
    shown = offered()
    assert 'aria-label="Transfer ' not in shown
    assert 'aria-label="Monitor ' in shown and 'aria-label="Force close ' in shown
