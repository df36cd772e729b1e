"""pytest plugin: run Flask's or Starlette's own test suite with every app wrapped by perfkit.

Loaded by ``run.sh`` with ``-p perfkit_wrap_plugin`` (this folder on PYTHONPATH). Not a test
module of ours: CI never collects it (its name does not start with ``test_``).

- Flask: ``Flask.wsgi_app`` is patched so each app's WSGI call goes through
  `perfkit.wsgi.PerfkitMiddleware`, one fresh `Perfkit()` per app.
- Starlette: ``Starlette.__call__`` is patched to go through `perfkit.asgi.PerfkitMiddleware`,
  one fresh `Perfkit()` per app.

Patching the method (not the instance) keeps the framework's own attribute writable: a test
that assigns ``app.wsgi_app = SomeMiddleware(app.wsgi_app)`` wraps our wrapper, as in real use.
"""

from __future__ import annotations

from typing import Any

KITS: list[Any] = []  # one per wrapped app: the summary shows they really recorded requests


def _wrap_flask() -> None:
    import flask

    from perfkit import Perfkit
    from perfkit.wsgi import PerfkitMiddleware

    original = flask.Flask.wsgi_app

    def wsgi_app(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        middleware = self.__dict__.get("_perfkit_wrap")
        if middleware is None:

            def inner(env: dict[str, Any], respond: Any) -> Any:
                return original(self, env, respond)

            KITS.append(Perfkit())
            middleware = PerfkitMiddleware(inner, KITS[-1])
            self.__dict__["_perfkit_wrap"] = middleware
        return middleware(environ, start_response)

    flask.Flask.wsgi_app = wsgi_app  # type: ignore[method-assign]


def _wrap_starlette() -> None:
    from starlette.applications import Starlette

    from perfkit import Perfkit
    from perfkit.asgi import PerfkitMiddleware

    original = Starlette.__call__

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        middleware = self.__dict__.get("_perfkit_wrap")
        if middleware is None:

            async def inner(s: Any, r: Any, w: Any) -> None:
                await original(self, s, r, w)

            KITS.append(Perfkit())
            middleware = PerfkitMiddleware(inner, KITS[-1])
            self.__dict__["_perfkit_wrap"] = middleware
        await middleware(scope, receive, send)

    Starlette.__call__ = call  # type: ignore[method-assign]


def pytest_configure(config: Any) -> None:
    import importlib.util

    if importlib.util.find_spec("flask") is not None:
        _wrap_flask()
    if importlib.util.find_spec("starlette") is not None:
        _wrap_starlette()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    timed = sum(kit.snapshot()["requests"]["summary"]["count"] for kit in KITS)
    terminalreporter.write_line(
        f"perfkit_wrap_plugin: {len(KITS)} apps wrapped, {timed} HTTP requests recorded"
    )
