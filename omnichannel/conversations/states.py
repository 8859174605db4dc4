"""Conversation states and every legal move between them (SPEC section 1, seed 002).

Plain values only, no database: `next_state` is the one answer to "may this action move
this conversation, and to where"; the actions module asks it before every write.

Kinds: the seed's "channel" rows (SMS, voice, social) apply to messaging and voice alike,
except the Waiting rows, which exist only for asynchronous work (messaging, and live chat
that the workstream made persistent, ST-24). Records are routed like any other work item
(MSG-2), so they enter Active the same ways.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from .errors import ConversationError


class State(TextChoices):
    OPEN = "open", _("Open")
    ACTIVE = "active", _("Active")
    WRAP_UP = "wrap_up", _("Wrap-up")
    WAITING = "waiting", _("Waiting")
    CLOSED = "closed", _("Closed")


class Kind(TextChoices):
    LIVE_CHAT = "live_chat", _("Live chat")
    MESSAGING = "messaging", _("Messaging")
    VOICE = "voice", _("Voice")
    RECORD = "record", _("Record")


class Channel(TextChoices):
    LIVE_CHAT = "live_chat", _("Live chat")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    VOICE = "voice", _("Voice")
    CASE = "case", _("Case")


@dataclass(frozen=True)
class Traits:
    """What a channel is capable of; every rule and page that depends on the channel reads this."""

    kind: Kind
    with_customer: bool = True  # a customer is on the other end (not a record): monitored, ended, wrapped up
    transcript: bool = False  # messages are written in it: the communication panel, article links (KB-1)
    synchronous: bool = False  # the customer is there live: leaving or hanging up ends it (ST-2, ST-7, ST-21)
    transferable: bool = False  # a supervisor may transfer it to another agent (SUP-6)
    calls: bool = False  # the agent can escalate it to a voice or video call (CALL-1)


CHANNEL_TRAITS = {
    Channel.LIVE_CHAT: Traits(Kind.LIVE_CHAT, transcript=True, synchronous=True, transferable=True, calls=True),
    Channel.SMS: Traits(Kind.MESSAGING, transcript=True, transferable=True),
    Channel.WHATSAPP: Traits(Kind.MESSAGING, transcript=True, transferable=True),
    Channel.VOICE: Traits(Kind.VOICE, synchronous=True),
    Channel.CASE: Traits(Kind.RECORD, with_customer=False),
}
KIND_TRAITS = {traits.kind: traits for traits in CHANNEL_TRAITS.values()}
assert len(KIND_TRAITS) == len(set(CHANNEL_TRAITS.values())), "channels of one kind share their traits"


def channels_where(trait: str) -> list[Channel]:
    """The channels with this trait, for queries."""
    return [channel for channel, traits in CHANNEL_TRAITS.items() if getattr(traits, trait)]


def _kinds(trait: str) -> frozenset[Kind]:
    return frozenset(kind for kind, traits in KIND_TRAITS.items() if getattr(traits, trait))


class Action(TextChoices):
    """What moved a conversation; recorded as the event's reason."""

    CREATE = "create", _("created")
    PICK = "pick", _("picked from Open work items")
    OFFER = "offer", _("offered to an agent")
    ASSIGN = "assign", _("assigned to an agent")
    ACCEPT = "accept", _("accepted")
    REJECT = "reject", _("rejected")
    OFFER_TIMEOUT = "offer_timeout", _("offer timed out")
    AGENT_END = "agent_end", _("ended by the agent")
    CUSTOMER_END = "customer_end", _("ended by the customer")
    CUSTOMER_DISCONNECT = "customer_disconnect", _("customer disconnected")
    AGENT_RECONNECT_TIMEOUT = "agent_reconnect_timeout", _("agent did not reconnect in time")
    RELEASE = "release", _("released to the queue")
    TRANSFER_TO_QUEUE = "transfer_to_queue", _("transferred to another queue")
    TRANSFER_TO_AGENT = "transfer_to_agent", _("transferred to another agent")
    TRANSFER_TO_EXTERNAL = "transfer_to_external", _("transferred to an external number")
    CLOSE_SESSION = "close_session", _("session closed")
    RESUME = "resume", _("resumed from My work items")
    INACTIVITY_TIMEOUT = "inactivity_timeout", _("closed after inactivity")
    CUSTOMER_MESSAGE = "customer_message", _("customer wrote again")
    WRAP_UP_BLOCK_EXPIRED = "wrap_up_block_expired", _("wrap-up capacity block ran out")
    # Not a move: recorded in the timeline when sentiment falls to the workstream's threshold (SEN-1).
    SENTIMENT_ALERT = "sentiment_alert", _("sentiment alert")
    # A supervisor's actions (SUP-3 to SUP-7); monitoring, joining and leaving move nothing.
    MONITOR = "monitor", _("monitored by a supervisor")
    SUPERVISOR_JOIN = "supervisor_join", _("a supervisor joined")
    SUPERVISOR_LEAVE = "supervisor_leave", _("a supervisor left")
    ASSIGN_TO_QUEUE = "assign_to_queue", _("assigned to another queue")
    TRANSFER_REQUEST = "transfer_request", _("transfer to an agent requested")
    TRANSFER_ACCEPT = "transfer_accept", _("transfer accepted")
    TRANSFER_REJECT = "transfer_reject", _("transfer rejected")
    TRANSFER_TIMEOUT = "transfer_timeout", _("transfer timed out")
    FORCE_CLOSE = "force_close", _("force closed by a supervisor")
    # Not moves either: changes to the conversation's case, recorded in its timeline (REC-1, ST-6).
    CASE_CREATE = "case_create", _("case created")
    CASE_LINK = "case_link", _("case linked")
    CASE_UPDATE = "case_update", _("case updated")


