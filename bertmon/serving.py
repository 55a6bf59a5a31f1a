"""textual-serve's Server, with page links taken from the address the browser used.

textual-serve writes its websocket and static URLs from the host it was told to bind, which a
browser cannot use when that is 0.0.0.0 or when it comes through an SSH tunnel on another port;
the request's own Host header is what the browser can reach.
"""

from __future__ import annotations

from aiohttp import web
from textual_serve.server import Server


class MonitorServer(Server):
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # no await between setting the URL and rendering the page: no other request interleaves
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)
