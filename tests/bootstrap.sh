#!/usr/bin/env bash
# Installs everything launchctl's demo and tests need on a fresh Debian machine with Python 3.11:
# the Debian packages (OpenSSH server for the SSH tests, Prometheus and promtool for metrics, headless
# Chromium for the HTML pages, libfaketime for the
# clock-jump test) and a virtualenv
# at .venv with launchctl and its test dependencies. Safe to run again: it skips what is there.
# Source it ("source tests/bootstrap.sh"); it leaves .venv/bin first on PATH.
set -euo pipefail

LAUNCHCTL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LAUNCHCTL_VENV:-$LAUNCHCTL_ROOT/.venv}"

_need_apt=()
command -v prometheus >/dev/null 2>&1 || _need_apt+=(prometheus)
# headless Chromium for the HTML tests (Playwright drives it by path; it downloads no browser)
command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 || _need_apt+=(chromium-headless-shell)
[ -x /usr/sbin/sshd ] || _need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || _need_apt+=(openssh-client)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || [ "$(uname -m)" != x86_64 ] || _need_apt+=(faketime)
if [ "${#_need_apt[@]}" -gt 0 ]; then
  _sudo=""
  [ "$(id -u)" -eq 0 ] || _sudo="sudo"
  echo "bootstrap: installing Debian packages: ${_need_apt[*]}" >&2
  $_sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq --no-install-recommends "${_need_apt[@]}" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating virtualenv $VENV" >&2
  python3 -m venv "$VENV"
fi
_stamp="$VENV/.launchctl-installed"
if [ ! -f "$_stamp" ] || [ "$LAUNCHCTL_ROOT/pyproject.toml" -nt "$_stamp" ]; then
  echo "bootstrap: installing launchctl and test dependencies into $VENV" >&2
  _log="$VENV/bootstrap-pip.log"
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && "$VENV/bin/python" -m pip install -q -e "$LAUNCHCTL_ROOT[test]"; } >"$_log" 2>&1; then
    cat "$_log" >&2
    echo "bootstrap: pip install failed (log above, also in $_log)" >&2
    exit 1
  fi
  touch "$_stamp"
fi
export PATH="$VENV/bin:$PATH"
