"""`perfkit backup create|list|verify|restore|delete|stats`: backups from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from ..backup.info import check_filename
from ..errors import BackupError, ConfigError, MissingDependencyError
from ._output import duration, size

__all__ = ["add_parser"]

_USAGE_ERROR = 2  # also a failure perfkit reports (docs/cli.md "Exit codes")
_CHECK_FAILED = 1  # a backup failed verification, or the restore was declined


def add_parser(sub: Any) -> None:
    """Add the ``backup`` command group to the `perfkit` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url", help="database to back up (default: PERFKIT_DATABASE_URL)"
    )
    common.add_argument("--backup-dir", help="where backups live (default: PERFKIT_BACKUP_DIR)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    common.add_argument("--check", choices=("full", "quick"), default="full",
                        help="how deeply dumps are checked (default: full)")  # fmt: skip
    bar = common.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar (default: when stderr is a terminal)")  # fmt: skip
    bar.add_argument("--no-progress", dest="progress", action="store_false")

    parser: argparse.ArgumentParser = sub.add_parser("backup", help="database backups")
    cmds = parser.add_subparsers(dest="backup_command", metavar="ACTION")
    cmds.required = True
    create = cmds.add_parser("create", parents=[common], help="create a verified backup")
    create.add_argument("--prefix", default="backup", help="name prefix (default: backup)")
    create.add_argument("--no-compress", action="store_true", help="store the dump uncompressed")
    create.add_argument("--max-backups", type=int, help="backups to keep (default: settings)")
    cmds.add_parser("list", parents=[common], help="list backups, newest first")
    verify = cmds.add_parser("verify", parents=[common], help="check backups' integrity")
    verify.add_argument("name", nargs="?", help="one backup (default: all)")
    restore = cmds.add_parser("restore", parents=[common], help="restore a backup (destructive)")
    restore.add_argument("name")
    restore.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    restore.add_argument("--no-safety-backup", action="store_true",
                         help="skip the backup of the current database taken first")  # fmt: skip
    delete = cmds.add_parser("delete", parents=[common], help="delete a backup")
    delete.add_argument("name")
    cmds.add_parser("stats", parents=[common], help="backup counts, sizes and last results")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args)
    except (ValueError, ConfigError, MissingDependencyError) as exc:
        return _fail(args, exc, _USAGE_ERROR)
    except (BackupError, OSError) as exc:
        return _fail(args, exc, _USAGE_ERROR)


