"""Pages behind login, by role; roles as groups; production settings."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

from omnichannel.conversations.actions.ending import conversation_customer_end
from omnichannel.conversations.roles import ADMINISTRATOR, AGENT, SUPERVISOR


def test_roles_exist_with_their_permissions(roles):
    """The groups Agent, Supervisor and Administrator exist after migrate, with their permissions."""
    perms = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert "work_conversation" in perms[AGENT] and "supervise_conversation" not in perms[AGENT]
    assert {"work_conversation", "supervise_conversation"} <= perms[SUPERVISOR]
    assert {"change_workstream", "change_queue", "change_user"} <= perms[ADMINISTRATOR]
    assert "work_conversation" not in perms[ADMINISTRATOR]


@pytest.mark.parametrize("url", ["/", "/agent/", "/supervisor/", "/conversations/1/"])
def test_pages_require_login(client, db, url):
    """SEC-1: every page is behind login."""
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_favicon_is_linked_from_every_page_and_answers_at_favicon_ico(client, chat_workstream):
    """No page gets a 404 for its icon: pages link the SVG, and /favicon.ico (asked for by
    pages that link none, such as admin) leads to it."""
    icon = static("favicon.svg")
    assert finders.find("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url == icon
    for url in ("/login/", f"/chat/{chat_workstream.widget_key}/"):
        assert f'<link rel="icon" href="{icon}" type="image/svg+xml">' in client.get(url).content.decode()


def test_home_sends_each_role_to_its_surface(client, agent, supervisor, administrator):
    for user, target in ((agent, "/agent/"), (supervisor, "/supervisor/"), (administrator, "/admin/")):
        client.force_login(user)
        assert client.get("/").url == target


def test_agents_never_see_supervisor_pages(client, agent):
    """SEC-1: the supervisor home refuses agents."""
    client.force_login(agent)
    assert client.get("/supervisor/").status_code == 403


def test_agent_sees_only_their_queues_conversations(client, agent, make_agent, other_queue, open_chat):
    """SEC-1: a conversation outside the agent's queues is not found for them."""
    outsider = make_agent(queues=[other_queue])
    client.force_login(outsider)
    assert client.get(reverse("conversations:detail", args=[open_chat.pk])).status_code == 404
    client.force_login(agent)
    assert client.get(reverse("conversations:detail", args=[open_chat.pk])).status_code == 200


def test_agent_cannot_see_a_colleagues_active_conversation(client, active_chat, other_agent):
    """SEC-1: a colleague in the same queue sees Open work to pick, not someone's ongoing chat."""
    client.force_login(other_agent)
    assert client.get(reverse("conversations:detail", args=[active_chat.pk])).status_code == 404


def test_agent_home_lists_my_work_items_and_capacity(client, agent, active_chat):
    """SES-2 groundwork: the agent's home shows their work items and capacity in use."""
    client.force_login(agent)
    page = client.get("/agent/").content.decode()
    assert active_chat.title in page and "10 / 30" in page


def test_supervisor_home_lists_ongoing_conversations(client, supervisor, active_chat, agent, make_conversation):
    """SUP-1 groundwork: every conversation not Closed."""
    waiting = make_conversation(active_chat.workstream)
    closed = make_conversation(active_chat.workstream)
    conversation_customer_end(conversation=closed)
    client.force_login(supervisor)
    page = client.get("/supervisor/").content.decode()
    assert page.count('href="/conversations/') == 2
    assert waiting.title in page


def test_deploy_check_is_clean_with_production_values(tmp_path):
    """With production values, `manage.py check --deploy` reports nothing."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "p" * 20 + "-Kq9#vX2@mL7!zR4$wT8&nB3^yH6*cF1",
        "ALLOWED_HOSTS": "support.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
