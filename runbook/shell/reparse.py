"""Which arguments of a command a shell will parse a second time.

``sh -c 'echo {{ v }}'`` hands its argument to a new shell, so a value there is
read as code again, whatever quoting the outer shell saw. This module knows the
common shapes of that from the words of one command (as the author wrote them):
shells' ``-c``, ``ssh``, ``su``, ``eval``, ``watch``, ``kubectl``/``docker exec``,
``sudo -s`` and wrappers (``sudo``, ``env``, ``timeout``, ...) in front of any of
these. It errs on the side of "re-parsed": a false alarm costs a ``pattern:``,
a miss costs an injection.
"""

from __future__ import annotations

import re

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "busybox", "fish"})
ALL_ARGUMENTS = frozenset({"ssh", "su", "eval", "watch", "parallel", "runuser", "script", "flock"})
EXEC_TOOLS = frozenset({"kubectl", "oc", "docker", "podman", "nerdctl", "crictl"})
WRAPPERS = {
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group"},
    "doas": {"-u", "-C"},
    "env": {"-u", "-C", "--unset", "--chdir"},
    "nice": {"-n", "--adjustment"},
    "ionice": {"-c", "-n", "-p"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "stdbuf": {"-i", "-o", "-e"},
    "exec": {"-a"},
    "nohup": set(),
    "command": set(),
    "time": set(),
    "setsid": set(),
    "xargs": {"-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a"},
    "chroot": set(),
}
LOGIN_SHELL_FLAGS = frozenset({"-s", "-i", "--shell", "--login"})
_SHELL_OPTIONS_WITH_ARGUMENT = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
_DURATION = re.compile(r"^\d+(\.\d+)?[smhd]?$")


def command_name(word: str) -> str:
    """``/usr/bin/sh`` and ``sh`` are the same command here."""
    return word.rsplit("/", 1)[-1]


def reparsed_arguments(words: list[str]) -> dict[int, str]:
    """For the words of one command (``words[0]`` is its name): argument index -> why it is re-parsed."""
    if not words:
        return {}
    name = command_name(words[0])
    everything = dict.fromkeys(range(1, len(words)), f"an argument of '{name}'")
    if name in ALL_ARGUMENTS:
        return everything
    if name in EXEC_TOOLS and "exec" in words[1:]:
        return {i: f"an argument of '{name} exec'" for i in everything}
    if name in SHELLS:
        return _shell_command_string(words, 0)
    if name in WRAPPERS:
        if name in ("sudo", "doas") and LOGIN_SHELL_FLAGS & set(words[1:]):
            return {i: f"an argument of '{name} -s/-i' (run by a shell)" for i in everything}
        start = _wrapped_command(words, name)
        if start is None:
            return {}
        inner = reparsed_arguments(words[start:])
        return {start + i: why for i, why in inner.items()}
    return _shell_anywhere(words)


def reads_script_from_stdin(words: list[str]) -> bool:
    """Whether this command runs what arrives on its standard input (``sh``, ``ssh host``, ...)."""
    if not words:
        return False
    name = command_name(words[0])
    if name in SHELLS:
        return _shell_reads_stdin(words)
    if name in ALL_ARGUMENTS or (name in EXEC_TOOLS and "exec" in words[1:]):
        return True
    if name in WRAPPERS:
        start = _wrapped_command(words, name)
        return start is not None and reads_script_from_stdin(words[start:])
    return False


def _shell_options(words: list[str], at: int) -> tuple[int, bool, bool]:
    """Skip a shell's options: (index of the first operand, saw -c, saw -s)."""
    index, has_c, has_s = at + 1, False, False
    while index < len(words):
        word = words[index]
        if word == "--":
            return index + 1, has_c, has_s
        if word in _SHELL_OPTIONS_WITH_ARGUMENT:
            index += 2
            continue
        if not word.startswith(("-", "+")) or word in ("-", "+"):
            break
        if not word.startswith("--"):
            has_c = has_c or "c" in word[1:]
            has_s = has_s or "s" in word[1:]
        index += 1
    return index, has_c, has_s


def _shell_command_string(words: list[str], at: int) -> dict[int, str]:
    """``sh -c STRING $0 $1 ...``: only STRING is parsed again; the rest are positional values."""
    operand, has_c, _has_s = _shell_options(words, at)
    if has_c and operand < len(words):
        return {operand: f"the command string of '{command_name(words[at])} -c'"}
    return {}


def _shell_reads_stdin(words: list[str]) -> bool:
    operand, has_c, has_s = _shell_options(words, 0)
    return not has_c and (has_s or operand >= len(words))


def _shell_anywhere(words: list[str]) -> dict[int, str]:
    """``find -exec sh -c ...``, ``nsenter -t 1 sh -c ...``: a shell's -c anywhere in the words."""
    found: dict[int, str] = {}
    for index in range(1, len(words)):
        if command_name(words[index]) in SHELLS:
            found.update(_shell_command_string(words, index))
    return found


def _wrapped_command(words: list[str], name: str) -> int | None:
    """Index of the command a wrapper runs: past its options, assignments and operands."""
    takes_argument = WRAPPERS[name]
    index = 1
    positional_first = name in ("timeout", "chroot")
    while index < len(words):
        word = words[index]
        if word == "--":
            index += 1
            break
        if word in takes_argument:
            index += 2
            continue
        if word.startswith("-") or (name == "env" and "=" in word):
            index += 1
            continue
        if positional_first and (name == "chroot" or _DURATION.match(word)):
            positional_first = False
            index += 1
            continue
        break
    return index if index < len(words) else None