# What the customer does to a conversation; no staff member is behind these events.
CUSTOMER_ACTIONS = frozenset({Action.CUSTOMER_END, Action.CUSTOMER_DISCONNECT, Action.CUSTOMER_MESSAGE})


def caused_by_customer(action: str, *, has_actor: bool, traits: Traits) -> bool:
    """Whether the customer made the event happen, so the timeline names them rather than the
    system (ST-23): they ended the chat, left it or wrote again, or started the conversation
    (created with a customer on the other end and no staff member behind it)."""
    if has_actor:
        return False
    return action in CUSTOMER_ACTIONS or (action == Action.CREATE and traits.with_customer)


@dataclass(frozen=True)
class Facts:
    """What the table needs to know about a conversation besides its state."""

    state: State
    kind: Kind
    accepted: bool = False  # the primary agent accepted the offer
    has_agent: bool = True  # an agent, not an external party, holds it (ST-22)
    escalated: bool = False  # it was once escalated to a voice or video call (SUP-6)
    persistent: bool = False  # the workstream uses persistent chat (ST-24)
    case_closed: bool = False  # the linked case is resolved or inactive (ST-6)


@dataclass(frozen=True)
class Rule:
    spec: str
    action: Action
    source: State
    target: State
    kinds: frozenset[Kind]
    requires: tuple[tuple[str, bool], ...] = ()

    def applies(self, facts: Facts) -> bool:
        return all(getattr(facts, name) is value for name, value in self.requires)


