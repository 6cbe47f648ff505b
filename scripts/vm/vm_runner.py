"""Run one command inside a throwaway qemu VM whose kernel has IPVS (see scripts/ipvs-vm).

The guest sees the host's root read-only (plus a tmpfs overlay) and the current directory
read-write at the same path; the command runs there with the caller's essential environment.
Its stdout and stderr stream back live, and its exit code becomes ours.

Exit codes besides the command's own: 124 the VM timed out, 125 the VM failed (did not boot,
crashed, or could not start), 2 bad usage. Stdlib only.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vm_artifacts as artifacts  # noqa: E402

EXIT_TIMEOUT = 124
EXIT_VM_FAILED = 125
EXIT_USAGE = 2
BOOT_ATTEMPTS = 3


class _CrashedBeforeBoot(Exception):
    """qemu died of a signal before the guest started the command."""

USAGE = """\
usage: scripts/ipvs-vm [options] [--] CMD [ARG...]

Boot Debian's kernel (with IPVS) under qemu, run CMD in the current directory inside it,
carry its stdout, stderr and exit code back.

options (environment variable in brackets):
  --timeout SECONDS       whole run, boot included (default 1800) [KVRRP_VM_TIMEOUT]
  --boot-timeout SECONDS  launch until CMD starts (default 300) [KVRRP_VM_BOOT_TIMEOUT]
  --memory SIZE           guest RAM, qemu syntax (default 2G) [KVRRP_VM_MEMORY]
  --cpus N                guest CPUs (default 2) [KVRRP_VM_CPUS]
  --env NAME              also pass NAME from the environment (repeatable)
  --kernel VERSION        kernel under /lib/modules and /boot (default: newest with IPVS)
                          [KVRRP_VM_KERNEL]
  --console               copy the guest's serial console to stderr [KVRRP_VM_CONSOLE=1]
  -v, --verbose           print boot and run times to stderr [KVRRP_VM_VERBOSE=1]
  --keep                  keep the run directory (console log, job script) [KVRRP_VM_KEEP=1]
  --prepare               only build/refresh the cached kernel and initramfs, then exit
  -h, --help
