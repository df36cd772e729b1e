"""Every ```python block in docs/*.md runs, so the documentation cannot drift from the code.

Each block is executed on its own, in a fresh namespace, with a temporary
directory as the working directory and the environment restored afterwards.
A block that cannot run standalone (it needs a real Redis, a framework
project, a server) is preceded by ``<!-- doc-test: skip (reason) -->``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*$")
_SKIP = re.compile(r"<!--\s*doc-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")


class Block(NamedTuple):
    page: str
    line: int
    code: str
    skip: str | None


def python_blocks(text: str, page: str) -> list[Block]:
    """The python fences of a markdown page, with the skip reason marked before each."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        indent, lang, start = match.group("indent"), match.group("lang"), i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        if lang in ("python", "py"):
            skip = _SKIP.search(previous)
            blocks.append(
                Block(
                    page, start + 1, "\n".join(body) + "\n", skip.group("reason") if skip else None
                )
            )
        previous = ""
    return blocks


def _all_blocks() -> list[Block]:
    found: list[Block] = []
    for path in sorted(DOCS.glob("*.md")):
        found.extend(python_blocks(path.read_text(encoding="utf-8"), path.name))
    return found


BLOCKS = _all_blocks()


@contextlib.contextmanager
def _isolated(tmp_path: Path) -> Iterator[None]:
    """A temporary cwd, the environment and the default kit restored, logging undone."""
    from perfkit import kit as kit_module
    from perfkit.logs import shutdown_logging

    cwd, environ = Path.cwd(), dict(os.environ)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    previous_kit = kit_module._default_kit
    os.chdir(tmp_path)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        shutdown_logging()
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        default = kit_module._default_kit
        if default is not None and default is not previous_kit:
            default.stop()
        kit_module.set_default_kit(previous_kit)


def test_the_docs_have_python_examples() -> None:
    assert len([b for b in BLOCKS if b.skip is None]) >= 20
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert len(skipped) <= len(BLOCKS) // 3, "most examples must run; keep the skips few"


def test_block_parser_reads_fences_and_skip_markers() -> None:
    page = (
        "text\n```python\nx = 1\n```\n"
        "<!-- doc-test: skip (needs Redis) -->\n\n```python\nboom()\n```\n"
        "```console\n$ ls\n```\n- item:\n\n    ```python\n    y = 2\n    ```\n"
    )
    blocks = python_blocks(page, "p.md")
    assert [b.code for b in blocks] == ["x = 1\n", "boom()\n", "y = 2\n"]
    assert [b.skip for b in blocks] == [None, "needs Redis", None]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.page}:{b.line}" for b in BLOCKS] or ["none"])
def test_doc_example_runs(block: Block, tmp_path: Path) -> None:
    """The block executes without error in a fresh namespace."""
    if block.skip is not None:
        pytest.skip(f"{block.page}:{block.line}: {block.skip}")
    code = compile(block.code, f"docs/{block.page}:{block.line}", "exec")
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    with _isolated(tmp_path), contextlib.redirect_stdout(io.StringIO()):
        try:
            exec(code, namespace)
        finally:
            # a page shows a module for a server (kit.start(), no stop): end its threads
            from perfkit import Perfkit

            for value in namespace.values():
                if isinstance(value, Perfkit):
                    value.stop()
