"""Who reaches the workspace's views (SEC-1): agents, supervisors included; the object checks
are the selectors' and the actions'."""

from django.contrib.auth.decorators import permission_required

agent_required = permission_required("conversations.work_conversation", raise_exception=True)