cache: $KVRRP_VM_CACHE, else $XDG_CACHE_HOME/kvrrp-vm, else /var/cache/kvrrp-vm (root)
exit: CMD's code; 124 VM timed out; 125 VM failed to boot or died; 2 usage error
"""

# Variables the command sees in the guest: the essentials, plus anything named with --env.
PASS_EXACT = {"PATH", "PYTHONPATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ",
              "TERM", "CI", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "NO_COLOR", "FORCE_COLOR",
              "GITHUB_ACTIONS"}
PASS_PREFIXES = ("KVRRP_", "LC_", "PYENV_", "PYTHON")


class Usage(Exception):
    pass


def _say(msg: str) -> None:
    print(f"ipvs-vm: {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> dict:
    env = os.environ
    opts = {
        "timeout": float(env.get("KVRRP_VM_TIMEOUT", "1800")),
        "boot_timeout": float(env.get("KVRRP_VM_BOOT_TIMEOUT", "300")),
        "memory": env.get("KVRRP_VM_MEMORY", "2G"),
        "cpus": int(env.get("KVRRP_VM_CPUS", "2")),
        "kernel": env.get("KVRRP_VM_KERNEL") or None,
        "console": env.get("KVRRP_VM_CONSOLE") == "1",
        "verbose": env.get("KVRRP_VM_VERBOSE") == "1",
        "keep": env.get("KVRRP_VM_KEEP") == "1",
        "prepare": False,
        "extra_env": [],
        "cmd": [],
    }
    with_value = {"--timeout": ("timeout", float), "--boot-timeout": ("boot_timeout", float),
                  "--memory": ("memory", str), "--cpus": ("cpus", int),
                  "--kernel": ("kernel", str), "--env": ("extra_env", str)}
    flags = {"--console": "console", "-v": "verbose", "--verbose": "verbose", "--keep": "keep",
             "--prepare": "prepare"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            raise SystemExit(0)
        name, eq, inline = a.partition("=")
        if name in with_value:
            key, conv = with_value[name]
            if eq:
                raw = inline
            else:
                i += 1
                if i >= len(argv):
                    raise Usage(f"{name} needs a value")
                raw = argv[i]
            try:
                value = conv(raw)
            except ValueError:
                raise Usage(f"{name}: bad value {raw!r}") from None
            if key == "extra_env":
                opts[key].append(value)
            else:
                opts[key] = value
        elif a in flags:
            opts[flags[a]] = True
        elif a.startswith("-"):
            raise Usage(f"unknown option {a} (put -- before a command that starts with -)")
        else:
            break
        i += 1
    opts["cmd"] = argv[i:]
    if not opts["cmd"] and not opts["prepare"]:
        raise Usage("no command given")
    if opts["timeout"] <= 0 or opts["boot_timeout"] <= 0 or opts["cpus"] < 1:
        raise Usage("timeouts and --cpus must be positive")
    if not re.fullmatch(r"\d+[KMGT]?", opts["memory"]):
        raise Usage(f"--memory: bad size {opts['memory']!r}")
    return opts


# ---------------------------------------------------------------------------------------------
# the job: environment and script


def _resolve_pyenv_shim(env: dict[str, str]) -> None:
    """A pyenv shim re-runs bash and `pyenv exec` for every python3 start, which costs seconds
    in the emulated guest. Put the interpreter it would pick first on PATH, as `pyenv exec`
    itself does, so the guest starts the same Python directly."""
    import shutil
    found = shutil.which("python3", path=env.get("PATH"))
    if not found:
        return
    try:
        with open(found, "rb") as f:
            head = f.read(2048)
    except OSError:
        return
    if not head.startswith(b"#!") or b"pyenv" not in head:
        return
    try:
        exe = subprocess.run([found, "-c", "import sys; print(sys.executable)"], env=env,
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return
    if exe:
        env["PATH"] = os.path.dirname(exe) + os.pathsep + env.get("PATH", "")


def guest_environment(extra: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if (k in PASS_EXACT or k.startswith(PASS_PREFIXES) or k in extra)
           and not k.startswith("KVRRP_VM_")}   # the runner's own settings stay outside
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.setdefault("HOME", "/root")
    _resolve_pyenv_shim(env)
    env["KVRRP_IN_IPVS_VM"] = "1"
    return env


def job_script(cwd: str, env: dict[str, str], cmd: list[str]) -> str:
    lines = ["# generated by scripts/ipvs-vm: runs inside the VM's chroot", "set -e"]
    for k, v in sorted(env.items()):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            lines.append(f"export {k}={shlex.quote(v)}")
    lines.append(f"cd {shlex.quote(cwd)}")
    lines.append("set +e")
    lines.append("exec " + " ".join(shlex.quote(a) for a in cmd))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# qemu


def qemu_command(art: artifacts.Artifacts, run_dir: Path, cwd: str, opts: dict) -> list[str]:
    append = " ".join([
        "console=ttyS0", "quiet", "loglevel=4", "panic=-1", "oops=panic", "rdinit=/init",
        "nokaslr", "tsc=reliable", "no_timer_check", "random.trust_cpu=on",
        f"kvrrp.job={run_dir}", f"kvrrp.work={cwd}",
    ])

    def port(name: str) -> list[str]:
        return ["-chardev", f"file,id={name},path={run_dir / name}",
                "-device", f"virtserialport,chardev={name},name={name}"]

    return [
        "qemu-system-x86_64", "-name", "kvrrp-ipvs-vm",
        "-nodefaults", "-no-user-config", "-no-reboot",
        "-accel", "tcg,thread=multi", "-machine", "q35", "-cpu", "qemu64",
        "-smp", str(opts["cpus"]), "-m", opts["memory"],
        "-display", "none", "-monitor", "none",
        "-serial", f"file:{run_dir / 'console'}",
        "-kernel", str(art.boot_image), "-initrd", str(art.initramfs), "-append", append,
        "-fsdev", "local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-fsdev", f"local,id=work,path={cwd},security_model=none,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=work,mount_tag=work",
        "-device", "virtio-rng-pci",
        "-device", "virtio-serial-pci",
        *port("status"), *port("out"), *port("err"),
    ]


def _die_with_parent() -> None:
    """qemu goes down with the runner even if the runner is SIGKILLed."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class Tail:
    """Copies what qemu appends to a port file onto one of our streams."""

    def __init__(self, path: Path, sink) -> None:
        self.path, self.sink, self.pos = path, sink, 0

    def pump(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return b""
        if data:
            self.pos += len(data)
            if self.sink is not None:
                self.sink.write(data)
                self.sink.flush()
        return data


def run(opts: dict) -> int:
    try:
        art = artifacts.prepare(opts["kernel"])
    except artifacts.ArtifactError as e:
        _say(str(e))
        return EXIT_VM_FAILED
    if opts["prepare"]:
        _say(f"ready: kernel {art.kernel.version}, {art.boot_image}, {art.initramfs}, "
             f"IPVS modules: {' '.join(art.ipvs_modules)}")
        return 0

    cwd = os.getcwd()
    if cwd == "/":
        _say("refusing to share / read-write: run from the project directory")
        return EXIT_USAGE
    if "," in cwd or " " in cwd:
        _say(f"the working directory path {cwd!r} has a comma or space, which qemu's -fsdev "
             "and the kernel command line cannot carry")
        return EXIT_USAGE

    run_dir = Path(tempfile.mkdtemp(prefix="kvrrp-ipvs-vm-"))
    qemu = None
    started = time.monotonic()
    try:
        (run_dir / "job.sh").write_text(job_script(cwd, guest_environment(opts["extra_env"]),
                                                   opts["cmd"]))
        for name in ("status", "out", "err", "console"):
            (run_dir / name).touch()
        cmd = qemu_command(art, run_dir, cwd, opts)
        for attempt in range(1, BOOT_ATTEMPTS + 1):
            qemu_log = open(run_dir / "qemu.log", "wb")
            try:
                qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qemu_log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=_die_with_parent)
            except OSError as e:
                _say(f"cannot start qemu-system-x86_64: {e} (apt-get install qemu-system-x86)")
                return EXIT_VM_FAILED
            finally:
                qemu_log.close()
            try:
                return _supervise(qemu, run_dir, opts, started)
            except _CrashedBeforeBoot as crash:
                # Seen here once in a few dozen boots: qemu's TCG died of SIGSEGV during the
                # guest's early boot. The command had not started, so booting again is safe.
                if attempt == BOOT_ATTEMPTS:
                    _say(f"{crash}; giving up after {attempt} attempts")
                    _show_diagnostics(run_dir)
                    return EXIT_VM_FAILED
                _say(f"{crash}; booting again (attempt {attempt + 1} of {BOOT_ATTEMPTS})")
                for name in ("status", "out", "err", "console"):
                    (run_dir / name).write_bytes(b"")
        raise AssertionError("unreachable")
    finally:
        if qemu is not None and qemu.poll() is None:
            qemu.kill()          # our own qemu, by its PID
            qemu.wait()
        if opts["keep"]:
            _say(f"kept {run_dir}")
        else:
            for p in sorted(run_dir.iterdir()):
                p.unlink()
            run_dir.rmdir()


