"""The process-level keywords without a daemon: how they parse (keepalived's messages and
limits), the plan each process derives (kvrrp.process_plan), the automatic escalation, the pid
file layout, the reload guard, the script policy, and child_wait_time on a real child process.
The real daemon's effect on /proc is in tests/system/test_system_process.py (and the
checker's, with IPVS, in tests/ipvs/test_process_vm.py)."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from kvrrp.config import load
from kvrrp.config.dump import to_keepalived
from kvrrp.config.kw_process import online_cpus, parse_umask
from kvrrp.process_plan import AutoPriority, plan_for


def parsed(tmp_path, text: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return load(str(path))


def messages(result) -> list[tuple[str, str]]:
    return [(d.severity, d.message) for d in result.diagnostics]


def test_process_keywords_parse_with_keepalived_limits_and_messages(tmp_path):
    res = parsed(tmp_path, """
net_namespace blue
net_namespace red
net_namespace_ipvs
use_pid_dir
child_wait_time 3
global_defs {
    process_names
    checker_process_name averyveryverylongname
    lvs_process_name lvs
    vrrp_priority -5
    checker_priority 30
    vrrp_rt_priority 150
    vrrp_cpu_affinity 0
    checker_cpu_affinity 0 99999
    vrrp_rlimit_rtime 1
    max_auto_priority
    min_auto_priority_delay 0
    umask IWGRP|IWOTH
    use_symlink_paths
    set_supplementary_groups maybe
}
""")
    msgs = messages(res)
    assert ("error", "Duplicate net_namespace definition red - ignoring") in msgs
    assert ("error", "Process name averyveryverylongname more than 15 characters, truncating") in msgs
    assert ("warning", "'lvs_process_name' is deprecated - please use 'checker_process_name'") in msgs
    assert ("error", "Invalid checker process priority specified") in msgs
    assert ("error", "vrrp process real-time priority 150 greater than maximum 99 - setting to maximum") in msgs
    assert any(m.startswith("Invalid cpu_id:99999 specified for checker process") for _s, m in msgs)
    assert ("warning", "Keyword 'vrrp_rlimit_rtime' is deprecated - please use 'vrrp_rlimit_rttime'") in msgs
    assert ("error", "min_auto_priority_delay '0' must be in [1, 10000000] - ignoring") in msgs
    assert ("error", "Invalid set_supplementary_groups parameter maybe") in msgs
    assert not [m for _s, m in msgs if "not implemented" in m]
    cfg = res.config
    p = cfg.global_defs.process
    assert (cfg.net_namespace, cfg.net_namespace_ipvs, cfg.use_pid_dir, cfg.child_wait_time) == ("blue", "", True, 3)
    assert (p.vrrp_process_name, p.checker_process_name, p.bfd_process_name) == ("keepalived_vrrp", "lvs",
                                                                                 "keepalived_bfd")
    assert p.vrrp.nice == -5 and p.checker.nice is None          # out of range: ignored
    assert p.vrrp.rt_priority == 99 and p.vrrp.rlimit_rttime == 2  # clamped; 1 becomes 2
    assert p.vrrp.cpu_affinity == (0,) and p.checker.cpu_affinity == ()   # a bad id empties the set
    assert p.max_auto_priority == 99 and p.min_auto_priority_delay == 1000000
    assert p.umask == 0o022 and p.use_symlink_paths and not p.set_supplementary_groups


def test_process_keywords_survive_a_dump_and_reparse(tmp_path):
    res = parsed(tmp_path, """