# What each action is called when it is refused ("Cannot <verb>: ...").
VERBS = {
    Action.CREATE: _("create the conversation"),
    Action.PICK: _("pick it"),
    Action.OFFER: _("offer it"),
    Action.ASSIGN: _("assign it"),
    Action.ACCEPT: _("accept it"),
    Action.REJECT: _("reject it"),
    Action.OFFER_TIMEOUT: _("time out the offer"),
    Action.AGENT_END: _("end it"),
    Action.CUSTOMER_END: _("end it for the customer"),
    Action.CUSTOMER_DISCONNECT: _("apply the customer's disconnection"),
    Action.AGENT_RECONNECT_TIMEOUT: _("return it after the agent's disconnection"),
    Action.RELEASE: _("release it to the queue"),
    Action.TRANSFER_TO_QUEUE: _("transfer it to another queue"),
    Action.TRANSFER_TO_AGENT: _("transfer it to another agent"),
    Action.TRANSFER_TO_EXTERNAL: _("transfer it to an external number"),
    Action.SENTIMENT_ALERT: _("raise a sentiment alert"),
    Action.CASE_CREATE: _("create a case for it"),
    Action.CASE_LINK: _("link a case to it"),
    Action.CASE_UPDATE: _("update its case"),
    Action.CLOSE_SESSION: _("close its session"),
    Action.RESUME: _("resume it"),
    Action.INACTIVITY_TIMEOUT: _("close it for inactivity"),
    Action.CUSTOMER_MESSAGE: _("reopen it for the customer's message"),
    Action.WRAP_UP_BLOCK_EXPIRED: _("release its wrap-up capacity block"),
    Action.MONITOR: _("monitor it"),
    Action.SUPERVISOR_JOIN: _("join it"),
    Action.SUPERVISOR_LEAVE: _("leave it"),
    Action.ASSIGN_TO_QUEUE: _("assign it to another queue"),
    Action.TRANSFER_REQUEST: _("transfer it to another agent"),
    Action.TRANSFER_ACCEPT: _("accept the transfer"),
    Action.TRANSFER_REJECT: _("reject the transfer"),
    Action.TRANSFER_TIMEOUT: _("time out the transfer"),
    Action.FORCE_CLOSE: _("force close it"),
    Action.CASE_CREATE: _("create a case for it"),
    Action.CASE_LINK: _("link a case to it"),
    Action.CASE_UPDATE: _("update its case"),
}


class IllegalTransition(ConversationError):
    """A move the table does not allow; the message names the action and the state (ST-13)."""

    def __init__(self, *, state: State, action: Action, why: str = ""):
        self.state, self.action = State(state), Action(action)
        message = _("Cannot %(verb)s: the conversation is %(state)s.") % {
            "verb": VERBS[self.action],
            "state": self.state.label,
        }
        super().__init__(f"{message} {why}".strip())


ALL = frozenset(Kind)
CHANNELS = _kinds("with_customer")
CHAT = frozenset({Kind.LIVE_CHAT})
# The customer can hang up a call as they can end a chat; SMS and WhatsApp have no "end".
SYNCHRONOUS = _kinds("synchronous")
VOICE = frozenset({Kind.VOICE})
# Written conversations can wait for the customer; live chat reaches Waiting only when persistent.
ASYNC = _kinds("transcript")
# Monitored (SUP-3) and force closed (SUP-7): every channel, not records.
SUPERVISED = CHANNELS
NOT_ACCEPTED = (("accepted", False),)
ACCEPTED = (("accepted", True), ("has_agent", True))
# SUP-6: only messaging work an agent accepted, never once escalated to a call.
TRANSFERABLE = (*ACCEPTED, ("escalated", False))

