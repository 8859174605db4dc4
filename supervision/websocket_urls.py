from django.urls import path

from .consumers import DashboardConsumer
from .monitor import SupervisorChatConsumer

websocket_urlpatterns = [
    path("ws/supervisor/", DashboardConsumer.as_asgi()),
    path("ws/supervisor/chat/", SupervisorChatConsumer.as_asgi()),
]