net_namespace blue
net_namespace_ipvs green
use_pid_dir
child_wait_time 7
global_defs {
    process_name kvp
    vrrp_process_name kvv
    checker_priority 4
    checker_no_swap
    bfd_rt_priority 3
    bfd_rlimit_rttime 5000
    vrrp_cpu_affinity 0
    max_auto_priority 4
    min_auto_priority_delay 5000
    umask 027
    set_supplementary_groups
}
""")
    again = parsed(tmp_path, to_keepalived(res.config))
    assert again.config == res.config
    assert not [d for d in again.diagnostics if d.severity != "warning"]


@pytest.mark.parametrize("words, mask", [(["022"], 0o022), (["0x12"], 0o022), (["18"], 0o022), (["0"], 0),
                                         (["IRWXO"], 0o007), (["IWGRP|IWOTH"], 0o022), (["IWGRP|", "IWOTH"], 0o022)])
def test_umask_forms(words, mask):
    assert parse_umask(words) == (mask, None)


@pytest.mark.parametrize("words, why", [([], "Missing parameter(s) to umask option"),
                                        (["0777", "1"], "Extra parameter(s) to umask option"),
                                        (["01000"], "invalid umask value 01000"),
                                        (["IWGRP|IBAD"], "Unknown umask bit IBAD"),
                                        (["IWGRPIWOTH"], "Invalid umask syntax IWGRPIWOTH"),
                                        (["IWGRP|"], "umask missing bit value")])
def test_umask_errors(words, why):
    assert parse_umask(words) == (None, why)


def test_plan_follows_keepalived_rules(tmp_path):
    cfg = parsed(tmp_path, """
