"""Channel-layer group names: every push and every socket subscription names groups here."""

SUPERVISORS = "supervisors"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"
