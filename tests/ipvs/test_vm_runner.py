"""The pieces of scripts/ipvs-vm that need no VM: argument parsing, the job script, the
environment passed on, module load order, the cpio writer and vmlinux extraction.

These do not need IPVS (conftest.py exempts this file from the tier's gating), so they run on
the host with `pytest tests/ipvs/test_vm_runner.py` and again inside the VM with the tier.
"""
from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VM_DIR = Path(__file__).resolve().parents[2] / "scripts" / "vm"
sys.path.insert(0, str(VM_DIR))

import vm_artifacts as artifacts  # noqa: E402
import vm_runner as run  # noqa: E402


def test_options_stop_at_the_command():
    opts = run.parse_args(["--timeout", "60", "--env=FOO", "--env", "BAR", "-v", "python3", "-m",
                           "pytest", "--timeout", "5"])
    assert opts["timeout"] == 60.0
    assert opts["extra_env"] == ["FOO", "BAR"]
    assert opts["verbose"] is True
    assert opts["cmd"] == ["python3", "-m", "pytest", "--timeout", "5"]


def test_double_dash_allows_a_command_starting_with_a_dash():
    assert run.parse_args(["--", "-weird"])["cmd"] == ["-weird"]


@pytest.mark.parametrize("argv", [[], ["--bogus", "x"], ["--timeout"], ["--timeout", "soon", "x"],
                                  ["--memory", "lots", "x"], ["--cpus", "0", "x"]])
def test_bad_usage_is_an_error(argv):
    with pytest.raises(run.Usage):
        run.parse_args(argv)


def test_job_script_runs_the_command_verbatim_in_the_directory(tmp_path):
    odd = ["it's", "a $HOME", 'quote"d', "", "new\nline", "*"]
    script = run.job_script(str(tmp_path), {"KVRRP_X": "v a'l", "PATH": os.environ["PATH"]},
                            [sys.executable, "-c",
                             "import json, os, sys; print(json.dumps([os.getcwd(), "
                             "os.environ['KVRRP_X'], sys.argv[1:]]))", *odd])
    (tmp_path / "job.sh").write_text(script)
    out = subprocess.run(["sh", str(tmp_path / "job.sh")], capture_output=True, text=True,
                         env={}, check=True).stdout
    import json
    assert json.loads(out) == [str(tmp_path), "v a'l", odd]


def test_job_script_keeps_the_exit_code(tmp_path):
    (tmp_path / "job.sh").write_text(run.job_script(str(tmp_path), {}, ["sh", "-c", "exit 7"]))
    assert subprocess.run(["sh", str(tmp_path / "job.sh")]).returncode == 7


def test_environment_passes_essentials_not_the_runner_settings(monkeypatch):
    monkeypatch.setenv("KVRRP_REQUIRE_ROOT_TIER", "1")
    monkeypatch.setenv("KVRRP_VM_TIMEOUT", "99")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("SOME_UNRELATED_SECRET", "x")
    monkeypatch.setenv("EXTRA_ONE", "y")
    env = run.guest_environment(["EXTRA_ONE"])
    assert env["KVRRP_REQUIRE_ROOT_TIER"] == "1" and env["CI"] == "true" and env["EXTRA_ONE"] == "y"
    assert env["KVRRP_IN_IPVS_VM"] == "1"
    assert "KVRRP_VM_TIMEOUT" not in env and "SOME_UNRELATED_SECRET" not in env
    assert "PATH" in env and "HOME" in env


def _fake_modules(tmp_path: Path) -> Path:
    mods = tmp_path / "lib" / "modules" / "9.9.9-test"
    mods.mkdir(parents=True)
    (mods / "modules.dep").write_text(
        "kernel/a.ko: kernel/b.ko kernel/c.ko\n"
        "kernel/b.ko: kernel/c.ko\n"
        "kernel/c.ko:\n"
        "kernel/d-x.ko: kernel/c.ko\n")
    (mods / "modules.builtin").write_text("kernel/builtin_one.ko\n")
    return mods


def test_module_load_order_puts_dependencies_first_once(tmp_path):
    mods = _fake_modules(tmp_path)
    assert artifacts.resolve_load_order(mods, ("a", "d_x", "builtin_one", "b")) == \
        ["kernel/c.ko", "kernel/b.ko", "kernel/a.ko", "kernel/d-x.ko"]
    with pytest.raises(artifacts.ArtifactError, match="nope"):
        artifacts.resolve_load_order(mods, ("nope",))


