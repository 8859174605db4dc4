"""Every socket route of the product, from the core and each surface.

Customers' sockets are scoped by the chat token in their frames (SEC-1), so the server skips
the session and user lookups staff sockets need: less memory for each idle customer socket."""

from omnichannel.conversations.websocket_urls import websocket_urlpatterns as conversation_routes
from omnichannel.widget.websocket_urls import websocket_urlpatterns as customer_routes
from sessions_app.websocket_urls import websocket_urlpatterns as agent_routes
from supervision.websocket_urls import websocket_urlpatterns as supervisor_routes

staff_routes = [*conversation_routes, *agent_routes, *supervisor_routes]
websocket_urlpatterns = [*staff_routes, *customer_routes]