S = State
A = Action
RULES: tuple[Rule, ...] = (
    Rule("ST-1", A.PICK, S.OPEN, S.ACTIVE, ALL),
    Rule("ST-1", A.OFFER, S.OPEN, S.ACTIVE, ALL),
    Rule("ST-1", A.ASSIGN, S.OPEN, S.ACTIVE, ALL),
    Rule("ST-1", A.ACCEPT, S.ACTIVE, S.ACTIVE, ALL, NOT_ACCEPTED),
    Rule("RT-3", A.REJECT, S.ACTIVE, S.OPEN, ALL, NOT_ACCEPTED),
    Rule("RT-3", A.OFFER_TIMEOUT, S.ACTIVE, S.OPEN, ALL, NOT_ACCEPTED),
    Rule("ST-2", A.CUSTOMER_END, S.OPEN, S.CLOSED, SYNCHRONOUS),
    Rule("ST-2", A.CUSTOMER_DISCONNECT, S.OPEN, S.CLOSED, SYNCHRONOUS),
    Rule("ST-7", A.CUSTOMER_END, S.ACTIVE, S.CLOSED, SYNCHRONOUS, NOT_ACCEPTED),
    Rule("ST-7", A.CUSTOMER_DISCONNECT, S.ACTIVE, S.CLOSED, SYNCHRONOUS, NOT_ACCEPTED),
    Rule("ST-3", A.AGENT_END, S.ACTIVE, S.WRAP_UP, CHANNELS, ACCEPTED),
    Rule("ST-3", A.CUSTOMER_END, S.ACTIVE, S.WRAP_UP, SYNCHRONOUS, ACCEPTED),
    Rule("ST-21", A.CUSTOMER_DISCONNECT, S.ACTIVE, S.WRAP_UP, SYNCHRONOUS, ACCEPTED),
    # A call handed to an external number has no agent to wrap it up: it ends Closed.
    Rule("ST-22", A.CUSTOMER_END, S.ACTIVE, S.CLOSED, VOICE, (("accepted", True), ("has_agent", False))),
    Rule("ST-22", A.CUSTOMER_DISCONNECT, S.ACTIVE, S.CLOSED, VOICE, (("accepted", True), ("has_agent", False))),
    Rule("ST-4", A.AGENT_RECONNECT_TIMEOUT, S.ACTIVE, S.OPEN, CHANNELS),
    Rule("ST-4", A.RELEASE, S.ACTIVE, S.OPEN, CHANNELS, ACCEPTED),
    Rule("ST-4", A.TRANSFER_TO_QUEUE, S.ACTIVE, S.OPEN, CHANNELS, ACCEPTED),
    Rule("ST-4", A.CLOSE_SESSION, S.ACTIVE, S.OPEN, CHAT, (("accepted", True), ("persistent", False))),
    Rule("ST-24", A.CLOSE_SESSION, S.ACTIVE, S.WAITING, CHAT, (("accepted", True), ("persistent", True))),
    Rule("ST-5", A.CLOSE_SESSION, S.ACTIVE, S.WAITING, frozenset({Kind.MESSAGING}), ACCEPTED),
    Rule("ST-6", A.CLOSE_SESSION, S.ACTIVE, S.CLOSED, frozenset({Kind.RECORD}), (*ACCEPTED, ("case_closed", True))),
    Rule("ST-8", A.CLOSE_SESSION, S.WRAP_UP, S.CLOSED, CHANNELS),
    Rule("ST-9", A.INACTIVITY_TIMEOUT, S.WAITING, S.CLOSED, ASYNC),
    Rule("ST-10", A.RESUME, S.WAITING, S.ACTIVE, ASYNC),
    Rule("ST-11", A.CUSTOMER_MESSAGE, S.WAITING, S.OPEN, ASYNC),
    Rule("ST-20", A.WRAP_UP_BLOCK_EXPIRED, S.WRAP_UP, S.WRAP_UP, CHANNELS),
    Rule("ST-22", A.TRANSFER_TO_AGENT, S.ACTIVE, S.ACTIVE, VOICE, ACCEPTED),
    Rule("ST-22", A.TRANSFER_TO_EXTERNAL, S.ACTIVE, S.ACTIVE, VOICE, ACCEPTED),
    # Supervision (seed 001). Monitoring, joining and leaving record an event and move nothing.
    *(Rule("SUP-3", A.MONITOR, s, s, SUPERVISED) for s in (S.ACTIVE, S.WRAP_UP)),
    Rule("SUP-4", A.SUPERVISOR_JOIN, S.ACTIVE, S.ACTIVE, ASYNC, ACCEPTED),
    *(Rule("SUP-4", A.SUPERVISOR_LEAVE, s, s, ASYNC) for s in (S.ACTIVE, S.WRAP_UP, S.WAITING, S.OPEN)),
    Rule("SUP-5", A.ASSIGN_TO_QUEUE, S.OPEN, S.OPEN, ALL),
    *(
        Rule("SUP-6", action, s, s, _kinds("transferable"), TRANSFERABLE)
        for action in (A.TRANSFER_REQUEST, A.TRANSFER_ACCEPT)
        for s in (S.ACTIVE, S.WAITING)
    ),
    # A pending transfer can always be declined or lapse, whatever happened to the conversation since.
    *(
        Rule("SUP-6", action, s, s, _kinds("transferable"))
        for action in (A.TRANSFER_REJECT, A.TRANSFER_TIMEOUT)
        for s in (S.ACTIVE, S.WAITING)
    ),
    *(Rule("SUP-7", A.FORCE_CLOSE, s, S.CLOSED, SUPERVISED) for s in (S.OPEN, S.ACTIVE, S.WRAP_UP, S.WAITING)),
)