@pytest.mark.skipif(shutil.which("cpio") is None, reason="needs the cpio tool to read the archive back")
def test_cpio_archive_reads_back_with_cpio(tmp_path):
    c = artifacts.Cpio()
    c.directory("bin")
    c.file("bin/tool", b"#!/bin/sh\necho hi\n", 0o755)
    c.file("data", b"x" * 1001)
    c.symlink("bin/sh", "tool")
    blob = c.finish()
    assert len(blob) % 512 == 0
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["cpio", "-idm", "--quiet"], input=blob, cwd=out, check=True)
    assert (out / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert os.stat(out / "bin" / "tool").st_mode & 0o777 == 0o755
    assert (out / "data").read_bytes() == b"x" * 1001
    assert os.readlink(out / "bin" / "sh") == "tool"


def test_vmlinux_is_found_inside_a_bzimage_like_blob():
    elf = b"\x7fELF" + bytes(range(256)) * 64
    not_elf = lzma.compress(b"not a kernel", format=lzma.FORMAT_XZ)
    image = b"MZ" + os.urandom(3000) + not_elf + os.urandom(100) \
        + lzma.compress(elf, format=lzma.FORMAT_XZ) + os.urandom(500)
    assert artifacts.extract_vmlinux(image) == elf
    assert artifacts.extract_vmlinux(b"MZ" + not_elf) is None


def test_static_busybox_detection():
    # this interpreter is dynamically linked; busybox-static (when installed) is not
    assert not artifacts._is_static_elf64(Path(os.path.realpath(sys.executable)))
    for candidate in artifacts.BUSYBOX_CANDIDATES:
        if Path(candidate).exists():
            assert artifacts._is_static_elf64(Path(candidate))
            break


# ---------------------------------------------------------------------------------------------
# the runner's supervision, end to end, with a stand-in for qemu (no VM needed)

FAKE_QEMU = r'''#!/usr/bin/env python3
import os, re, signal, sys, time
args = " ".join(sys.argv[1:])
ports = dict(re.findall(r"file,id=(\w+),path=(\S+?)(?:,| |$)", args))
count_file = os.environ["FAKE_QEMU_COUNT"]
n = int(open(count_file).read() or 0) + 1 if os.path.exists(count_file) else 1
open(count_file, "w").write(str(n))
open(os.environ["FAKE_QEMU_PID"], "w").write(str(os.getpid()))
mode = os.environ["FAKE_QEMU_MODE"]
def put(port, text):
    with open(ports[port], "a") as f:
        f.write(text)
if mode == "crash_once" and n == 1:
    os.kill(os.getpid(), signal.SIGSEGV)
if mode == "noboot":
    sys.exit(1)
if mode == "setup_fails":
    put("status", "fail mount the host root (9p)\n")
    sys.exit(0)
put("status", "booted 1.0\n")
if mode == "hang":
    time.sleep(3600)
put("out", "hello from the guest\n")
put("err", "a warning\n")
put("status", "exit 3 2.0\n")
'''


@pytest.fixture
def fake_qemu(tmp_path, monkeypatch):
    try:
        artifacts.find_kernel()
    except artifacts.ArtifactError as exc:
        pytest.skip(f"the runner needs a kernel with IPVS to prepare its artifacts: {exc}")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    qemu = bindir / "qemu-system-x86_64"
    qemu.write_text(FAKE_QEMU)
    qemu.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QEMU_COUNT", str(tmp_path / "count"))
    monkeypatch.setenv("FAKE_QEMU_PID", str(tmp_path / "pid"))

    def runner(mode: str, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, FAKE_QEMU_MODE=mode)
        return subprocess.run(["bash", str(VM_DIR.parent / "ipvs-vm"), *args, "true"], env=env,
                              cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=120)
    runner.count = lambda: int((tmp_path / "count").read_text())
    runner.pid = lambda: int((tmp_path / "pid").read_text())
    return runner


def test_runner_carries_output_and_exit_code(fake_qemu):
    r = fake_qemu("ok")
    assert (r.returncode, r.stdout, r.stderr) == (3, "hello from the guest\n", "a warning\n")


def test_runner_boots_again_when_qemu_crashes_before_the_guest_booted(fake_qemu):
    r = fake_qemu("crash_once")
    assert r.returncode == 3 and r.stdout == "hello from the guest\n"
    assert "booting again" in r.stderr and fake_qemu.count() == 2


def test_runner_timeout_kills_its_qemu_and_exits_124(fake_qemu):
    r = fake_qemu("hang", "--timeout", "3")
    assert r.returncode == 124 and "timed out" in r.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(fake_qemu.pid(), 0)


def test_runner_reports_a_vm_that_never_boots_as_125(fake_qemu):
    r = fake_qemu("noboot")
    assert r.returncode == 125 and "before it booted" in r.stderr


def test_runner_reports_a_failed_guest_setup_as_125_with_the_reason(fake_qemu):
    r = fake_qemu("setup_fails")
    assert r.returncode == 125 and "mount the host root (9p)" in r.stderr
