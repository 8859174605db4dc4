from django.urls import path

from .consumers import AgentChatConsumer, AgentConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/agent/chat/", AgentChatConsumer.as_asgi()),
]
