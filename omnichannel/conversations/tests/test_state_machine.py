"""Random sequences of every action, with the invariants checked after each step.

Invariants: Closed is final; a conversation has at most one primary party; capacity in use
is never negative nor above the agent's capacity without a supervisor's override; the event
log replays to the current state and agent; a refused action changes nothing.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import F, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from omnichannel.conversations import worker
from omnichannel.conversations.actions.assignment import (
    conversation_accept,
    conversation_create,
    conversation_offer,
    conversation_offer_expire,
    conversation_pick,
    conversation_reject,
    conversation_resume,
)
from omnichannel.conversations.actions.cases import case_resolve
from omnichannel.conversations.actions.ending import (
    conversation_agent_reconnect_timeout,
    conversation_close_session,
    conversation_customer_disconnect,
    conversation_customer_end,
    conversation_end,
    conversation_inactivity_timeout,
    conversation_release,
    conversation_wrap_up_block_expire,
)
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.actions.presence import agent_connect, agent_disconnect, agent_presence_set
from omnichannel.conversations.actions.supervision import (
    conversation_assign,
    conversation_assign_to_queue,
    conversation_force_close,
    conversation_monitor,
    conversation_supervisor_join,
    conversation_supervisor_leave,
)
from omnichannel.conversations.actions.transfers import (
    conversation_transfer_accept,
    conversation_transfer_expire,
    conversation_transfer_reject,
    conversation_transfer_request,
    conversation_transfer_to_agent,
    conversation_transfer_to_external,
    conversation_transfer_to_queue,
)
from omnichannel.conversations.capacity import WrapUpBlock
from omnichannel.conversations.distribution import distribute
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import (
    AgentProfile,
    Case,
    Conversation,
    ConversationEvent,
    Presence,
    PresenceBase,
    Queue,
    SenderRole,
    Visitor,
    Workstream,
)
from omnichannel.conversations.roles import AGENT, SUPERVISOR
from omnichannel.conversations.selectors import capacity_in_use, conversation_facts, holding_capacity
from omnichannel.conversations.states import RULES, Action, Channel, State

_run = itertools.count(1)
AGENT_ACTIONS = [
    conversation_pick,
    conversation_offer,
    conversation_accept,
    conversation_reject,
    conversation_end,
    conversation_release,
    conversation_close_session,
    conversation_resume,
]
SYSTEM_ACTIONS = [
    conversation_customer_end,
    conversation_customer_disconnect,
    conversation_agent_reconnect_timeout,
    conversation_offer_expire,
    conversation_inactivity_timeout,
]


class ConversationMachine(RuleBasedStateMachine):
    handles = Bundle("conversations")

    def __init__(self) -> None:
        super().__init__()
        run = next(_run)
        user_model = get_user_model()
        available = Presence.objects.get(base=PresenceBase.AVAILABLE, name="Available")
        self.queues = [Queue.objects.create(name=f"m{run}-q{i}") for i in range(2)]
        self.agents = []
        for i, capacity in enumerate([20, 40, 60]):
            user = user_model.objects.create_user(username=f"m{run}-a{i}")
            user.groups.add(Group.objects.get(name=AGENT))
            AgentProfile.objects.create(user=user, capacity=capacity, presence=available)
            for queue in self.queues:
                queue.members.add(user)
            self.agents.append(user)
        self.supervisor = user_model.objects.create_user(username=f"m{run}-s")
        self.supervisor.groups.add(Group.objects.get(name=SUPERVISOR))
        AgentProfile.objects.create(user=self.supervisor, capacity=10, presence=available)
        specs = [
            (Channel.LIVE_CHAT, {"wrap_up_block": WrapUpBlock.MINUTES, "wrap_up_block_minutes": 5}),
            (Channel.LIVE_CHAT, {"persistent_chat": True, "wrap_up_block": WrapUpBlock.NEVER}),
            (Channel.SMS, {}),
            (Channel.VOICE, {"capacity_units": 20}),
            (Channel.CASE, {"capacity_units": 5}),
        ]
        self.workstreams = [
            Workstream.objects.create(name=f"m{run}-w{i}", channel=channel, default_queue=self.queues[0], **extra)
            for i, (channel, extra) in enumerate(specs)
        ]
        self.conversations: list[Conversation] = []
        self.closed: dict[int, int] = {}  # conversation id → its event count when it closed

    def _fresh(self, pk: int) -> Conversation:
        return Conversation.objects.select_related("workstream", "case", "primary_agent").get(pk=pk)

    def _attempt(self, conversation: Conversation, call) -> None:
        """Run one action; a refusal must leave the row and its events exactly as they were."""
        before = (
            Conversation.objects.filter(pk=conversation.pk).values().get(),
            ConversationEvent.objects.filter(conversation=conversation).count(),
        )
        try:
            call()
        except ConversationError:
            after = (
                Conversation.objects.filter(pk=conversation.pk).values().get(),
                ConversationEvent.objects.filter(conversation=conversation).count(),
            )
            assert after == before

    def _create(self, workstream: Workstream) -> int:
        case = Case.objects.create(title="Case") if workstream.channel == Channel.CASE else None
        visitor = Visitor.objects.create() if case is None else None
        conversation = conversation_create(workstream=workstream, case=case, visitor=visitor)
        self.conversations.append(conversation)
        return conversation.pk

    @initialize(target=handles)
    def one_of_each_kind(self):
        return multiple(*(self._create(ws) for ws in self.workstreams))

    @rule(target=handles, workstream=st.integers(0, 4))
    def create(self, workstream):
        return self._create(self.workstreams[workstream])

    @rule(pk=handles, who=st.integers(0, 9), action=st.sampled_from(AGENT_ACTIONS))
    def agent_acts(self, pk, who, action):
        """Mostly the conversation's own agent, sometimes anyone else."""
        conversation = self._fresh(pk)
        users = [*self.agents, self.supervisor]
        user = users[who] if who < len(users) else conversation.primary_agent or users[0]
        self._attempt(conversation, lambda: action(conversation=conversation, agent=user))

    @rule(pk=handles, choice=st.integers(0, 99))
    def follows_the_table(self, pk, choice):
        """Take one of the moves the table allows now, so that long lifecycles are explored too."""
        conversation = self._fresh(pk)
        facts = conversation_facts(conversation)
        legal = sorted(
            {r.action for r in RULES if r.source == facts.state and facts.kind in r.kinds and r.applies(facts)}
        )
        if not legal:
            return
        action = legal[choice % len(legal)]
        primary = conversation.primary_agent or self.agents[0]
        someone = self.agents[choice % len(self.agents)]
        other_queue = self.queues[1] if conversation.queue_id == self.queues[0].pk else self.queues[0]
        calls = {
            Action.PICK: lambda: conversation_pick(conversation=conversation, agent=someone),
            Action.OFFER: lambda: conversation_offer(conversation=conversation, agent=someone),
            Action.ASSIGN: lambda: conversation_assign(
                conversation=conversation, agent=someone, actor=self.supervisor, override=choice % 2 == 0
            ),
            Action.ACCEPT: lambda: conversation_accept(conversation=conversation, agent=primary),
            Action.REJECT: lambda: conversation_reject(conversation=conversation, agent=primary),
            Action.OFFER_TIMEOUT: lambda: conversation_offer_expire(conversation=conversation),
            Action.AGENT_END: lambda: conversation_end(conversation=conversation, agent=primary),
            Action.CUSTOMER_END: lambda: conversation_customer_end(conversation=conversation),
            Action.CUSTOMER_DISCONNECT: lambda: conversation_customer_disconnect(conversation=conversation),
            Action.AGENT_RECONNECT_TIMEOUT: lambda: conversation_agent_reconnect_timeout(
                conversation=conversation
            ),
            Action.RELEASE: lambda: conversation_release(conversation=conversation, agent=primary),
            Action.TRANSFER_TO_QUEUE: lambda: conversation_transfer_to_queue(
                conversation=conversation, queue=other_queue, actor=self.supervisor
            ),
            Action.TRANSFER_TO_AGENT: lambda: conversation_transfer_to_agent(
                conversation=conversation, to_agent=someone, actor=self.supervisor
            ),
            Action.TRANSFER_TO_EXTERNAL: lambda: conversation_transfer_to_external(
                conversation=conversation, number="+4512345678", actor=self.supervisor
            ),
            Action.CLOSE_SESSION: lambda: conversation_close_session(conversation=conversation, agent=primary),
            Action.RESUME: lambda: conversation_resume(conversation=conversation, agent=primary),
            Action.INACTIVITY_TIMEOUT: lambda: conversation_inactivity_timeout(conversation=conversation),
            Action.CUSTOMER_MESSAGE: lambda: message_post(
                conversation=conversation, sender_role=SenderRole.CUSTOMER, body="back again"
            ),
            Action.WRAP_UP_BLOCK_EXPIRED: lambda: conversation_wrap_up_block_expire(conversation=conversation),
            Action.MONITOR: lambda: conversation_monitor(conversation=conversation, actor=self.supervisor),
            Action.SUPERVISOR_JOIN: lambda: conversation_supervisor_join(
                conversation=conversation, actor=self.supervisor
            ),
            Action.SUPERVISOR_LEAVE: lambda: conversation_supervisor_leave(
                conversation=conversation, actor=self.supervisor
            ),
            Action.ASSIGN_TO_QUEUE: lambda: conversation_assign_to_queue(
                conversation=conversation, queue=other_queue, actor=self.supervisor
            ),
            Action.TRANSFER_REQUEST: lambda: conversation_transfer_request(
                conversation=conversation, to_agent=someone, actor=self.supervisor
            ),
            Action.TRANSFER_ACCEPT: lambda: conversation_transfer_accept(
                conversation=conversation, agent=conversation.transfer_agent or someone
            ),
            Action.TRANSFER_REJECT: lambda: conversation_transfer_reject(
                conversation=conversation, agent=conversation.transfer_agent or someone
            ),
            Action.TRANSFER_TIMEOUT: lambda: conversation_transfer_expire(conversation=conversation),
            Action.FORCE_CLOSE: lambda: conversation_force_close(
                conversation=conversation, actor=self.supervisor
            ),
        }
        self._attempt(conversation, calls[action])

    @rule(pk=handles, action=st.sampled_from(SYSTEM_ACTIONS))
    def system_acts(self, pk, action):
        conversation = self._fresh(pk)
        self._attempt(conversation, lambda: action(conversation=conversation))

    @rule(pk=handles, agent=st.integers(0, 2), override=st.booleans())
    def supervisor_assigns(self, pk, agent, override):
        conversation = self._fresh(pk)
        self._attempt(
            conversation,
            lambda: conversation_assign(
                conversation=conversation, agent=self.agents[agent], actor=self.supervisor, override=override
            ),
        )

    @rule(pk=handles, to=st.integers(0, 2), external=st.booleans(), queue=st.integers(0, 1))
    def transfer(self, pk, to, external, queue):
        conversation = self._fresh(pk)
        actor = conversation.primary_agent or self.supervisor
        if external:
            call = lambda: conversation_transfer_to_external(  # noqa: E731
                conversation=conversation, number="+4512345678", actor=actor
            )
        elif to == 2:
            call = lambda: conversation_transfer_to_queue(  # noqa: E731
                conversation=conversation, queue=self.queues[queue], actor=actor
            )
        else:
            call = lambda: conversation_transfer_to_agent(  # noqa: E731
                conversation=conversation, to_agent=self.agents[to], actor=actor
            )
        self._attempt(conversation, call)

    @rule(pk=handles, key=st.sampled_from([None, "k1", "k2"]))
    def customer_writes(self, pk, key):
        conversation = self._fresh(pk)
        posted = []
        self._attempt(
            conversation,
            lambda: posted.append(
                message_post(
                    conversation=conversation, sender_role=SenderRole.CUSTOMER, body="hello", idempotency_key=key
                )
            ),
        )
        if not posted:
            # CH-3: once a live chat is in Wrap-up it has ended for the customer.
            assert conversation.state == State.WRAP_UP and conversation.workstream.channel == Channel.LIVE_CHAT
            return
        message = posted[0]
        if message.conversation_id not in {c.pk for c in self.conversations}:
            self.conversations.append(message.conversation)

    @rule(pk=handles)
    def case_resolved(self, pk):
        conversation = self._fresh(pk)
        if conversation.case and not conversation.case.is_closed:
            case_resolve(case=conversation.case, actor=self.supervisor)

    @rule()
    def distribution_round(self):
        """RT-2, RT-3: push offers to whoever is connected, with their presence and capacity."""
        distribute()

    @rule()
    def worker_pass(self):
        """Every deadline the worker applies (offers, reconnects, waiting, wrap-up, Offline)."""
        worker.tick()

    @rule(who=st.integers(0, 3), base=st.sampled_from(list(PresenceBase)))
    def presence_changes(self, who, base):
        """PR-1: an agent picks another presence."""
        agent = [*self.agents, self.supervisor][who]
        agent_presence_set(agent=agent, presence=Presence.objects.filter(base=base).order_by("pk").first())

    @rule(who=st.integers(0, 3), up=st.booleans())
    def connection_changes(self, who, up):
        """PR-2, ST-4: an agent's tab opens or closes."""
        agent = [*self.agents, self.supervisor][who]
        if up:
            agent_connect(agent=agent, channel_name=f"tab-{agent.pk}")
        else:
            agent_disconnect(channel_name=f"tab-{agent.pk}")

    @rule(minutes=st.sampled_from([1, 10, 60 * 24 * 30]))
    def time_passes(self, minutes):
        """Move every stored clock back, which is the same as the present moving on."""
        delta = timedelta(minutes=minutes)
        Conversation.objects.filter(pk__in=[c.pk for c in self.conversations]).update(
            state_changed_at=F("state_changed_at") - delta,
            capacity_release_at=F("capacity_release_at") - delta,
            waiting_until=F("waiting_until") - delta,
            offer_expires_at=F("offer_expires_at") - delta,
        )
        AgentProfile.objects.filter(disconnected_at__isnull=False).update(disconnected_at=F("disconnected_at") - delta)

    @invariant()
    def closed_is_final(self):
        rows = Conversation.objects.filter(pk__in=[c.pk for c in self.conversations])
        for conversation in rows.filter(state=State.CLOSED):
            events = conversation.events.count()
            assert self.closed.setdefault(conversation.pk, events) == events
        assert not rows.filter(pk__in=self.closed).exclude(state=State.CLOSED).exists()

    @invariant()
    def one_primary_party(self):
        for conversation in Conversation.objects.filter(pk__in=[c.pk for c in self.conversations]):
            if conversation.state == State.ACTIVE:
                assert bool(conversation.primary_agent_id) != bool(conversation.external_party)
            if conversation.state == State.OPEN:
                assert conversation.primary_agent_id is None and conversation.capacity_units == 0

    @invariant()
    def capacity_within_limits(self):
        """Without overrides an agent is never over capacity; overridden units are the only excess."""
        now = timezone.now()
        for agent in [*self.agents, self.supervisor]:
            used = capacity_in_use(agent_id=agent.pk, now=now)
            assert used >= 0
            overridden = Conversation.objects.filter(holding_capacity(now), primary_agent=agent, capacity_override=True)
            excess = overridden.aggregate(units=Sum("capacity_units"))["units"] or 0
            assert used - excess <= agent.agent_profile.capacity

    @invariant()
    def events_replay_to_current_state(self):
        for conversation in Conversation.objects.filter(pk__in=[c.pk for c in self.conversations]):
            state, agent_id = "", None
            for event in conversation.events.order_by("id"):
                assert event.from_state == state
                state, agent_id = event.to_state, event.agent_id
            assert state == conversation.state
            assert agent_id == conversation.primary_agent_id


@pytest.mark.django_db
def test_invariants_hold_under_random_action_sequences(roles, presences):
    """ST-12, ST-13, ST-20, ST-23, RT-6, PR-2: with routing, presence and connection changes
    mixed in: Closed is final, one primary party, capacity within limits without an override,
    the event log replays to the current state."""
    run_state_machine_as_test(
        ConversationMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
