"""keepalived's command line: every option of keepalived 2.4's `long_options` parses as
keepalived's getopt_long() would parse it (short clusters, separate or attached arguments,
optional arguments, unique prefixes), and the real `kvrrp` binary acts on the ones that do
not need a running daemon (help, version, config test, -e, errors)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kvrrp.options import NO_EFFECT, SPEC, log_file_path, parse

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "configs")

# keepalived 2.4's long_options (keepalived/core/main.c), every build-time option enabled
KEEPALIVED_LONG_OPTIONS = {
    "use-file": "f", "vrrp": "P", "check": "C", "no_bfd": "B", "all": "", "log-console": "l",
    "log-detail": "D", "log-facility": "S", "log-file": "g", "all-config": "e", "flush-log-file": "",
    "no-syslog": "G", "umask": "u", "release-vips": "X", "dont-release-vrrp": "V",
    "dont-release-ipvs": "I", "dont-respawn": "R", "dont-fork": "n", "dump-conf": "d", "pid": "p",
    "vrrp_pid": "r", "genhash": "T", "checkers_pid": "c", "address-monitoring": "a", "bfd_pid": "b",
    "snmp": "x", "snmp-agent-socket": "A", "core-dump": "m", "core-dump-pattern": "M",
    "no-mem-check": "", "mem-check-log": "L", "openssl-mem-check": "O", "namespace": "s",
    "config-id": "i", "signum": "", "config-test": "t", "config-fd": "", "ignore-sigint": "",
    "perf": "", "debug": "", "version": "v", "help": "h",
}


def kvrrp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "kvrrp", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_every_keepalived_long_option_is_known_with_its_short_letter() -> None:
    ours = {long: short for short, long, _kind, _attr in SPEC}
    for long, short in KEEPALIVED_LONG_OPTIONS.items():
        assert long in ours, long
        assert ours[long] == short, long


@pytest.mark.parametrize("long", sorted(KEEPALIVED_LONG_OPTIONS))
def test_each_long_option_parses_without_error(long: str) -> None:
    kind = next(k for _s, name, k, _a in SPEC if name == long)
    value = {"log-facility": "local3", "umask": "022", "signum": "STOP", "config-fd": "5"}.get(long, "x")
    argv = [f"--{long}=" + value] if kind == 1 else [f"--{long}"]
    opts = parse(argv)
    assert opts.errors == [], opts.errors
    attr = next(a for _s, name, _k, a in SPEC if name == long)
    if attr in NO_EFFECT:
        assert len(opts.no_effect) == 1 and opts.no_effect[0].startswith(f"--{long}: no effect")


def test_short_options_cluster_like_getopt() -> None:
    o = parse(["-nld"])
    assert (o.dont_fork, o.log_console, o.dump_conf) == (True, True, True) and not o.errors
    o = parse(["-DlnS", "7", "-f", "/x.conf"])
    assert o.log_detail and o.log_console and o.dont_fork and o.log_facility == "local7" and o.config == "/x.conf"
    o = parse(["-S7", "-fx.conf", "-DD"])
    assert o.log_facility == "local7" and o.config == "x.conf" and o.log_extra_detail


def test_optional_arguments_only_attached() -> None:
    o = parse(["-g", "-t"])               # -g's argument is optional: the next word is not it
    assert o.log_file == "keepalived.log" and o.config_test and o.config_test_log is None
    o = parse(["-g/tmp/k.log", "--config-test=/tmp/t.log"])
    assert o.log_file == "/tmp/k.log" and o.config_test_log == "/tmp/t.log"
    assert parse(["-Mcore.%p"]).core_dump_pattern == "core.%p"
    assert parse(["--core-dump-pattern"]).core_dump_pattern == "core" and parse(["-M"]).core_dump


def test_long_option_prefixes_and_errors() -> None:
    assert parse(["--dont-f", "--log-con"]).dont_fork
    amb = parse(["--dont"])
    assert amb.errors and "ambiguous" in amb.errors[0]
    assert parse(["--bogus"]).errors == ["Unknown option --bogus"]
    assert parse(["-Q"]).errors == ["Unknown option -Q"]
    assert parse(["-f"]).errors == ["Missing parameter for option -f"]
    assert parse(["--use-file="]).errors == ["Missing parameter for option --use-file"]
    assert parse(["--dont-fork=yes"]).errors
    assert parse(["-u", "999"]).errors and parse(["-u", "0o27"]).umask == 0o27 and parse(["-u", "022"]).umask == 0o22


def test_words_between_options_and_after_double_dash() -> None:
    o = parse(["stray", "-n", "--", "-l"])
    assert o.dont_fork and not o.log_console and o.unexpected == ["stray", "-l"]


def test_genhash_takes_the_rest_and_warns_when_not_first() -> None:
    o = parse(["-T", "-s", "198.18.0.5", "-p", "80"])
    assert o.genhash and o.genhash_argv == ["-s", "198.18.0.5", "-p", "80"] and not o.warnings
    o = parse(["-n", "--genhash", "-s", "198.18.0.5"])
    assert o.genhash and o.warnings == ["Warning -- `--genhash` not used as first option, previous options ignored"]


def test_facilities_and_bad_facility() -> None:
    for arg, facility in (("0", "local0"), ("local5", "local5"), ("user", "user"), ("daemon", "daemon")):
        assert parse(["-S", arg]).log_facility == facility
    bad = parse(["-S", "mail"])
    assert bad.log_facility == "daemon" and bad.warnings == ["Invalid log facility 'mail'"]


def test_log_file_names_follow_keepalived(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("TMPDIR", raising=False)
    assert log_file_path("keepalived.log", None) == "/tmp/keepalived.log"
    assert log_file_path("/var/log/ka.log", "vrrp") == "/var/log/ka_vrrp.log"
    assert log_file_path("/var/log/ka", "check") == "/var/log/ka_check"
    monkeypatch.setenv("TMPDIR", "/var/tmp")
    assert log_file_path("k.log", "vrrp") == "/var/tmp/k_vrrp.log"


# -- the real binary -------------------------------------------------------------------------

def test_binary_help_and_version() -> None:
    p = kvrrp("-h")
    assert p.returncode == 0 and "--log-facility" in p.stderr and "--signum" in p.stderr
    p = kvrrp("--version")
    from kvrrp import version

    assert p.returncode == 0 and f"kvrrp v{version()}" in p.stderr


def test_binary_bad_options_exit_1_with_keepalived_texts() -> None:
    p = kvrrp("--bogus", "-f")
    assert p.returncode == 1
    assert "Unknown option --bogus" in p.stderr and "Missing parameter for option -f" in p.stderr


def test_binary_config_test_to_a_log_file(tmp_path) -> None:  # noqa: ANN001
    log = tmp_path / "test.log"
    p = kvrrp(f"--config-test={log}", "-f", os.path.join(CONFIGS, "bad_typo_keyword.conf"))
    assert p.returncode == 5 and "advert_intt" not in p.stderr
    assert "unknown keyword 'advert_intt'" in log.read_text()


def test_binary_all_config_makes_a_missing_include_an_error(tmp_path) -> None:  # noqa: ANN001
    conf = tmp_path / "k.conf"
    conf.write_text(open(os.path.join(CONFIGS, "ok_minimal.conf")).read() + "\ninclude /nonexistent/kvrrp-*.conf\n")
    assert kvrrp("-t", "-f", str(conf)).returncode == 0
    p = kvrrp("-e", "-t", "-f", str(conf))
    assert p.returncode == 5 and "matches no file" in p.stderr


def test_binary_umask_applies_to_files_it_creates(tmp_path) -> None:  # noqa: ANN001
    log = tmp_path / "umask.log"
    assert kvrrp("-u", "077", f"-t{log}", "-f", os.path.join(CONFIGS, "ok_minimal.conf")).returncode == 0
    assert (os.stat(log).st_mode & 0o777) == 0o600


def test_binary_dump_and_exit_with_format() -> None:
    p = kvrrp("-d", "--format", "keepalived", "-f", os.path.join(CONFIGS, "ok_minimal.conf"))
    assert p.returncode == 0 and "vrrp_instance VI_1 {" in p.stdout


def test_binary_unexpected_words_are_reported() -> None:
    p = kvrrp("-t", "-f", os.path.join(CONFIGS, "ok_minimal.conf"), "stray")
    assert p.returncode == 0 and "Unexpected argument(s): stray" in p.stderr


@pytest.mark.parametrize("name", ["STOP", "RELOAD", "DATA", "STATS", "STATS_CLEAR", "JSON", "TDUMP"])
def test_binary_signum_prints_the_number_kvrrp_uses(name: str) -> None:
    from kvrrp.signals import signum

    p = kvrrp(f"--signum={name}")
    assert p.returncode == 0 and p.stdout.strip() == str(signum(name))
    import shutil

    if shutil.which("keepalived"):              # the same number keepalived prints
        ka = subprocess.run(["keepalived", f"--signum={name}"], capture_output=True, text=True, timeout=30)
        if ka.returncode == 0:
            assert ka.stdout.strip() == p.stdout.strip()


def test_binary_signum_unknown_name() -> None:
    p = kvrrp("--signum", "NOPE")
    assert p.returncode == 1 and "Unknown sigfunc NOPE" in p.stderr