global_defs {
    process_name kvp
    checker_process_name kvc
    vrrp_priority -5
    vrrp_rt_priority 10
    vrrp_rlimit_rttime 20000
    vrrp_no_swap
    checker_priority 6
    checker_cpu_affinity 0
    max_auto_priority 12
    min_auto_priority_delay 250000
    umask 077
}
""").config
    vrrp = plan_for(cfg, "vrrp")
    assert vrrp.comm == "kvp"                # no VRRP name: the parent's, which children inherit
    assert vrrp.rt_priority == 10 and vrrp.nice is None       # realtime: the nice value is unused
    assert vrrp.rlimit_rttime == 20000 and vrrp.no_swap and vrrp.cpu_affinity == ()
    assert vrrp.escalates and vrrp.min_auto_priority_delay == 0.25 and vrrp.umask == 0o077
    checker = plan_for(cfg, "checker", cmdline_umask=0o022)
    assert checker.comm == "kvc" and checker.nice == 6 and checker.rt_priority is None
    assert checker.cpu_affinity == (0,) and not checker.no_swap and checker.umask == 0o022   # -u wins
    assert plan_for(parsed(tmp_path, "global_defs {\n}\n").config, "vrrp").comm is None
    with pytest.raises(ValueError):
        plan_for(cfg, "bfd")
    assert any("automatic realtime priority up to 12" in line for line in vrrp.describe())


def test_auto_priority_steps_up_to_the_maximum():
    auto = AutoPriority(max_priority=3, min_delay=1.0)
    assert auto.late(0.5) is None and auto.late(1.0) is None       # not late enough
    assert [auto.late(1.5), auto.late(2.0), auto.late(9.0), auto.late(9.0)] == [1, 2, 3, None]
    assert auto.escalations == 3
    assert AutoPriority(max_priority=0, min_delay=1.0).late(5.0) is None      # 0: no escalation
    assert AutoPriority(max_priority=-1, min_delay=1.0).late(5.0) is None     # -1: off too
    assert AutoPriority(max_priority=5, min_delay=1.0, current=4).late(2.0) == 5   # from vrrp_rt_priority
    assert AutoPriority(max_priority=5, min_delay=1.0, current=5).late(2.0) is None


def test_cpu_ids_are_checked_against_this_host(tmp_path):
    last = online_cpus() - 1
    ok = parsed(tmp_path, f"global_defs {{\n vrrp_cpu_affinity {last} 0 {last}\n}}\n")
    assert ok.config.global_defs.process.vrrp.cpu_affinity == tuple(sorted({0, last}))
    bad = parsed(tmp_path, f"global_defs {{\n vrrp_cpu_affinity {last + 1}\n}}\n")
    assert [d.code for d in bad.diagnostics] == ["out-of-range"]


def test_pid_file_layout():
    from kvrrp.daemon import checker_pid_file, default_pid_file

    assert default_pid_file(None) == "/run/kvrrp.pid"
    assert default_pid_file(None, use_pid_dir=True) == "/run/kvrrp/kvrrp.pid"
    assert default_pid_file("blue") == default_pid_file("blue", use_pid_dir=True) == "/run/kvrrp/blue/kvrrp.pid"
    assert checker_pid_file(default_pid_file("blue")) == "/run/kvrrp/blue/kvrrp-checkers.pid"


def test_reload_cannot_change_the_namespaces(tmp_path):
    from kvrrp.reload_guard import refusal

    running = parsed(tmp_path, "net_namespace blue\n").config
    moved = parsed(tmp_path, "net_namespace red\n")
    assert refusal(moved, running) == "Cannot change network namespace at a reload - please restart kvrrp"
    assert refusal(moved, running, namespace_override="blue") is None      # -s replaces both
    ipvs = parsed(tmp_path, "net_namespace blue\nnet_namespace_ipvs green\n")
    assert refusal(ipvs, running) == "Cannot change IPVS network namespace at a reload - please restart kvrrp"


def test_scripts_supplementary_groups_and_symlink_paths(tmp_path):
    """keepalived's defaults: no supplementary groups, a symlinked script executed by its real
    path; set_supplementary_groups and use_symlink_paths change that."""
    import pwd

    from kvrrp.notify import security

    real = tmp_path / "real.sh"
    real.write_text("#!/bin/sh\necho \"$0\"\n")
    real.chmod(0o755)
    link = tmp_path / "link.sh"
    link.symlink_to(real)
    root = security.RunAs(uid=0, gid=0, user="root")
    user = pwd.getpwuid(0).pw_name
    try:
        security.configure(parsed(tmp_path, "global_defs {\n}\n").config)
        assert security.check_script((str(link),), root, False).argv[0] == str(real)
        assert security.resolve_run_as(user, None, None).groups == ()
        assert security.resolve_run_as(user, ":", None).groups           # keepalived's "user :"
        security.configure(parsed(tmp_path, "global_defs {\n use_symlink_paths\n set_supplementary_groups\n}\n").config)
        assert security.check_script((str(link),), root, False).argv[0] == str(link)
        assert security.resolve_run_as(user, None, None).groups == tuple(os.getgrouplist(user, 0))
    finally:
        security.configure(None)


def test_child_wait_time_bounds_the_wait_for_a_checker_that_ignores_sigterm():
    """CheckerChild.stop() waits child_wait_time seconds, then SIGKILLs (keepalived's sigend)."""
    from kvrrp.daemon import CheckerChild
    from kvrrp.options import Options

    class Stubborn(CheckerChild):
        def argv(self) -> list[str]:
            return ["/bin/sh", "-c", "trap '' TERM; exec sleep 60"]     # SIG_IGN survives the exec

    def ignores_sigterm(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/status") as fh:
                mask = next(int(line.split()[1], 16) for line in fh if line.startswith("SigIgn:"))
            with open(f"/proc/{pid}/comm") as fh:
                return bool(mask & (1 << (signal.SIGTERM - 1))) and fh.read().strip() == "sleep"
        except (OSError, StopIteration):
            return False

    async def scenario() -> int:
        child = Stubborn(Options(pid_file="/nonexistent/kvrrp-test.pid"), child_wait_time=1)
        assert child.wait_time == 1.0
        child.start()
        for _ in range(3000):
            if child.proc is not None and ignores_sigterm(child.proc.pid):
                break
            await asyncio.sleep(0.01)
        assert ignores_sigterm(child.proc.pid)
        await child.stop()
        return child.proc.returncode

    assert asyncio.run(scenario()) == -signal.SIGKILL
    assert CheckerChild(Options()).wait_time == CheckerChild.STOP_WAIT
