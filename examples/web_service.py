"""An aiohttp web service that calls Losant on each request, sharing one client.

The client lives as long as the web app (``cleanup_ctx``): one pooled session, one rate
limit and one concurrency cap for every request the service handles at once.

    LOSANT_API_TOKEN=... python examples/web_service.py     # serves on 127.0.0.1:8080
    curl 127.0.0.1:8080/applications/APPLICATION_ID

Without ``LOSANT_API_TOKEN`` it starts the local Losant server, serves on a free port,
asks itself about a few applications at once, prints the answers and exits.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
import anyio
from aiohttp import web

from losant_async import LosantClient, LosantError, NotFoundError

CLIENT = web.AppKey("client", LosantClient)


def make_app(token: str | None = None, base_url: str | None = None) -> web.Application:
    """The web app; ``token`` and ``base_url`` default to the environment's."""

    async def losant_client(app: web.Application) -> AsyncIterator[None]:
        async with LosantClient(token, base_url=base_url, max_concurrency=16) as client:
            app[CLIENT] = client
            yield

    app = web.Application()
    app.cleanup_ctx.append(losant_client)
    app.router.add_get("/applications/{application_id}", application_summary)
    return app


async def application_summary(request: web.Request) -> web.Response:
    """An application's name and device count: two calls, made concurrently."""
    client = request.app[CLIENT]
    app_id = request.match_info["application_id"]
    try:
        async with anyio.create_task_group() as tg:
            answers: dict[str, object] = {}

            async def name() -> None:
                answers["name"] = (await client.application.get(application_id=app_id)).name

            async def devices() -> None:
                page = await client.devices.get(application_id=app_id, per_page=1)
                answers["devices"] = page.total_count

            tg.start_soon(name)
            tg.start_soon(devices)
    except ExceptionGroup as group:  # the first failure tells the story
        error = group.exceptions[0]
        if isinstance(error, ValueError):  # not an ID: refused before any request
            raise web.HTTPBadRequest(text=str(error)) from None
        if isinstance(error, NotFoundError):
            raise web.HTTPNotFound(text=f"no application {app_id}") from None
        if isinstance(error, LosantError):
            raise web.HTTPBadGateway(text=f"Losant: {error}") from None
        raise
    return web.json_response({"id": app_id, **answers})


async def local_demo() -> None:
    from losant_async.testing import FakeLosant

    async with FakeLosant(orgs=2, apps_per_org=2) as server:
        runner = web.AppRunner(make_app(server.token, server.url))
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            print(f"serving on http://127.0.0.1:{port} (Losant: the local server)")
            paths = [f"/applications/{a}" for a in server.ids.application_ids]
            paths += ["/applications/" + "0" * 24, "/applications/nope"]
            answers: dict[str, str] = {}
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:

                async def ask(path: str) -> None:
                    async with http.get(path) as response:
                        answers[path] = f"{response.status} {await response.text()}"

                async with anyio.create_task_group() as tg:  # requests at once, one client
                    for path in paths:
                        tg.start_soon(ask, path)
            for path in paths:
                print(f"GET {path} -> {answers[path]}")
        finally:
            await runner.cleanup()


def main() -> None:
    if os.environ.get("LOSANT_API_TOKEN"):
        web.run_app(make_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
    else:
        anyio.run(local_demo)


if __name__ == "__main__":
    main()
