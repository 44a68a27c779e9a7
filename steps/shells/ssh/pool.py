"""SSH connections for one launch: one per host, opened on first use and reused until the end.

A ``Connection`` (Fabric) resolves each host through ssh_config (HostName,
User, Port, IdentityFile, ProxyJump, ProxyCommand, HostKeyAlias, CheckHostIP,
HashKnownHosts); the pool opens it with the launch's host key policy (never
paramiko's ``AutoAddPolicy``, and never paramiko's own key comparison), on a
socket with ``TCP_NODELAY``, with every phase — DNS, TCP connect, SSH banner,
key exchange, authentication — bounded by ``connect_timeout``.
A handshake that a busy sshd drops (``MaxStartups``) is retried with backoff;
refused auth and host key problems are not. Every failure becomes an
``SshError`` with a one-line reason that names the host and the phase.

Nothing connects when the pool is built: dry runs and drills never touch a host.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook import model
from steps.cancel import CancelToken
from steps.shells.ssh import deadlines
from steps.shells.ssh.config import SshConfigError, SshPaths, load_ssh_config
from steps.shells.ssh.connect import (
    SshError,
    classify,
    close_quietly,
    handshake_expired,
    identities,
    jump_chain,
    short,
    tcp_connect,
)
from steps.shells.ssh.hostkeys import KnownHosts
from steps.shells.ssh.known_hosts import Lookup, check_host_ip_applies, host_name

if TYPE_CHECKING:
    from fabric import Connection
    from paramiko import Transport

CONNECT_ATTEMPTS = 5
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 1.5
BACKOFF_JITTER = 0.3
KEEPALIVE_SECONDS = 30
WAIT_POLL = 0.1

# The host key algorithms paramiko offers for a key type found in known_hosts.
_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256")}

# paramiko logs a traceback from its transport thread for every failed handshake; the
# failure reaches the launch as this host's result, so keep the noise off the terminal.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class Interrupted(Exception):
    """The caller's cancel token fired while it waited for a connection."""


@dataclass(frozen=True)
class Endpoint:
    """A host as the runbook names it, with the target's overrides.

    ``jump`` is an explicit ProxyJump chain (set for the hops of one); None lets
    ssh_config decide. Two aliases of one address are two endpoints, two connections.
    """

    alias: str
    user: str | None = None
    port: int | None = None
    jump: tuple[str, ...] | None = None


