"""Pure parts of the interface, file and process trackers."""
from __future__ import annotations

import pytest

from kvrrp.track.files import parse_value
from kvrrp.track.inotify import parse_events
from kvrrp.track.interfaces import LinkState
from kvrrp.track.processes import ProcInfo, ProcessSpec, has_quorum, matches, scan_proc

UP = 0x1 | 0x40


def test_link_state_events():
    s = LinkState({"eth0", "eth1"})
    assert s.apply("RTM_NEWLINK", 2, "eth0", UP) == [("eth0", True)]
    assert s.apply("RTM_NEWLINK", 2, "eth0", UP) == []
    assert s.apply("RTM_NEWLINK", 2, "eth0", 0x1) == [("eth0", False)]        # no carrier
    assert s.apply("RTM_NEWLINK", 3, "eth1", UP) == [("eth1", True)]
    assert s.apply("RTM_DELLINK", 3, None, 0) == [("eth1", False)]
    assert s.apply("RTM_NEWLINK", 9, "other", UP) == []
    s.apply("RTM_NEWLINK", 2, "eth0", UP)
    assert s.apply("RTM_NEWLINK", 2, "renamed", UP) == [("eth0", False)]


@pytest.mark.parametrize("text,value", [
    ("5\n", 5), ("  -12", -12), ("0x1f", 31), ("010", 8), ("08", 0), ("abc", 0), ("", 0),
    ("+7 trailing", 7), ("4294967296", None), ("2147483648", 2147483648),
])
def test_strtol_semantics(text, value):
    assert parse_value(text) == value


def test_inotify_event_parsing():
    import struct
    buf = struct.pack("iIII", 1, 8, 0, 16) + b"weight\0".ljust(16, b"\0") + struct.pack("iIII", 2, 0x200, 0, 0)
    assert parse_events(buf) == [(1, 8, "weight"), (2, 0x200, "")]


def test_process_matching():
    comm = ProcessSpec(name="p", process="haproxy")
    assert matches(comm, ProcInfo(1, "haproxy"))
    assert not matches(comm, ProcInfo(1, "haproxy-x"))
    full = ProcessSpec(name="p", process="/usr/sbin/haproxy", params=("-f", "/etc/h.cfg"))
    assert matches(full, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-f", "/etc/h.cfg")))
    assert not matches(full, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-f", "/etc/h.cfg", "-D")))
    partial = ProcessSpec(name="p", process="/usr/sbin/haproxy", params=("-f",), param_match="partial")
    assert matches(partial, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-f", "/x")))
    initial = ProcessSpec(name="p", process="/usr/sbin/haproxy", params=("-f", "/etc/h"), param_match="initial")
    assert matches(initial, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-f", "/etc/h.cfg")))
    assert not matches(initial, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-x", "/etc/h.cfg")))


def test_quorum_bounds():
    s = ProcessSpec(name="p", process="x", quorum=2, quorum_max=3)
    assert [has_quorum(s, n) for n in range(5)] == [False, False, True, True, False]
    none = ProcessSpec(name="p", process="x", quorum=0, quorum_max=0)
    assert has_quorum(none, 0) and not has_quorum(none, 1)


def test_scan_proc_skips_zombies(tmp_path):
    for pid, stat, cmd in ((10, "10 (haproxy) S 1", b"/usr/sbin/haproxy\0-f\0x\0"),
                           (11, "11 (haproxy) Z 1", b""), (12, "12 (we ird) R 1", b"a\0")):
        d = tmp_path / str(pid)
        d.mkdir()
        (d / "stat").write_text(stat + " 0 0 0\n")
        (d / "cmdline").write_bytes(cmd)
    (tmp_path / "self").mkdir()
    procs = sorted(scan_proc(True, str(tmp_path)), key=lambda p: p.pid)
    assert [(p.pid, p.comm, p.argv) for p in procs] == [
        (10, "haproxy", ("/usr/sbin/haproxy", "-f", "x")), (12, "we ird", ("a",))]


async def test_fork_and_terminate_delays(tmp_path):
    import asyncio
    from kvrrp.track.processes import ProcessWatcher

    def put(pid):
        d = tmp_path / str(pid)
        d.mkdir()
        (d / "stat").write_text(f"{pid} (hapx) S 1 0\n")

    def drop(pid):
        import shutil
        shutil.rmtree(tmp_path / str(pid))

    changes = []
    spec = ProcessSpec(name="p", process="hapx", fork_delay=0.2, terminate_delay=0.2)
    w = ProcessWatcher([spec], lambda n, q: changes.append(q), proc_root=str(tmp_path))
    w.scan_once(initial=True)
    assert not w.have_quorum("p")
    put(1)
    w.scan_once()
    assert changes == []                     # held back by fork_delay
    await asyncio.sleep(0.3)
    assert changes == [True]
    drop(1)
    w.scan_once()
    put(2)
    w.scan_once()                            # back within terminate_delay: no flap
    await asyncio.sleep(0.3)
    assert changes == [True]
    drop(2)
    w.scan_once()
    await asyncio.sleep(0.3)
    assert changes == [True, False]
    await w.stop()


def test_param_match_as_keepalived_check_params():
    bare = ProcessSpec(name="p", process="/usr/sbin/haproxy", param_match="exact", full_command=True)
    assert matches(bare, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy",)))
    assert not matches(bare, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-D")))   # bare param_match: no parameters
    whole = ProcessSpec(name="p", process="/usr/sbin/haproxy", full_command=True)    # full_command alone
    assert matches(whole, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-D")))
    partial_none = ProcessSpec(name="p", process="/usr/sbin/haproxy", param_match="partial", full_command=True)
    assert matches(partial_none, ProcInfo(1, "haproxy", ("/usr/sbin/haproxy", "-D")))


def test_param_match_keywords_as_keepalived_parses_them():
    from kvrrp.config import parse_text

    def tp(body):
        res = parse_text(f"vrrp_track_process tp {{\n{body}\n}}\n", filename="t.conf")
        return res.config.track_processes[0], [d.message for d in res.diagnostics if d.code == "bad-value"]

    t, _ = tp(" process sshd")
    assert (t.param_match, t.full_command) == ("none", False)
    t, _ = tp(" process /usr/sbin/sshd -D")
    assert (t.param_match, t.full_command, t.params) == ("exact", True, ("-D",))
    t, _ = tp(" process /usr/sbin/sshd\n param_match")                      # bare: exact, whole command
    assert (t.param_match, t.full_command) == ("exact", True)
    t, _ = tp(" param_match partial\n process /usr/sbin/sshd -D")           # before `process`: kept
    assert (t.param_match, t.full_command) == ("partial", True)
    t, errs = tp(" process sshd\n param_match sometimes")
    assert t.param_match == "none" and errs == ["Invalid param_match type sometimes - ignoring"]
