"""Which ssh_config and known_hosts a launch uses, read the way OpenSSH reads them.

The runbook's ``ssh.config`` wins; without it the user's ``~/.ssh/config`` applies
(as with ``ssh``). Relative paths are relative to the runbook's directory.
``Include`` lines are inlined here because paramiko's parser ignores them.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runbook import model

if TYPE_CHECKING:
    from paramiko import SSHConfig

USER_CONFIG = "~/.ssh/config"
_INCLUDE = re.compile(r"^\s*include(?:\s*=\s*|\s+)(.+?)\s*$", re.IGNORECASE)
_MAX_INCLUDE_DEPTH = 16


class SshConfigError(Exception):
    """The ssh_config named by the runbook cannot be read."""


@dataclass(frozen=True)
class SshPaths:
    """The runbook's ``ssh`` section with paths made absolute and timeouts in seconds."""

    config: Path | None  # None: no file at all (user default absent)
    known_hosts: Path
    policy: model.HostKeyPolicy
    connect_timeout: float
    config_given: bool

    @classmethod
    def of(cls, settings: model.SshSettings, base_dir: Path | None) -> SshPaths:
        base = base_dir or Path.cwd()
        if settings.config:
            config: Path | None = resolve_path(settings.config, base)
        else:
            default = Path(USER_CONFIG).expanduser()
            config = default if default.is_file() else None
        return cls(
            config=config,
            known_hosts=resolve_path(settings.known_hosts, base),
            policy=settings.host_key_policy,
            connect_timeout=settings.connect_timeout.total_seconds(),
            config_given=bool(settings.config),
        )


def resolve_path(path: str, base_dir: Path) -> Path:
    expanded = Path(path).expanduser()
    return expanded if expanded.is_absolute() else (base_dir / expanded)


def load_ssh_config(paths: SshPaths) -> SSHConfig:
    """Parse the ssh_config for this launch (an empty one when there is none)."""
    from paramiko import SSHConfig

    if paths.config is None:
        return SSHConfig()
    try:
        text = _inline_includes(paths.config, 0)
    except OSError as exc:
        raise SshConfigError(f"cannot read ssh config {paths.config}: {exc.strerror}") from None
    try:
        return SSHConfig.from_text(text)
    except Exception as exc:  # paramiko raises plain exceptions for bad lines
        raise SshConfigError(f"cannot parse ssh config {paths.config}: {exc}") from None


def _inline_includes(path: Path, depth: int) -> str:
    """The file's text with each ``Include`` replaced by the files it names, in glob order.

    OpenSSH resolves relative includes in a user config against ``~/.ssh``; the
    directory of the including file is used here too, which is the same for a
    config in ``~/.ssh`` and the least surprising for one next to a runbook.
    """
    lines = []
    for line in path.read_text().splitlines():
        match = _INCLUDE.match(line)
        if match is None:
            lines.append(line)
            continue
        if depth >= _MAX_INCLUDE_DEPTH:
            raise OSError(0, f"Include nested deeper than {_MAX_INCLUDE_DEPTH} levels in {path}")
        for pattern in match.group(1).split():
            expanded = Path(pattern).expanduser()
            if not expanded.is_absolute():
                expanded = path.parent / expanded
            for included in sorted(glob.glob(str(expanded))):
                if Path(included).is_file():
                    lines.append(_inline_includes(Path(included), depth + 1))
    return "\n".join(lines)
