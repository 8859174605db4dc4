"""Errors an action raises instead of changing anything; each message is fit to show a user."""


class ConversationError(Exception):
    """Base: the action was refused and nothing changed."""


class NotPermitted(ConversationError):
    """The actor may not do this to this conversation."""


class CapacityExceeded(ConversationError):
    """The agent lacks free capacity and no supervisor override was given."""


class ConcurrentChange(ConversationError):
    """Someone else changed the conversation first, and kept changing it while we retried."""


class InvalidInput(ConversationError):
    """The input itself is unacceptable (empty message, too long, unknown target)."""
