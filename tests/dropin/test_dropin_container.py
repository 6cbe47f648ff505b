"""The container image, run the way the tutorials run osixia/keepalived: built with podman
(container/build-image), two containers in a namespace lab (`--network ns:/run/netns/X
--privileged`, the tutorials' --net=host inside a lab namespace), `--loglevel debug
--copy-service`; one generates its config from KEEPALIVED_* variables, the other has its config
mounted at osixia's path (and an osixia environment file). One VIP; `podman kill` of the master hands it over."""
from __future__ import annotations

import os
import subprocess

import pytest

from dropin_lab import VIP, WAIT
from kvrrp.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = "localhost/kvrrp:test"
ASSET = "/container/service/keepalived/assets/keepalived.conf"
PODMAN = ["podman", "--runtime", "/usr/sbin/runc", "--cgroup-manager=cgroupfs"]


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": os.path.join(ROOT, "container", "containers.conf")}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, env=podman_env(), check=check,
                          timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    subprocess.run(["bash", os.path.join(ROOT, "container", "build-image"), TAG], check=True, timeout=840,
                   env=podman_env())
    return TAG


def logs(name: str) -> str:
    p = podman("logs", name, check=False)
    return p.stdout + p.stderr


MOUNTED = """global_defs {{
  router_id mounted
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  unicast_peer {{
    {peer}
  }}
  authentication {{
    auth_type PASS
    auth_pass secret
  }}
  virtual_ipaddress {{
    {vip}/32
  }}
}}
"""


def test_two_containers_fail_over_on_podman_kill(image: str) -> None:
    names: list[str] = []
    with Lab(nodes=2, client=False, prefix="kvct") as lab:
        n1, n2 = lab.nodes
        try:
            a = f"{lab.id}-a"
            # osixia's environment file mounted at 01-custom, and -e variables (which win)
            env_file = os.path.join(lab.workdir, "env.yaml")
            with open(env_file, "w") as fh:
                fh.write(f"KEEPALIVED_PASSWORD: secret\nKEEPALIVED_ROUTER_ID: 99\n"
                         f"KEEPALIVED_VIRTUAL_IPS:\n  - {VIP}/32\n")
            podman("run", "-d", "--name", a, "--network", f"ns:/run/netns/{n1.netns}", "--privileged",
                   "-v", f"{env_file}:/container/environment/01-custom/env.yaml:ro",
                   "-e", "KEEPALIVED_INTERFACE=eth0", "-e", "KEEPALIVED_PRIORITY=150",
                   "-e", "KEEPALIVED_ROUTER_ID=51", "-e", "KEEPALIVED_STATE=BACKUP",
                   "-e", f"KEEPALIVED_UNICAST_PEERS=#PYTHON2BASH:['{n2.ipv4}']",
                   image, "--loglevel", "debug", "--copy-service")
            names.append(a)
            assert lab.wait_for(lambda: lab.holders(VIP) == [n1], 3 * WAIT), logs(a)

            conf = os.path.join(lab.workdir, "mounted.conf")
            with open(conf, "w") as fh:
                fh.write(MOUNTED.format(peer=n1.ipv4, vip=VIP))
            b = f"{lab.id}-b"
            podman("run", "-d", "--name", b, "--network", f"ns:/run/netns/{n2.netns}", "--privileged",
                   "-v", f"{conf}:{ASSET}:ro", "-e", "KEEPALIVED_COMMAND_LINE_ARGUMENTS=--log-detail",
                   image, "--loglevel", "debug", "--copy-service")
            names.append(b)
            assert lab.wait_for(lambda: "Entering BACKUP STATE" in logs(b), 3 * WAIT), logs(b)
            assert lab.holders(VIP) == [n1]

            podman("kill", a)                      # SIGKILL: a crash, no priority-0 advert
            assert lab.wait_for(lambda: n2 in lab.holders(VIP), 3 * WAIT), logs(b)
            assert "Entering MASTER STATE" in logs(b)

            la, lb = logs(a), logs(b)
            # a: the config generated from the variables, shown at --loglevel debug, keepalived's
            # arguments from KEEPALIVED_COMMAND_LINE_ARGUMENTS' default (--log-detail --dump-conf)
            assert "generated from KEEPALIVED_* variables" in la and "auth_pass secret" in la
            assert "virtual_router_id 51" in la and "priority 150" in la
            assert f"    {n2.ipv4}" in la and f"    {VIP}/32" in la
            assert "--dont-fork --log-console --log-detail --dump-conf" in la
            assert "Starting kvrrp v" in la and "------< VRRP Topology >------" in la
            assert "I'm the MASTER! Whup whup." in la        # osixia's notify script ran
            # b: the mounted file, used as it is and left unchanged
            assert f"from /container/run/service/keepalived/assets/keepalived.conf" in lb
            assert "router_id mounted" in lb and "VRRP Topology" not in lb
            assert open(conf).read() == MOUNTED.format(peer=n1.ipv4, vip=VIP)
        finally:
            for name in names:
                podman("rm", "-f", "-t", "0", name, check=False)


def test_entry_point_rejects_unknown_arguments(image: str) -> None:
    p = podman("run", "--rm", "--network", "none", image, "--bogus", check=False)
    assert p.returncode == 2 and "unknown argument '--bogus'" in p.stderr
    p = podman("run", "--rm", "--network", "none", image, "--help", check=False)
    assert p.returncode == 0 and "--copy-service" in p.stdout