@dataclass
class SshConnection:
    endpoint: Endpoint
    connection: Connection
    hostname: str
    port: int
    user: str
    connect_seconds: float
    attempts: int
    key_recorded: bool

    @property
    def transport(self) -> Transport:
        return self.connection.transport

    @property
    def alive(self) -> bool:
        transport = self.connection.transport
        return transport is not None and transport.is_active()

    @property
    def address(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:
            pass


@dataclass
class _Slot:
    done: threading.Event = field(default_factory=threading.Event)
    connection: SshConnection | None = None
    error: SshError | None = None


class SshPool:
    """Connections keyed by ``Endpoint``; thread-safe; owned by one launch and closed with it."""

    def __init__(
        self,
        settings: model.SshSettings,
        base_dir: Path | None = None,
    ) -> None:
        self.paths = SshPaths.of(settings, base_dir)
        self.known_hosts = KnownHosts(self.paths.known_hosts, self.paths.policy)
        self._lock = threading.Lock()
        self._building = threading.Lock()  # one Fabric Connection built at a time (_open_once)
        self._slots: dict[Endpoint, _Slot] = {}
        self._closed = False
        self._fabric_config: Any = None
        self._config_error: SshError | None = None
        self.handshakes = 0  # TCP connections opened, retries included (for tests and benchmarks)

    # -- public -------------------------------------------------------------------------------

    def connection(self, endpoint: Endpoint, cancel: CancelToken | None = None) -> SshConnection:
        """The open connection for ``endpoint``, opening it (once, whoever asks first) if needed.

        Raises ``SshError`` when it cannot be opened, ``Interrupted`` when ``cancel``
        fires while waiting (the attempt goes on in the background and its
        connection stays pooled for whoever asks next, e.g. the rollback).
        """
        slot, start = self._slot(endpoint)
        if start:
            threading.Thread(
                target=self._fill, args=(endpoint, slot), name=f"ssh-{endpoint.alias}", daemon=True
            ).start()
        while not slot.done.wait(WAIT_POLL):
            if cancel is not None and cancel.cancelled:
                raise Interrupted(cancel.reason)
        if slot.error is not None:
            raise slot.error
        assert slot.connection is not None
        return slot.connection

    def discard(self, connection: SshConnection) -> None:
        """Forget a connection found dead, so the next use opens a new one."""
        with self._lock:
            slot = self._slots.get(connection.endpoint)
            if slot is not None and slot.connection is connection:
                del self._slots[connection.endpoint]
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            slots = list(self._slots.values())
            self._slots.clear()
        for slot in slots:
            if slot.connection is not None:
                slot.connection.close()

    # -- opening ------------------------------------------------------------------------------

    def _slot(self, endpoint: Endpoint) -> tuple[_Slot, bool]:
        with self._lock:
            if self._closed:
                raise SshError(
                    "session", f"{endpoint.alias}: the launch's SSH connections are closed"
                )
            slot = self._slots.get(endpoint)
            if slot is not None and (
                not slot.done.is_set() or (slot.connection is not None and slot.connection.alive)
            ):
                return slot, False
            if slot is not None and slot.connection is not None:
                slot.connection.close()
            slot = _Slot()
            self._slots[endpoint] = slot
            return slot, True

    def _fill(self, endpoint: Endpoint, slot: _Slot) -> None:
        try:
            slot.connection = self._open_with_retries(endpoint)
        except SshError as error:
            slot.error = error
        except Exception as exc:  # a bug must still end as this host's failure, not a hang
            slot.error = SshError("session", f"{endpoint.alias}: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                closed = self._closed
                if slot.error is not None and self._slots.get(endpoint) is slot:
                    del self._slots[endpoint]
            if closed and slot.connection is not None:
                slot.connection.close()
            slot.done.set()

    def _open_with_retries(self, endpoint: Endpoint) -> SshConnection:
        """Open with tenacity: only a dropped handshake is worth another try, a few times."""
        from tenacity import (
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            wait_exponential,
            wait_random,
        )

        attempts = 0

        def attempt() -> SshConnection:
            nonlocal attempts
            attempts += 1
            return self._open_once(endpoint, attempts)

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, SshError) and exc.transient),
            stop=stop_after_attempt(CONNECT_ATTEMPTS),
            wait=wait_exponential(multiplier=BACKOFF_FIRST, max=BACKOFF_MAX)
            + wait_random(0, BACKOFF_JITTER),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except SshError as error:
            if error.transient and attempts > 1:
                raise SshError(error.stage, f"{error} (after {attempts} attempts)") from None
            raise

    def _config(self) -> Any:
        """Fabric's Config around our ssh_config, parsed once; no ~/.fabric.yaml, no other ssh files."""
        with self._lock:
            if self._config_error is not None:
                raise self._config_error
            if self._fabric_config is None:
                from fabric import Config

                try:
                    ssh_config = load_ssh_config(self.paths)
                except SshConfigError as exc:
                    self._config_error = SshError("config", str(exc))
                    raise self._config_error from None
                self._fabric_config = Config(ssh_config=ssh_config, lazy=True)
            return self._fabric_config

    def open_fresh(self, endpoint: Endpoint) -> SshConnection:
        """A new connection outside the pool, for the caller to close: the kill path's way in
        when the server refuses a second channel on the pooled one (``MaxSessions 1``)."""
        return self._open_once(endpoint, 1)

    def _open_once(self, endpoint: Endpoint, attempt: int) -> SshConnection:
        from fabric import Connection
        from fabric.connection import derive_shorthand

        config = self._config()
        shorthand = derive_shorthand(endpoint.alias)
        user = shorthand["user"] or endpoint.user
        port = shorthand["port"] or endpoint.port
        # gateway=False: we open ProxyJump hops ourselves, pooled and with our host key policy.
        # A non-empty connect_kwargs keeps Fabric from writing key files into the shared config.
        # Fabric reads the one shared (lazy) Config while it builds a Connection, which is not
        # safe from several threads at once (a fan-out opening 20 hosts together saw "No
        # attribute or config key found for 'user'"): build them one at a time; connecting,
        # the slow part, still runs in parallel.
        with self._building:
            connection = Connection(
                shorthand["host"],
                user=user,
                port=port,
                config=config,
                gateway=False,
                connect_kwargs={"allow_agent": True},
            )
            hostname, port, user = connection.host, int(connection.port), connection.user
        where = f"{endpoint.alias} ({user}@{hostname}:{port})"
        _refuse_option_like(where, hostname, user)
        ssh_config = connection.ssh_config
        timeout = self.paths.connect_timeout
        started = time.monotonic()
        sock, direct = self._socket(endpoint, ssh_config, hostname, port, where)
        lookup = Lookup(
            hostname,
            port,
            alias=ssh_config.get("hostkeyalias"),
            ip=_host_ip_name(ssh_config, hostname, port, sock if direct else None),
        )
        hash_names = str(ssh_config.get("hashknownhosts", "no")).lower() == "yes"
        verifier = self.known_hosts.verifier(endpoint.alias, lookup, hash_names)
        connection.client.set_missing_host_key_policy(verifier)
        keys = identities(ssh_config)
        watch = deadlines.HandshakeWatch(timeout)
        try:
            connection.client.connect(
                hostname=hostname,
                port=port,
                username=user,
                sock=sock,
                # The watch closes the transport when a phase passes connect_timeout and says
                # which; paramiko's own limits, a little later, are only a backstop.
                timeout=timeout + 1,
                banner_timeout=timeout + 1,
                auth_timeout=timeout + 1,
                channel_timeout=timeout,
                transport_factory=self._transport_factory(watch, lookup),
                **keys.connect_kwargs(),
            )
        except Exception as exc:
            close_quietly(connection, sock)
            if watch.expired:
                raise handshake_expired(where, watch.expired, timeout) from None
            raise classify(exc, where, timeout, keys, watch.phase) from None
        finally:
            watch.stop()
        connection.transport = connection.client.get_transport()
        connection.transport.set_keepalive(KEEPALIVE_SECONDS)
        return SshConnection(
            endpoint,
            connection,
            hostname,
            port,
            user,
            time.monotonic() - started,
            attempt,
            verifier.recorded,
        )

    def _transport_factory(self, watch: deadlines.HandshakeWatch, lookup: Lookup) -> Any:
        """paramiko's Transport, asking first for the host key types known_hosts holds for
        this host (as OpenSSH orders HostKeyAlgorithms), and watched through its handshake."""
        known = self.known_hosts.key_types(lookup)

        def make(sock: Any, **kwargs: Any) -> Transport:
            from paramiko import Transport

            transport = Transport(sock, **kwargs)
            options = transport.get_security_options()
            wanted = [a for t in known for a in _ALGORITHMS.get(t, (t,))]
            offered = list(options.key_types)
            first = [a for a in offered if a in wanted]
            options.key_types = first + [a for a in offered if a not in first]
            watch.attach(transport)
            return transport

        return make

    def _socket(
        self, endpoint: Endpoint, ssh_config: Any, hostname: str, port: int, where: str
    ) -> tuple[Any, bool]:
        """A TCP socket with TCP_NODELAY, a channel through the jump host, or a ProxyCommand;
        and whether it is a direct TCP connection (CheckHostIP applies only to those)."""
        timeout = self.paths.connect_timeout
        jump = endpoint.jump if endpoint.jump is not None else jump_chain(ssh_config)
        if jump:
            return self._through(jump, endpoint, hostname, port, where), False
        command = ssh_config.get("proxycommand")
        if command and command.lower() != "none":
            from paramiko import ProxyCommand

            return ProxyCommand(command), False
        with self._lock:
            self.handshakes += 1
        try:
            return tcp_connect(hostname, port, timeout), True
        except deadlines.PhaseExpired:
            raise SshError(
                "reach",
                f"{where}: DNS: no answer resolving {hostname} within {timeout:g}s",
                phase=deadlines.DNS,
            ) from None
        except socket.gaierror as exc:
            raise SshError(
                "reach", f"{where}: cannot resolve {hostname}: {exc.strerror}", phase=deadlines.DNS
            ) from None
        except ConnectionRefusedError:
            raise SshError("reach", f"{where}: connection refused", phase=deadlines.TCP) from None
        except TimeoutError:
            raise SshError(
                "reach", f"{where}: no TCP answer within {timeout:g}s", phase=deadlines.TCP
            ) from None
        except OSError as exc:
            raise SshError(
                "reach", f"{where}: cannot connect: {exc.strerror or exc}", phase=deadlines.TCP
            ) from None

    def _through(
        self, jump: tuple[str, ...], endpoint: Endpoint, hostname: str, port: int, where: str
    ) -> Any:
        from fabric.connection import derive_shorthand

        hop = derive_shorthand(jump[-1])
        hop_endpoint = Endpoint(hop["host"], hop["user"], hop["port"], jump[:-1])
        try:
            gateway = self.connection(hop_endpoint)
        except SshError as error:
            raise SshError(error.stage, f"{where}: via jump host {error}") from None
        try:
            return gateway.transport.open_channel(
                "direct-tcpip",
                dest_addr=(hostname, port),
                src_addr=("", 0),
                timeout=self.paths.connect_timeout,
            )
        except Exception as exc:
            if not gateway.alive:
                self.discard(gateway)
                raise SshError(
                    "reach", f"{where}: jump host {jump[-1]} went away", transient=True
                ) from None
            raise SshError(
                "reach", f"{where}: jump host {jump[-1]} could not connect to it: {short(exc)}"
            ) from None


def _refuse_option_like(where: str, hostname: str, user: str) -> None:
    """A host or user name that starts with ``-`` would read as an option to a ProxyCommand
    or anything else that takes it as an argument; ssh refuses those, and so does launchctl."""
    for what, value in (("host name", hostname), ("user name", user)):
        if not value or value.startswith("-"):
            raise SshError(
                "config", f"{where}: {what} {value!r} is empty or starts with '-'; refused"
            )


def _host_ip_name(ssh_config: Any, hostname: str, port: int, sock: Any) -> str | None:
    """The ``[address]:port`` name CheckHostIP also checks, where OpenSSH would: asked for,
    a direct TCP connection, not loopback, and a host name that is not the address itself."""
    wanted = str(ssh_config.get("checkhostip", "no")).lower() == "yes"
    if not wanted or sock is None:
        return None
    try:
        address = sock.getpeername()[0]
        loopback = ipaddress.ip_address(address.split("%")[0]).is_loopback
    except (OSError, ValueError):
        return None
    if not check_host_ip_applies(wanted, hostname, address, False, loopback):
        return None
    return host_name(address, port)