def _fail(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.json:
        print(json.dumps({"error": type(exc).__name__, "detail": str(exc)}))
    print(f"perfkit backup {args.backup_command}: error: {exc}", file=sys.stderr)
    return code


def _manager(args: argparse.Namespace) -> Any:
    from ..backup import DatabaseBackup
    from ..config import PerfkitSettings

    kit = getattr(args, "kit", None)  # manage.py perfkit: the project's settings
    settings = kit.settings if kit is not None else PerfkitSettings.from_env()
    url = args.database_url or settings.database_url
    if not url:
        raise ConfigError("no database given: pass --database-url or set PERFKIT_DATABASE_URL")
    max_backups = getattr(args, "max_backups", None) or settings.max_backups
    return DatabaseBackup(
        url,
        args.backup_dir or settings.backup_dir,
        max_backups=max_backups,
        compress=settings.backup_compress and not getattr(args, "no_compress", False),
        encryption_key=settings.backup_encryption_key,
        check=args.check,
    )


def _dispatch(args: argparse.Namespace) -> int:
    backups = _manager(args)
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    bar = _Bar(sys.stderr) if show else None
    progress = bar.update if bar else None
    cmd = args.backup_command
    try:
        if cmd == "create":
            info = backups.create_backup(args.prefix, progress=progress)
            return _out(args, info.to_dict(), f"created {info.filename} ({_size(info.size_bytes)})")
        if cmd == "list":
            rows = [b.to_dict() for b in backups.list_backups()]
            lines = [
                f"{r['filename']:<48} {_size(r['size_bytes']):>10}  {r['timestamp']}" for r in rows
            ]
            return _out(args, rows, "\n".join(lines) or "no backups")
        if cmd == "verify":
            known = [b.filename for b in backups.list_backups()]
            if args.name and check_filename(args.name) not in known:
                raise BackupError(f"no backup named {args.name!r}; see `perfkit backup list`")
            names = [args.name] if args.name else known
            results = [
                {"filename": n, "ok": backups.verify_backup(n, progress=progress)} for n in names
            ]
            text = "\n".join(
                f"{'ok    ' if r['ok'] else 'FAILED'} {r['filename']}" for r in results
            )
            _out(args, results, text or "no backups")
            return 0 if all(r["ok"] for r in results) else _CHECK_FAILED
        if cmd == "restore":
            check_filename(args.name)
            if args.name not in {b.filename for b in backups.list_backups()}:
                raise BackupError(f"no backup named {args.name!r}; see `perfkit backup list`")
            if not args.yes and not _confirm(args.name, backups.strategy.display_url):
                print("restore cancelled", file=sys.stderr)
                return _CHECK_FAILED
            result = backups.restore_backup(
                args.name, progress=progress, safety_backup=not args.no_safety_backup
            )
            safety = result["safety_backup"]
            note = f"; the previous state is in {safety}" if safety else ""
            return _out(args, result, f"restored {args.name}{note}")
        if cmd == "delete":
            if not backups.delete_backup(args.name):
                raise BackupError(f"no backup named {args.name!r}; see `perfkit backup list`")
            return _out(args, {"filename": args.name, "deleted": True}, f"deleted {args.name}")
        stats = backups.get_backup_stats()
        return _out(args, stats, _stats_text(stats))
    finally:
        if bar:
            bar.close()


def _out(args: argparse.Namespace, data: Any, text: str) -> int:
    print(json.dumps(data, indent=2, default=str) if args.json else text)
    return 0


def _confirm(name: str, target: str) -> bool:
    prompt = f"Restore {name} into {target}? This replaces its current data. [y/N] "
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _stats_text(stats: dict[str, Any]) -> str:
    """`backup stats` for people. The run counters are left out: they count this
    process's runs, which for a command that only reads are always zero."""
    count = stats["total_backups"]
    noun = "backup" if count == 1 else "backups"
    lines = [
        f"backups:       {count} {noun}, {_size(stats['total_size_bytes'])} in "
        f"{stats['backup_dir']} (keeps {stats['max_backups']})",
        f"database:      {stats['database_type']}"
        f" · {'compressed' if stats['compress'] else 'not compressed'}"
        f" · {'encrypted' if stats['encrypted'] else 'not encrypted'}",
    ]
    for label, key in (("newest:", "newest"), ("oldest:", "oldest")):
        info = stats.get(key)
        if info and (key == "newest" or count > 1):
            lines.append(f"{label:<15}{info['filename']} ({_size(info['size_bytes'])})")
    hours = stats.get("hours_since_success")
    if stats.get("last_success"):
        ago = duration(hours * 3600) if isinstance(hours, (int, float)) else "?"
        lines.append(f"last success:  {stats['last_success']} ({ago} ago)")
    else:
        lines.append("last success:  never")
    if stats.get("last_failure"):
        lines.append(f"last failure:  {stats['last_failure']}: {stats.get('last_error')}")
    return "\n".join(lines)


_size = size


class _Bar:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = 0.0
        self._drawn = False
        self._stage = ""

    def update(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        if self._drawn and stage != self._stage:
            self.stream.write("\n")  # keep each finished stage on its own line
        self._stage = stage
        if total:  # pages (SQLite) or bytes: a percentage reads the same for both
            share = min(done, total) / total
            filled = int(30 * share)
            line = f"{stage:<8} [{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}"
        else:
            line = f"{stage:<8} {_size(done)}"
        self.stream.write("\r" + line.ljust(70))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
