"""The ongoing-conversations dashboard's filters (SUP-1), read from the query string by the
page and by its socket alike, so both show the same rows and refuse the same bad values."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from omnichannel.conversations.models import Queue, SentimentLevel
from omnichannel.conversations.states import Channel, State

ONGOING_STATES = [State.OPEN, State.ACTIVE, State.WRAP_UP, State.WAITING]


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        return user.get_full_name() or user.get_username()


class DashboardFilters(forms.Form):
    queue = forms.ModelChoiceField(
        Queue.objects.all(),
        required=False,
        empty_label=_("All queues"),
        label=_("Queue"),
        error_messages={"invalid_choice": _("There is no queue “%(value)s”.")},
    )
    state = forms.ChoiceField(
        choices=[("", _("All states")), *((s.value, s.label) for s in ONGOING_STATES)],
        required=False,
        label=_("State"),
        error_messages={
            "invalid_choice": _(
                "“%(value)s” is not a state of an ongoing conversation (Open, Active, Wrap-up, Waiting)."
            )
        },
    )
    channel = forms.ChoiceField(
        choices=[("", _("All channels")), *Channel.choices],
        required=False,
        label=_("Channel"),
        error_messages={"invalid_choice": _("There is no channel “%(value)s”.")},
    )
    agent = AgentChoiceField(
        get_user_model().objects.filter(agent_profile__isnull=False).order_by("first_name", "username"),
        required=False,
        empty_label=_("All agents"),
        label=_("Agent"),
        error_messages={"invalid_choice": _("There is no agent “%(value)s”.")},
    )
    sentiment = forms.ChoiceField(
        choices=[("", _("Any sentiment")), *SentimentLevel.choices],
        required=False,
        label=_("Sentiment"),
        error_messages={"invalid_choice": _("There is no sentiment level “%(value)s”.")},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        widget=forms.HiddenInput,
        label=_("Page"),
        error_messages={
            "invalid": _("The page must be a whole number."),
            "min_value": _("The page must be 1 or more."),
        },
    )

    def selects(self) -> list[tuple[str, str, list[tuple[str, str, bool]]]]:
        """Each filter as (name, label, options of (value, label, chosen)): the page writes the
        selects itself, since Django's widget templates render each option as a template."""
        return [
            (
                name,
                str(field.label),
                [
                    (str(value), str(label), str(value) == str(self.data.get(name, "")))
                    for value, label in field.choices
                ],
            )
            for name, field in self.fields.items()
            if name != "page"
        ]

    def lookups(self) -> dict:
        """The ORM filters the valid form asks for."""
        data = self.cleaned_data
        return {
            name: value
            for name, value in {
                "queue": data["queue"],
                "state": data["state"],
                "workstream__channel": data["channel"],
                "primary_agent": data["agent"],
                "sentiment_level": data["sentiment"],
            }.items()
            if value
        }

    def problems(self) -> list[str]:
        """Every refused value, each naming its filter."""
        return [
            f"{self.fields[name].label or name}: {message}" if name != "__all__" else message
            for name, messages in self.errors.items()
            for message in messages
        ]
