"""Every socket route of the product, from the core and each surface."""

from omnichannel.conversations.websocket_urls import websocket_urlpatterns as conversation_routes
from omnichannel.widget.websocket_urls import websocket_urlpatterns as customer_routes
from sessions_app.websocket_urls import websocket_urlpatterns as agent_routes

websocket_urlpatterns = [*conversation_routes, *agent_routes, *customer_routes]