# Why a rule that matches state, action and kind still refuses (ST-13 names the reason).
UNMET = {
    ("accepted", True): _("The agent has not accepted the offer yet."),
    ("accepted", False): _("The agent has already accepted it."),
    ("has_agent", True): _("An external party holds the call."),
    ("case_closed", True): _("Resolve or deactivate the case first."),
    ("escalated", False): _("It was escalated to a voice or video call."),
}


def next_state(action: Action, facts: Facts) -> Rule:
    """The rule that moves a conversation with these facts, or IllegalTransition (ST-13)."""
    candidates = [r for r in RULES if r.action == action and r.source == facts.state]
    if not candidates:
        if facts.state == State.CLOSED:
            raise IllegalTransition(
                state=facts.state,
                action=action,
                why=str(_("Closed conversations are final and cannot be reopened.")),
            )
        raise IllegalTransition(state=facts.state, action=action)
    for_kind = [r for r in candidates if facts.kind in r.kinds]
    if not for_kind:
        why = _("Not possible for %(kind)s conversations.") % {"kind": Kind(facts.kind).label}
        raise IllegalTransition(state=facts.state, action=action, why=str(why))
    for rule in for_kind:
        if rule.applies(facts):
            return rule
    unmet = next(
        (UNMET[req] for r in for_kind for req in r.requires if req in UNMET and getattr(facts, req[0]) is not req[1]),
        "",
    )
    raise IllegalTransition(state=facts.state, action=action, why=str(unmet))


def allows(action: Action, facts: Facts) -> bool:
    """Whether the table lets `action` move a conversation with these facts (next_state, without
    building the refusal: pages ask this for every action of every row they show)."""
    return any(
        r.action == action and r.source == facts.state and facts.kind in r.kinds and r.applies(facts) for r in RULES
    )


# Which workstream switch enables each supervisor action (SUP-2); joining is part of monitoring.
SUPERVISOR_SWITCHES = {
    Action.MONITOR: "allow_monitor",
    Action.SUPERVISOR_JOIN: "allow_monitor",
    Action.ASSIGN: "allow_assign",
    Action.ASSIGN_TO_QUEUE: "allow_assign",
    Action.TRANSFER_REQUEST: "allow_transfer",
    Action.FORCE_CLOSE: "allow_force_close",
}


def supervisor_actions(facts: Facts, *, switches: dict[str, bool], own: bool, transfer_pending: bool) -> set[Action]:
    """What a supervisor may do to a conversation now: what its workstream enables (SUP-2) and
    the table allows; nothing of monitoring on their own conversations (SUP-3), and no second
    transfer while one waits for its agent (SUP-6)."""
    possible = {a for a, switch in SUPERVISOR_SWITCHES.items() if switches.get(switch) and allows(a, facts)}
    if own:
        possible -= {Action.MONITOR, Action.SUPERVISOR_JOIN}
    if transfer_pending:
        possible.discard(Action.TRANSFER_REQUEST)
    return possible
