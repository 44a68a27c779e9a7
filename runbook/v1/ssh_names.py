"""The names an SSH target may use for its hosts and users, checked before anything runs.

A host is ``[user@]host[:port]`` (the shorthand Fabric reads) or an IPv6
address. A name that starts with ``-`` would reach ssh, a ProxyCommand or a
``{{ host }}`` in a command as an option (``-oProxyCommand=...``); a port that
is not a number from 1 to 65535 or an empty user or host would only fail at run
time. Each problem is one sentence for a ``FILE:LINE:COL`` message.
"""

from __future__ import annotations

import re

_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$")
# For editors (``launchctl schema``); the functions below give the precise messages.
USER_PATTERN = r"^[A-Za-z0-9_.][A-Za-z0-9_.$-]*$"
HOST_PATTERN = (
    r"^([A-Za-z0-9_.][A-Za-z0-9_.$-]*@)?"
    r"([A-Za-z0-9_][A-Za-z0-9_.-]*(:[0-9]{1,5})?|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f.]*"
    r"(%[A-Za-z0-9_.-]+)?)$"
)
OPTION_LIKE = "starts with '-' (it would read as an option to ssh or a ProxyCommand)"


def user_problem(user: str) -> str | None:
    """Why ``user`` cannot be an SSH user name, or None."""
    if not user:
        return "empty user name"
    if user.startswith("-"):
        return f"user name '{user}' {OPTION_LIKE}"
    if not re.match(USER_PATTERN, user):
        return f"'{user}' is not a user name: use letters, digits, '.', '_', '-' and '$'"
    return None


def host_problem(spec: str) -> str | None:
    """Why ``spec`` (``[user@]host[:port]``) cannot name an SSH host, or None."""
    user, at, hostport = spec.rpartition("@")
    if at:
        if not user:
            return "nothing before '@': give a user name, or leave the '@' out"
        if problem := user_problem(user):
            return problem
    if hostport.count(":") > 1:  # an IPv6 address; its port goes in the target's `port`
        return None if _IPV6.match(hostport) else f"'{hostport}' is not an IPv6 address"
    host, colon, port = hostport.partition(":")
    if not host:
        return "empty host name"
    if host.startswith("-"):
        return f"host name '{host}' {OPTION_LIKE}"
    if not _HOST.match(host):
        return f"'{host}' is not a host name: use letters, digits, '.', '-' and '_'"
    if colon and not port:
        return "empty port after ':'"
    if colon and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"port '{port}' is not a number from 1 to 65535"
    return None
