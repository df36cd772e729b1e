"""Flask: ``init_app(app, kit=kit)`` and every request is recorded the way Flask sees it.

>>> from perfkit.integrations.flask import init_app
>>> init_app(app, kit=kit)        # wraps app.wsgi_app; /perfkit/... is served

What it adds to plain WSGI wrapping:

- the route is Flask's url rule (``/items/<int:item_id>``), also for ``abort(404)``
  inside a route and for a 405 (the rule the path matched under another method);
- the exception type through Flask's ``got_request_exception`` signal, even when an
  ``errorhandler(500)`` turns it into a response;
- the user id from flask-login (``current_user.get_id()``) when the app uses it,
  through the middleware's ``identify`` hook;
- the kit in ``app.extensions["perfkit"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from ..kit import Perfkit, get_kit
from ..middleware.framework_routes import ROUTE_KEY
from ..middleware.wsgi import ERROR_TYPE_KEY, PerfkitMiddleware

if TYPE_CHECKING:
    from ..guards import Guards

__all__ = ["init_app"]

USER_KEY = "perfkit.flask_user"  # where the request's user id waits for the identify hook


def _flask() -> Any:
    try:
        import flask
    except ImportError:
        raise MissingDependencyError("flask", "flask") from None
    return flask


def init_app(
    app: Any,
    kit: Perfkit | None = None,
    *,
    identify: Callable[[dict[str, Any]], tuple[Any, Any] | None] | None = None,
    exclude: Callable[[str], bool] | tuple[str, ...] | list[str] | None = None,
    guards: Guards | None = None,
) -> PerfkitMiddleware:
    """Monitor a Flask app: wrap ``app.wsgi_app`` and connect to Flask's signals.

    Args:
        app: the `flask.Flask` application.
        kit: where to record (`perfkit.get_kit()` when omitted).
        identify: ``identify(environ) -> (user_id, organization_id)``; by default the
            flask-login user when the app has a login manager, else nobody.
        exclude: path prefixes (or a predicate) passed through without being counted.
        guards: rate and body-size limits; `kit.guards` (from the settings) when omitted.

    Returns:
        the middleware now in ``app.wsgi_app``.
    """
    flask = _flask()
    if "perfkit" in app.extensions:
        from ..errors import ConfigError

        raise ConfigError(f"init_app was already called for the Flask app {app.name!r}")
    kit = kit or get_kit()

    def on_started(sender: Any, **extra: Any) -> None:
        # inside the request context, once the url has been matched
        route = _rule_of(sender, flask.request)
        if route is not None:
            flask.request.environ[ROUTE_KEY] = route

    def on_exception(sender: Any, exception: BaseException, **extra: Any) -> None:
        # sent for errors no handler claimed, before an errorhandler(500) answers
        flask.request.environ[ERROR_TYPE_KEY] = type(exception).__name__

    def on_finished(sender: Any, **extra: Any) -> None:
        # the login user exists only inside the request context: keep its id for later
        user = _login_user(sender, kit)
        if user is not None:
            flask.request.environ[USER_KEY] = user

    # weak=False: the receivers are closures only these signals hold
    flask.request_started.connect(on_started, app, weak=False)
    flask.got_request_exception.connect(on_exception, app, weak=False)
    if identify is None:  # the login manager may be set up after this call: looked up per request
        flask.request_finished.connect(on_finished, app, weak=False)
        identify = _identify_login_user
    middleware = PerfkitMiddleware(
        app.wsgi_app,
        kit=kit,
        identify=identify,
        exclude=exclude,
        guards=guards,
    )
    app.wsgi_app = middleware
    app.extensions["perfkit"] = kit
    return middleware


def _identify_login_user(environ: dict[str, Any]) -> tuple[Any, Any] | None:
    user = environ.get(USER_KEY)
    return None if user is None else (user, None)


def _login_user(app: Any, kit: Perfkit) -> str | None:
    if not hasattr(app, "login_manager"):
        return None  # flask-login not installed, or not used by this app
    from flask_login import current_user

    try:
        if not current_user.is_authenticated:
            return None
        user_id = current_user.get_id()
    except Exception as exc:  # the app's user loader failed: no user, never a broken request
        kit.errors.report("flask-login user", exc)
        return None
    return None if user_id is None else str(user_id)


def _rule_of(app: Any, request: Any) -> str | None:
    """The request's url rule, or for a 405 the rule its path matched under another method."""
    rule = request.url_rule
    if rule is not None:
        return str(rule.rule)
    allowed = getattr(request.routing_exception, "valid_methods", None)
    if not allowed:
        return None  # unmatched: perfkit collapses these itself
    from werkzeug.exceptions import HTTPException

    try:
        matched, _ = app.url_map.bind_to_environ(request.environ).match(
            method=next(iter(allowed)), return_rule=True
        )
    except HTTPException:
        return None
    return str(matched.rule)
