"""What the HTTP API needs from the kit it serves: `ServedKit`.

The handlers read the kit only through this protocol, so `perfkit.web` does not
import `perfkit.kit` (the kit serves the API from above); `Perfkit` satisfies it.
A part that is not set up raises (`ConfigError`, `MissingDependencyError`, ...)
and the API answers 404 ``not_available``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._safety import InternalErrors
    from ..alerts.manager import AlertManager
    from ..backup import DatabaseBackup
    from ..cache.manager import CacheManager
    from ..clock import Clock
    from ..config import PerfkitSettings
    from ..metrics.registry import Registry
    from ..system import SystemMonitor
    from .audit import ReadAudit
    from .auth import ClientRateLimiter

__all__ = ["ServedKit"]


class ServedKit(Protocol):
    """The kit as the API sees it: settings, reads, maintenance and the parts."""

    @property
    def settings(self) -> PerfkitSettings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def errors(self) -> InternalErrors: ...
    @property
    def authorize(self) -> Callable[[Any], bool] | None: ...
    @property
    def api_limiter(self) -> ClientRateLimiter: ...
    @property
    def read_audit(self) -> ReadAudit: ...

    def view(self) -> Registry: ...
    def snapshot(self) -> dict[str, Any]: ...
    def render_metrics(self, accept: str | None = None) -> tuple[str, bytes]: ...
    def health(self) -> dict[str, Any]: ...
    def ready(self) -> dict[str, Any]: ...
    def get_recommendations(self) -> list[str]: ...

    def update_settings(self, **changes: Any) -> PerfkitSettings: ...
    def reset(self) -> None: ...
    def cleanup(self) -> dict[str, Any]: ...
    def audit(
        self,
        event_type: str,
        action: str,
        resource: str,
        details: Any = None,
        ip_address: str | None = None,
    ) -> None: ...

    @property
    def system(self) -> SystemMonitor: ...
    @property
    def alerts(self) -> AlertManager: ...
    @property
    def cache(self) -> CacheManager: ...
    @property
    def backups(self) -> DatabaseBackup: ...
