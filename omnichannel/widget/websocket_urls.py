from django.urls import path

from .consumers import CustomerChatConsumer

websocket_urlpatterns = [path("ws/chat/customer/", CustomerChatConsumer.as_asgi())]
