"""The corpus in tests/data/configs (and the seeds) against expectations and against the real
keepalived: `kvrrp -t` and `keepalived -t` must agree on accept/reject, except for the
deliberate differences listed (and documented in docs/config.md)."""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import uuid

import pytest

from kvrrp.config import load
from kvrrp.config.cli import exit_code

from .helpers import CONFIGS, SEEDS

CORPUS = sorted(glob.glob(os.path.join(CONFIGS, "*.conf")))
SEED_FILES = sorted(glob.glob(os.path.join(SEEDS, "*.conf")))
INTERFACES = ("eth0", "eth1", "ens33", "p5p1", "enp2s0")

# file -> (kvrrp exit, keepalived 2.2.7 exit, why they differ)
KNOWN_DIFFERENCES = {
    "bad_include_loop.conf": (5, 0, "keepalived recurses until it runs out of file descriptors, then skips "
                                    "the include without failing -t; kvrrp reports the loop as an error"),
    "bad_strict_unicast.conf": (5, 0, "keepalived 2.4 (the reference) rejects unicast peers in strict mode; "
                                      "2.2.7 installed here does not check it yet"),
    "bad_vs_group_undefined.conf": (5, 0, "keepalived silently drops a virtual_server whose group is not "
                                          "defined; kvrrp reports the dangling reference as an error"),
}


def config_id_of(path: str) -> str:
    m = re.search(r"^# config-id: (\S+)", open(path, encoding="utf-8").read(), re.M)
    return m.group(1) if m else "kvrrptest"


def kvrrp_exit(path: str) -> int:
    return exit_code(load(path, config_id_of(path)).diagnostics)


def test_corpus_is_big_enough():
    ok = [p for p in CORPUS if os.path.basename(p).startswith("ok_")]
    bad = [p for p in CORPUS if os.path.basename(p).startswith("bad_")]
    assert len(ok) >= 15 and len(bad) >= 40 and len(ok) + len(bad) == len(CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_corpus_expectation(path):
    res = load(path, config_id_of(path))
    code = exit_code(res.diagnostics)
    if os.path.basename(path).startswith("ok_"):
        assert code == 0, [str(d) for d in res.diagnostics]
        assert not res.errors
    else:
        assert code != 0
        # every reported problem carries a real location
        assert all(d.loc is None or d.loc.line >= 0 for d in res.diagnostics)


@pytest.fixture(scope="session")
def keepalived_ns():
    """A private network namespace with the interface names the configs use (veth ends)."""
    ns = f"cfg{os.getpid()}{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for i in INTERFACES:
            subprocess.run(["ip", "-n", ns, "link", "add", i, "type", "veth", "peer", "name", i + "p"],
                           check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", i, "up"], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def keepalived_exit(ns: str, path: str, tmpdir: str) -> tuple[int, str]:
    pre = os.path.join(tmpdir, uuid.uuid4().hex[:8])
    p = subprocess.run(["ip", "netns", "exec", ns, shutil.which("keepalived") or "keepalived", "-t", "-f", path,
                        "-i", config_id_of(path), "-p", pre + ".pid", "-r", pre + ".vrrp.pid",
                        "-c", pre + ".check.pid", "-l", "-n"],
                       capture_output=True, text=True, timeout=60, cwd=os.path.dirname(path))
    return p.returncode, p.stdout + p.stderr


@pytest.mark.keepalived
@pytest.mark.root
@pytest.mark.parametrize("path", CORPUS + SEED_FILES, ids=os.path.basename)
def test_agrees_with_keepalived(path, keepalived_ns, tmp_path):
    ours = kvrrp_exit(path)
    theirs, output = keepalived_exit(keepalived_ns, path, str(tmp_path))
    name = os.path.basename(path)
    if name in KNOWN_DIFFERENCES:
        want_ours, want_theirs, _why = KNOWN_DIFFERENCES[name]
        assert (ours, theirs) == (want_ours, want_theirs), output
        return
    assert (ours == 0) == (theirs == 0), f"kvrrp={ours} keepalived={theirs}\n{output}"
    if theirs in (4, 6):
        assert ours == theirs, output


OK_FILES = [p for p in CORPUS if os.path.basename(p).startswith("ok_")]


@pytest.mark.keepalived
@pytest.mark.root
@pytest.mark.parametrize("path", OK_FILES, ids=os.path.basename)
def test_keepalived_accepts_our_keepalived_dump(path, keepalived_ns, tmp_path):
    """`kvrrp -d --format keepalived` writes text real keepalived accepts, not just kvrrp."""
    from kvrrp.config.dump import to_keepalived
    dumped = tmp_path / os.path.basename(path)
    dumped.write_text(to_keepalived(load(path, config_id_of(path)).config))
    code, output = keepalived_exit(keepalived_ns, str(dumped), str(tmp_path))
    assert code == 0, output
