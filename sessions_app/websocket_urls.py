from django.urls import path

from .consumers import AgentChatConsumer, AgentConsumer, WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/agent/workspace/", WorkspaceConsumer.as_asgi()),
    path("ws/agent/chat/", AgentChatConsumer.as_asgi()),
]
