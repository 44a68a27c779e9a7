"""Files a runbook names (``gate``, ``ssh.config``, ``ssh.known_hosts``) must be there to be read.

Checked when the runbook is loaded, so ``validate`` and ``preflight`` say so at
the field's line and column instead of the launch failing at T-40m. Paths are
taken as the launch takes them: relative to the runbook's directory, ``~``
expanded. A ``known_hosts`` file that does not exist yet is fine as long as its
directory does: like OpenSSH, the launch reads it as empty (``preflight`` then
reports each host's key as unknown) and ``accept-new`` creates it.
"""

from __future__ import annotations

import os
from pathlib import Path

from runbook import model
from runbook.errors import Diagnostic
from runbook.schema.yaml_tree import YMap


def check_named_files(
    runbook: model.Runbook, tree: YMap, file: str, base_dir: Path
) -> list[Diagnostic]:
    """One diagnostic per named file that cannot be read (``runbook`` already resolved)."""
    problems: list[Diagnostic] = []

    def problem(keys: tuple[str, ...], message: str) -> None:
        node = tree
        for key in keys:
            node = node.items[key] if isinstance(node, YMap) and key in node.items else node
        problems.append(Diagnostic(file, node.mark.line, node.mark.column, message))

    if runbook.gate is not None:
        why = _unreadable(runbook.gate)
        if why:
            problem(("gate",), f"gate: {why}: {runbook.gate}")
    ssh_node = tree.items.get("ssh")
    given = ssh_node.items if isinstance(ssh_node, YMap) else {}
    if "config" in given and runbook.ssh.config:
        path = _path(runbook.ssh.config, base_dir)
        why = _unreadable(path)
        if why:
            problem(("ssh", "config"), f"ssh.config: {why}: {path}")
    if "known_hosts" in given:
        path = _path(runbook.ssh.known_hosts, base_dir)
        why = _unreadable(path)
        if why == "no such file" and path.parent.is_dir():
            why = None
        if why:
            problem(("ssh", "known_hosts"), f"ssh.known_hosts: {why}: {path}")
    return problems


def _path(text: str, base_dir: Path) -> Path:
    expanded = Path(text).expanduser()
    return expanded if expanded.is_absolute() else base_dir / expanded


def _unreadable(path: Path) -> str | None:
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory, not a file"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    return None
