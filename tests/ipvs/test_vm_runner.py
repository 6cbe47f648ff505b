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
