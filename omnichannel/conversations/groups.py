"""Channel-layer group names: every push and every socket subscription names groups here."""

SUPERVISORS = "supervisors"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def queue_group(queue_id: int) -> str:
    """Agents of a queue watch it for Open work to pick (RT-4)."""
    return f"queue.{queue_id}"
