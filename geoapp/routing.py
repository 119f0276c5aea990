"""WebSocket routes; the apps add theirs here."""

websocket_urlpatterns: list = []