def _supervise(qemu: subprocess.Popen, run_dir: Path, opts: dict, started: float) -> int:
    out = Tail(run_dir / "out", sys.stdout.buffer)
    err = Tail(run_dir / "err", sys.stderr.buffer)
    console = Tail(run_dir / "console", sys.stderr.buffer if opts["console"] else None)
    status_tail = Tail(run_dir / "status", None)
    status = b""
    booted_at = None

    def pump() -> None:
        nonlocal status, booted_at
        console.pump()
        status += status_tail.pump()
        if booted_at is None and b"booted" in status:
            booted_at = time.monotonic()
            if opts["verbose"]:
                _say(f"booted in {booted_at - started:.1f} s (guest uptime "
                     f"{_field(status, b'booted')} s)")
        out.pump()
        err.pump()

    while True:
        try:
            qemu.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        pump()
        elapsed = time.monotonic() - started
        if booted_at is None and elapsed > opts["boot_timeout"]:
            qemu.kill()
            qemu.wait()
            pump()
            _say(f"VM did not boot within {opts['boot_timeout']:.0f} s; killed it")
            _show_diagnostics(run_dir)
            return EXIT_VM_FAILED
        if elapsed > opts["timeout"]:
            qemu.kill()
            qemu.wait()
            pump()
            _say(f"timed out after {opts['timeout']:.0f} s "
                 f"({'command still running' if booted_at else 'VM never booted'}); killed the VM")
            if not booted_at:
                _show_diagnostics(run_dir)
            return EXIT_TIMEOUT
    pump()
    total = time.monotonic() - started
    m = re.search(rb"^exit (\d+)", status, re.M)
    if m:
        rc = int(m.group(1))
        if opts["verbose"]:
            _say(f"command exited {rc}; {total:.1f} s in all")
        return rc
    fail = re.search(rb"^fail (.*)$", status, re.M)
    if fail:
        _say(f"VM setup failed: {fail.group(1).decode(errors='replace')}")
    elif booted_at:
        _say(f"VM stopped while the command was running (qemu exit {qemu.returncode}, "
             f"after {total:.1f} s): no exit status came back")
    else:
        if qemu.returncode < 0:
            raise _CrashedBeforeBoot(f"qemu died of signal {-qemu.returncode} before the guest "
                                     f"booted (after {total:.1f} s)")
        _say(f"VM stopped before it booted (qemu exit {qemu.returncode}, after {total:.1f} s)")
    _show_diagnostics(run_dir)
    return EXIT_VM_FAILED


def _field(status: bytes, key: bytes) -> str:
    m = re.search(rb"^" + key + rb" (\S+)", status, re.M)
    return m.group(1).decode() if m else "?"


def _show_diagnostics(run_dir: Path, lines: int = 40) -> None:
    for name in ("qemu.log", "console"):
        try:
            text = (run_dir / name).read_text(errors="replace").splitlines()
        except FileNotFoundError:
            continue
        if text:
            _say(f"last {min(lines, len(text))} lines of {name}:")
            for line in text[-lines:]:
                print(f"  | {line}", file=sys.stderr)
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    try:
        opts = parse_args(argv)
    except Usage as e:
        _say(str(e))
        sys.stderr.write(USAGE)
        return EXIT_USAGE

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)   # unwinds through run()'s cleanup: qemu killed, dir removed

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    return run(opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
