"""Channel-layer group names: every push and every socket subscription names groups here."""

SUPERVISORS = "supervisors"
# A channel, not a group: each wake-up is taken by one worker, which then distributes.
DISTRIBUTION_WAKE = "distribution.wake"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def queue_group(queue_id: int) -> str:
    """Agents of a queue watch it for Open work to pick (RT-4)."""
    return f"queue.{queue_id}"
