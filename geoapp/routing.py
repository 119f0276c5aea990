"""WebSocket routes; the apps add theirs here."""

from console.routing import websocket_urlpatterns as console_ws

websocket_urlpatterns: list = [*console_ws]
