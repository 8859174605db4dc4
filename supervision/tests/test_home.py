"""The supervisor's home lists ongoing conversations with the workspace's shared work-item rows."""

from django.urls import reverse


def test_ongoing_conversations_show_customer_and_case_without_dead_links(client, supervisor, contact_chat, make_case):
    """SUP-1, A11Y-1: customer and case are named as text: this page loads no workspace script,
    so the workspace's session links (href="#") would lead nowhere."""
    contact_chat.case = make_case("Parcel lost", contact=contact_chat.contact)
    contact_chat.save(update_fields=["case"])
    client.force_login(supervisor)
    html = client.get(reverse("supervision:home")).content.decode()
    assert "Parcel lost" in html and "Mette Larsen" in html
    assert 'href="#"' not in html and "data-session-open" not in html
