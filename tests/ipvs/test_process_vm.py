"""The checker process's own keywords on a real `kvrrp -C` process with real IPVS (in the VM):
`net_namespace_ipvs NAME` puts the virtual servers in NAME's IPVS table while the checker runs
in another namespace, and the checker_* knobs (process name, nice, CPU affinity, mlockall)
reach the kernel, read back from /proc.
"""
from __future__ import annotations

import os
import time

import pytest
from ipvs_lab import MARGIN, START, KvrrpProcess, ip, run


def ipvs_in(ns: str) -> str:
    return run("ip", "netns", "exec", ns, "ipvsadm", "-Ln").stdout


def wait_for(predicate, timeout: float = MARGIN) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


@pytest.fixture
def namespaces():
    tag = f"pv{os.getpid() % 100000}"
    made = []
    try:
        for name in (f"{tag}-chk", f"{tag}-ipvs"):
            ip("netns", "add", name)
            made.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        yield made
    finally:
        for name in made:
            run("ip", "netns", "del", name, check=False)


def test_checker_ipvs_namespace_and_process_knobs(tmp_path, namespaces) -> None:
    own_ns, ipvs_ns = namespaces
    conf = tmp_path / "keepalived.conf"
    conf.write_text(f"""
net_namespace_ipvs {ipvs_ns}
global_defs {{
    checker_process_name kv_checker
    checker_priority 5
    checker_cpu_affinity 0
    checker_no_swap
}}
virtual_server 198.18.0.10 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.19.1.2 8080 {{
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
""")
    log = tmp_path / "checker.log"
    proc = KvrrpProcess(["-C", "-n", "-l", "-D", "-f", str(conf), "-p", str(tmp_path / "checker.pid")], log,
                        netns=own_ns)
    try:
        assert wait_for(lambda: "198.18.0.10:80" in ipvs_in(ipvs_ns), START), log.read_text()
        # its signal handlers are in place once it says so: a SIGTERM before would kill it outright
        assert wait_for(lambda: "Checker started" in log.read_text(), START), log.read_text()
        assert "198.18.0.10:80" not in ipvs_in(own_ns)
        with open(f"/proc/{proc.pid}/comm") as fh:
            assert fh.read().strip() == "kv_checker"
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 5
        assert os.sched_getaffinity(proc.pid) == {0}
        with open(f"/proc/{proc.pid}/status") as fh:
            locked = [line for line in fh if line.startswith("VmLck:")]
        assert int(locked[0].split()[1]) > 0
    finally:
        status = proc.stop()
    assert status == 0, log.read_text()
    assert "198.18.0.10:80" not in ipvs_in(ipvs_ns)      # removed from where it was put
