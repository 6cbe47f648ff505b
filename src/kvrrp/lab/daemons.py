"""VRRP configurations for the lab and the kvrrp / keepalived daemons it runs in its nodes."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from kvrrp.lab.network import Lab, Node


def pid_exited(pid: int) -> bool:
    """The process has exited (a zombie waiting for whichever reaper adopted it counts)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


# -- VRRP configurations and daemons in the lab ---------------------------------------------

@dataclass(frozen=True)
class VrrpSpec:
    """One vrrp_instance, rendered as keepalived.conf text by `render_config`."""

    name: str = "VI_1"
    vrid: int = 51
    priority: int = 100
    version: int = 2
    advert_int: float = 1.0
    vips: tuple[str, ...] = ("198.18.0.200/32",)
    interface: str = "eth0"
    state: str = "BACKUP"
    nopreempt: bool = False
    preempt_delay: float | None = None
    auth_pass: str | None = None
    unicast_src_ip: str | None = None
    unicast_peers: tuple[str, ...] = ()
    family: int = 4
    extra: tuple[str, ...] = ()          # more keyword lines for the instance block


def render_config(instances: Sequence[VrrpSpec], global_lines: Sequence[str] = ()) -> str:
    """keepalived.conf text that both keepalived and kvrrp load."""
    out = ["global_defs {", "    router_id lab", "    vrrp_garp_master_delay 1",
           "    vrrp_garp_master_repeat 1", *[f"    {line}" for line in global_lines], "}", ""]
    for spec in instances:
        out.append(f"vrrp_instance {spec.name} {{")
        out.append(f"    state {spec.state}")
        out.append(f"    interface {spec.interface}")
        out.append(f"    virtual_router_id {spec.vrid}")
        out.append(f"    priority {spec.priority}")
        out.append(f"    version {spec.version}")
        advert = f"{spec.advert_int:g}"
        out.append(f"    advert_int {advert}")
        if spec.nopreempt:
            out.append("    nopreempt")
        if spec.preempt_delay is not None:
            out.append(f"    preempt_delay {spec.preempt_delay:g}")
        if spec.auth_pass is not None:
            out += ["    authentication {", "        auth_type PASS", f"        auth_pass {spec.auth_pass}", "    }"]
        if spec.unicast_src_ip:
            out.append(f"    unicast_src_ip {spec.unicast_src_ip}")
        if spec.unicast_peers:
            out += ["    unicast_peer {", *[f"        {p}" for p in spec.unicast_peers], "    }"]
        out += ["    virtual_ipaddress {", *[f"        {v}" for v in spec.vips], "    }"]
        out += [f"    {line}" for line in spec.extra]
        out += ["}", ""]
    return "\n".join(out)


STATE_LINE = "Entering "


class Daemon:
    """A kvrrp or keepalived process the lab started in a node, with its files."""

    def __init__(self, lab: "Lab", node: Node, kind: str, proc: subprocess.Popen, conf: str,
                 pid_file: str, log_file: str, vrrp_pid_file: str | None = None) -> None:
        self.lab, self.node, self.kind, self.proc = lab, node, kind, proc
        self.conf, self.pid_file, self.log_file = conf, pid_file, log_file
        self.vrrp_pid_file = vrrp_pid_file  # keepalived's VRRP child (-r)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            with open(self.log_file, errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def transitions(self, instance: str | None = None) -> list[str]:
        """States entered, in order, as the log says ("MASTER", "BACKUP", "FAULT")."""
        states = []
        for line in self.log().splitlines():
            if STATE_LINE not in line or "STATE" not in line:
                continue
            if instance is not None and f"({instance})" not in line:
                continue
            word = line.split(STATE_LINE, 1)[1].split()[0]
            states.append(word)
        return states

    def signal(self, sig: int) -> None:
        self.lab.kill(self.proc, sig)

    def crash(self) -> None:
        """SIGKILL the process that speaks VRRP, as a crash would. For keepalived that is the
        VRRP child (its parent would otherwise make it send priority 0 on the way out), then the
        parent; both are processes this lab started."""
        self.kill_vrrp_child()
        self.lab.kill(self.proc, signal.SIGKILL)

    def kill_vrrp_child(self) -> None:
        """SIGKILL keepalived's VRRP child, found by the pid file it was told to write (-r)."""
        if self.kind != "keepalived" or not self.vrrp_pid_file:
            return
        try:
            with open(self.vrrp_pid_file) as fh:
                child = int(fh.read().strip())
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                if b"keepalived" not in fh.read():
                    return  # the pid was reused by something that is not ours
            os.kill(child, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        return self.lab.stop(self.proc, timeout)

    def write_config(self, text: str) -> None:
        with open(self.conf, "w") as fh:
            fh.write(text)


def python_env() -> dict[str, str]:
    """The environment of a kvrrp the lab starts: this checkout's src first on PYTHONPATH."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # .../src
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _lab_workdir(lab: "Lab") -> str:
    if getattr(lab, "_workdir", None) is None:
        import tempfile

        lab._workdir = tempfile.mkdtemp(prefix=f"{lab.id}-")
    return lab._workdir


def start_kvrrp(lab: "Lab", node: Node, config_text: str, args: Sequence[str] = (),
                tag: str | None = None, vrrp_only: bool = True) -> Daemon:
    """Run `python3 -m kvrrp -n -l -D -P -f CONF -p PID` in node (own config/pid/log files);
    vrrp_only=False drops -P (the daemon then also starts the health checkers when the
    configuration has virtual_server blocks)."""
    import sys

    work = _lab_workdir(lab)
    tag = tag or f"kvrrp-{node.name}"
    conf, pid, logf = (os.path.join(work, f"{tag}.{ext}") for ext in ("conf", "pid", "log"))
    with open(conf, "w") as fh:
        fh.write(config_text)
    log_fh = open(logf, "a")
    argv = [sys.executable, "-m", "kvrrp", "-n", "-l", "-D", *(["-P"] if vrrp_only else []),
            "-f", conf, "-p", pid, *args]
    proc = lab.spawn(node, argv, stdout=log_fh, stderr=subprocess.STDOUT, env=python_env())
    log_fh.close()
    daemon = Daemon(lab, node, "kvrrp", proc, conf, pid, logf)
    lab._daemons.append(daemon)
    return daemon


def start_keepalived(lab: "Lab", node: Node, config_text: str, tag: str | None = None,
                     vrrp_only: bool = True) -> Daemon:
    """Run Debian's keepalived in node with its own config and pid files: VRRP only (-P), or
    with vrrp_only=False every child its configuration asks for (the BFD child for
    bfd_instance blocks, the checker for virtual_server blocks)."""
    work = _lab_workdir(lab)
    tag = tag or f"keepalived-{node.name}"
    conf, pid, logf = (os.path.join(work, f"{tag}.{ext}") for ext in ("conf", "pid", "log"))
    vrrp_pid, chk_pid, bfd_pid = (os.path.join(work, f"{tag}.{ext}") for ext in ("vrrp.pid", "check.pid", "bfd.pid"))
    with open(conf, "w") as fh:
        fh.write(config_text)
    log_fh = open(logf, "a")
    argv = ["keepalived", "-n", "-l", "-D", *(["-P"] if vrrp_only else []), "-f", conf, "-p", pid,
            "-r", vrrp_pid, "-c", chk_pid, "-b", bfd_pid]
    proc = lab.spawn(node, argv, stdout=log_fh, stderr=subprocess.STDOUT)
    log_fh.close()
    daemon = Daemon(lab, node, "keepalived", proc, conf, pid, logf, vrrp_pid)
    lab._daemons.append(daemon)
    return daemon
