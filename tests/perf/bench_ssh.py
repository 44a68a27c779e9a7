"""SSH fan-out benchmark: one `true` on N host aliases of a loopback sshd, launchctl beside
a bare Fabric thread pool, parallel OpenSSH and Ansible.

Run on demand, on an idle machine (not collected by pytest):

    python tests/perf/bench_ssh.py [--sizes 10,50,100] [--parallel 20] [--reps 3]
                                   [--ansible PATH_TO_ansible | --no-ansible]

It starts its own sshd (tests/realservers_ssh.py: own config, host key and
authorized key, ``MaxStartups 200`` so no handshake is dropped, ``SetEnv
SHLVL=1`` so a login shell's rc files do not run on every command) and writes
N aliases h1..hN (all 127.0.0.1:PORT) into ``$HOME/.ssh/config`` of a scratch
HOME, with the sshd's key in ``$HOME/.ssh/known_hosts``. Every contender runs
with that HOME, so all read the same config:

  fabric     a bare ThreadPoolExecutor(PARALLEL) of ``Connection(h).run("true")``
             (timed inside its process, imports excluded): the floor for the
             library launchctl uses
  launchctl  ``launchctl run`` of a runbook with two steps, each ``true`` on the
             N hosts with ``parallel: PARALLEL``: step 1 (connections opened) and
             step 2 (connections reused) from the journal, the whole process's
             wall time (start-up and journal included) and its peak RSS
  openssh    ``xargs -P PARALLEL ssh HOST true`` (one new connection per host)
  ansible    ``ansible all -m raw -a true -f PARALLEL`` and ``-m command``
             (ansible-core in its own virtualenv; skipped when absent)

Each figure is the median of --reps runs. Goals at the largest N:
launchctl's step 1 <= 1.25x the bare Fabric pool; the whole launchctl run faster
than parallel OpenSSH doing one command; step 2 <= 25% of step 1; peak RSS
< 150 MB. Exit status 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

from perf_common import launch_journal, verdict

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

FABRIC_POOL = textwrap.dedent(
    """
    import sys, time
    from concurrent.futures import ThreadPoolExecutor
    from fabric import Connection

    parallel, hosts = int(sys.argv[1]), sys.argv[2:]

    def one(host):
        connection = Connection(host)
        try:
            return connection.run("true", hide=True, warn=True).exited
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(one, hosts))
    print(time.perf_counter() - started, sum(1 for code in codes if code != 0))
    """
)


def start_sshd(base: Path):
    from realservers_ssh import Sshd

    try:
        return Sshd(base, max_startups="200")
    except BaseException as exc:  # realservers reports a missing sshd via pytest.skip/fail
        sys.exit(f"cannot start sshd: {exc}")


def prepare_home(base: Path, sshd, sizes: list[int]) -> dict[str, str]:
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    hosts = " ".join(f"h{i}" for i in range(1, max(sizes) + 1))
    (home / ".ssh" / "config").write_text(
        f"Host {hosts}\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.client_key}\n"
    )
    (home / ".ssh" / "known_hosts").write_text(sshd.known_hosts_line)
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["HOME"] = str(home)
    return env


def time_fabric(hosts: list[str], parallel: int, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", FABRIC_POOL, str(parallel), *hosts],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if out[1] != "0":
        raise RuntimeError(f"fabric pool: {out[1]} hosts failed")
    return float(out[0])


def time_openssh(hosts: list[str], parallel: int, env: dict[str, str]) -> float:
    home = Path(env["HOME"])
    command = [
        "xargs",
        "-P",
        str(parallel),
        "-I{}",
        "ssh",
        "-F",
        str(home / ".ssh" / "config"),
        "-o",
        f"UserKnownHostsFile={home / '.ssh' / 'known_hosts'}",
        "-o",
        "BatchMode=yes",
        "{}",
        "true",
    ]
    started = time.perf_counter()
    subprocess.run(command, input="\n".join(hosts) + "\n", text=True, env=env, check=True)
    return time.perf_counter() - started


def time_launchctl(
    hosts: list[str], parallel: int, env: dict[str, str], work: Path
) -> dict[str, float]:
    runbook = work / "bench.yaml"
    runbook.write_text(
        "version: 1\nname: SSH bench\n"
        f"targets:\n  fleet: {{hosts: [{', '.join(hosts)}], parallel: {parallel}}}\n"
        "steps:\n"
        "  - {id: first, at: T+0, on: fleet, run: 'true'}\n"
        "  - {id: second, at: T+0, on: fleet, run: 'true'}\n"
    )
    events, wall, code, _, usage = launch_journal(runbook, env, work)
    if code != 0:
        finished = [e for e in events if e["event"] in ("step_finished", "launch_finished")]
        raise RuntimeError(f"launchctl run exited {code}: {finished}")
    spans = {}
    for event in events:
        if event["event"] in ("step_started", "step_finished"):
            spans.setdefault(event["step"], []).append(
                datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
            )
    failed = [e for e in events if e["event"] == "command_finished" and e.get("status") != "ok"]
    if failed:
        raise RuntimeError(f"launchctl: {len(failed)} hosts failed: {failed[0].get('reason')}")
    step = {name: (end - start).total_seconds() for name, (start, end) in spans.items()}
    return {
        "first": step["first"],
        "second": step["second"],
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def ansible_env(env: dict[str, str], base: Path, rep: int) -> dict[str, str]:
    home = Path(env["HOME"])
    control = base / f"cp{rep}"
    control.mkdir(exist_ok=True)
    return {
        **env,
        # Ansible's own defaults (-C, ControlMaster, ControlPersist) plus our config and known_hosts
        # (ssh takes ~ from the passwd entry, not $HOME)
        "ANSIBLE_SSH_ARGS": (
            f"-F {home / '.ssh' / 'config'} -o UserKnownHostsFile={home / '.ssh' / 'known_hosts'} "
            "-C -o ControlMaster=auto -o ControlPersist=60s"
        ),
        "ANSIBLE_CONTROL_PATH_DIR": str(control),
        "ANSIBLE_LOCAL_TEMP": str(base / "ansible-local"),
        "ANSIBLE_REMOTE_TMP": "/tmp/.ansible-bench",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }


def time_ansible(
    ansible: str, module: str, hosts: list[str], parallel: int, env: dict[str, str], base: Path
) -> float:
    inventory = base / f"inventory-{len(hosts)}.ini"
    inventory.write_text("[fleet]\n" + "\n".join(hosts) + "\n")
    rep = int(time.time() * 1000)
    run_env = ansible_env(env, base, rep)
    started = time.perf_counter()
    result = subprocess.run(
        [ansible, "fleet", "-i", str(inventory), "-m", module, "-a", "true", "-f", str(parallel)],
        env=run_env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    _close_masters(Path(run_env["ANSIBLE_CONTROL_PATH_DIR"]), env)
    if result.returncode != 0:
        raise RuntimeError(f"ansible -m {module}: {result.stdout[-400:]} {result.stderr[-400:]}")
    return elapsed


def _close_masters(control: Path, env: dict[str, str]) -> None:
    """The ControlPersist masters this run left behind (ours, by socket), so the next run is cold."""
    for sock in control.iterdir():
        subprocess.run(
            ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
            env=env,
            capture_output=True,
        )


def median(fn, reps: int):
    values = [fn() for _ in range(reps)]
    if isinstance(values[0], dict):
        return {key: statistics.median(v[key] for v in values) for key in values[0]}
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ansible", default="/tmp/ansible-venv/bin/ansible")
    parser.add_argument("--no-ansible", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    ansible = (
        None if args.no_ansible else (args.ansible if os.access(args.ansible, os.X_OK) else None)
    )

    base = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    sshd = start_sshd(base / "sshd") if (base / "sshd").mkdir() is None else None
    try:
        env = prepare_home(base, sshd, sizes)
        print(
            f"sshd on 127.0.0.1:{sshd.port} (MaxStartups 200, SetEnv SHLVL=1); {os.cpu_count()} CPUs; "
            f"parallel {args.parallel}; median of {args.reps}"
        )
        if ansible is None:
            print(
                "ansible: not found (pip install ansible-core into /tmp/ansible-venv); column skipped"
            )
        rows = []
        for n in sizes:
            hosts = [f"h{i}" for i in range(1, n + 1)]
            fabric = median(lambda hosts=hosts: time_fabric(hosts, args.parallel, env), args.reps)
            launch = median(
                lambda hosts=hosts: time_launchctl(hosts, args.parallel, env, base), args.reps
            )
            openssh = median(lambda hosts=hosts: time_openssh(hosts, args.parallel, env), args.reps)
            raw = command = None
            if ansible:
                raw = median(
                    lambda hosts=hosts: time_ansible(
                        ansible, "raw", hosts, args.parallel, env, base
                    ),
                    args.reps,
                )
                command = median(
                    lambda hosts=hosts: time_ansible(
                        ansible, "command", hosts, args.parallel, env, base
                    ),
                    args.reps,
                )
            rows.append((n, fabric, launch, openssh, raw, command))
        print_table(rows)
        return goals(rows[-1])
    finally:
        sshd.stop()
        shutil.rmtree(base, ignore_errors=True)


def print_table(rows) -> None:
    def cell(value, floor):
        return "-" if value is None else f"{value:6.2f}s {value / floor:5.2f}x"

    print()
    print(
        f"{'N':>4}  {'fabric pool':>14}  {'launchctl step 1':>16}  {'step 2':>15}  "
        f"{'launchctl run':>15}  {'xargs ssh':>15}  {'ansible raw':>15}  {'ansible command':>15}  {'peak RSS':>8}"
    )
    for n, fabric, launch, openssh, raw, command in rows:
        print(
            f"{n:>4}  {fabric:10.2f}s 1x  {cell(launch['first'], fabric):>16}  "
            f"{cell(launch['second'], fabric):>15}  {cell(launch['wall'], fabric):>15}  "
            f"{cell(openssh, fabric):>15}  {cell(raw, fabric):>15}  {cell(command, fabric):>15}  "
            f"{launch['rss_mb']:6.0f} MB"
        )
    print("(ratios: time / bare Fabric pool at the same N)")


def goals(row) -> int:
    n, fabric, launch, openssh, _, _ = row
    checks = [
        (
            f"N={n}: launchctl step 1 {launch['first']:.2f}s <= 1.25 x fabric pool {fabric:.2f}s "
            f"({launch['first'] / fabric:.2f}x)",
            launch["first"] <= 1.25 * fabric,
        ),
        (
            f"N={n}: whole launchctl run {launch['wall']:.2f}s < parallel OpenSSH {openssh:.2f}s "
            f"({launch['wall'] / openssh:.2f}x)",
            launch["wall"] < openssh,
        ),
        (
            f"N={n}: step 2 {launch['second']:.2f}s <= 25% of step 1 {launch['first']:.2f}s "
            f"({100 * launch['second'] / launch['first']:.0f}%)",
            launch["second"] <= 0.25 * launch["first"],
        ),
        (f"N={n}: peak RSS {launch['rss_mb']:.0f} MB < 150 MB", launch["rss_mb"] < 150),
    ]
    print()
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
