"""The console's WebSocket: joins the live group, replays what a reconnecting browser missed."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import live
from .permissions import can_watch


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/console/?since=<seq>`: operators and leadership; read-only (changes go through the API)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await database_sync_to_async(can_watch)(user):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(live.GROUP, self.channel_name)
        await self.accept()
        since = self._since()
        seq = await database_sync_to_async(live.current_seq)()
        if since is not None:
            await self._replay(since)
        await self.send_json({"type": "hello", "seq": seq})

    def _since(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        value = (query.get("since") or [""])[0]
        return int(value) if value.isdigit() else None

    async def disconnect(self, code) -> None:
        await self.channel_layer.group_discard(live.GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "catchup":
            # The browser saw a gap in the sequence (the channel layer drops messages to a consumer
            # that falls behind under load): send what it missed without waiting for a reconnect.
            since = content.get("since")
            if isinstance(since, int) and not isinstance(since, bool) and since >= 0:
                await self._replay(since)

    async def _replay(self, since: int) -> None:
        missed = await database_sync_to_async(live.events_since)(since)
        if missed is None:
            seq = await database_sync_to_async(live.current_seq)()
            await self.send_json({"type": "resync", "seq": seq})
        else:
            for item in missed:
                await self.send_json({"type": "event", **item})

    async def live_batch(self, message: dict) -> None:
        """Events pushed together (one, or a batch of the worker's relay): the browser gets them one by one."""
        for event in message["events"]:
            await self.send_json({"type": "event", **event})
