from django.urls import path

from .sockets.conversation import ConversationConsumer

websocket_urlpatterns = [
    path("ws/conversations/<int:pk>/", ConversationConsumer.as_asgi()),
]
