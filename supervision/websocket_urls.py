from django.urls import path

from .consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/supervisor/", DashboardConsumer.as_asgi()),
]
