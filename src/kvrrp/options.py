"""keepalived's command line, parsed the way keepalived's getopt_long() call parses it.

Every entry of keepalived 2.4's `long_options` (keepalived/core/main.c) is here with its short
letter and argument kind, plus kvrrp's own few (`--format`, `--status-port`, `--status-address`, `--control-socket`). GNU getopt rules:
short options cluster (`-nld`, `-DlnS 7`, `-S7`), a required argument is the rest of the cluster
or the next word, an optional one only the rest of the cluster (`-g/tmp/x.log`) or `--opt=VALUE`,
long options may be shortened to any unique prefix, options and other words may be mixed, `--`
ends the options. What kvrrp cannot act on (BFD, memory checks, perf, debug options) is
accepted and named in `Options.no_effect`, which the daemon reports once at start.

Errors (unknown option, missing argument) are collected like keepalived's `bad_option`: all of
them are reported, then the command exits 1.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

NONE, REQUIRED, OPTIONAL = 0, 1, 2

# (short letter or "", long name, argument kind, attribute)
SPEC: tuple[tuple[str, str, int, str], ...] = (
    ("f", "use-file", REQUIRED, "config"),
    ("P", "vrrp", NONE, "vrrp"),
    ("C", "check", NONE, "check"),
    ("B", "no_bfd", NONE, "no_bfd"),
    ("", "all", NONE, "all"),
    ("l", "log-console", NONE, "log_console"),
    ("D", "log-detail", NONE, "log_detail"),
    ("S", "log-facility", REQUIRED, "log_facility"),
    ("g", "log-file", OPTIONAL, "log_file"),
    ("e", "all-config", NONE, "all_config"),
    ("", "flush-log-file", NONE, "flush_log_file"),
    ("G", "no-syslog", NONE, "no_syslog"),
    ("u", "umask", REQUIRED, "umask"),
    ("X", "release-vips", NONE, "release_vips"),
    ("V", "dont-release-vrrp", NONE, "dont_release_vrrp"),
    ("I", "dont-release-ipvs", NONE, "dont_release_ipvs"),
    ("R", "dont-respawn", NONE, "dont_respawn"),
    ("n", "dont-fork", NONE, "dont_fork"),
    ("d", "dump-conf", NONE, "dump_conf"),
    ("p", "pid", REQUIRED, "pid_file"),
    ("r", "vrrp_pid", REQUIRED, "vrrp_pid_file"),
    ("T", "genhash", NONE, "genhash"),
    ("c", "checkers_pid", REQUIRED, "checkers_pid_file"),
    ("a", "address-monitoring", NONE, "address_monitoring"),
    ("b", "bfd_pid", REQUIRED, "bfd_pid_file"),
    ("x", "snmp", NONE, "snmp"),
    ("A", "snmp-agent-socket", REQUIRED, "snmp_agent_socket"),
    ("m", "core-dump", NONE, "core_dump"),
    ("M", "core-dump-pattern", OPTIONAL, "core_dump_pattern"),
    ("", "no-mem-check", NONE, "no_mem_check"),
    ("L", "mem-check-log", NONE, "mem_check_log"),
    ("O", "openssl-mem-check", NONE, "openssl_mem_check"),
    ("s", "namespace", REQUIRED, "namespace"),
    ("i", "config-id", REQUIRED, "config_id"),
    ("", "signum", REQUIRED, "signum"),
    ("t", "config-test", OPTIONAL, "config_test"),
    ("", "config-fd", REQUIRED, "config_fd"),
    ("", "ignore-sigint", NONE, "ignore_sigint"),
    ("", "perf", OPTIONAL, "perf"),
    ("", "debug", OPTIONAL, "debug"),
    ("v", "version", NONE, "version"),
    ("h", "help", NONE, "help"),
    # kvrrp's own
    ("", "format", REQUIRED, "format"),
    ("", "status-port", REQUIRED, "status_port"),
    ("", "status-address", REQUIRED, "status_address"),
    ("", "control-socket", REQUIRED, "control_socket"),
    ("", "skip-interface-check", NONE, "skip_interface_check"),
    ("", "allow-reload-removing-all", NONE, "allow_reload_removing_all"),
    ("", "dbus-create-instance", NONE, "dbus_create_instance"),
)

# Options naming something kvrrp does not have: accepted, reported once as having no effect.
NO_EFFECT = {
    "bfd_pid_file": "kvrrp runs BFD inside the VRRP daemon, not as a process of its own",
    "no_mem_check": "kvrrp has no memory checker",
    "mem_check_log": "kvrrp has no memory checker",
    "openssl_mem_check": "kvrrp has no memory checker",
    "perf": "kvrrp has no perf recording",
    "debug": "kvrrp has no compiled-in debug options",
    "config_fd": "internal to keepalived's own process start (kvrrp's checker reads the file itself)",
}

FACILITIES = {"daemon": "daemon", "user": "user"}
FACILITIES.update({str(n): f"local{n}" for n in range(8)})
FACILITIES.update({f"local{n}": f"local{n}" for n in range(8)})

_SHORT = {s: (kind, attr) for s, _l, kind, attr in SPEC if s}
_LONG = {long: (kind, attr, s) for s, long, kind, attr in SPEC}


@dataclass
class Options:
    """The parsed command line; attribute names are what the daemons read."""

    config: str = "/etc/keepalived/keepalived.conf"
    vrrp: bool = False
    check: bool = False
    all: bool = False
    log_console: bool = False
    log_detail: bool = False
    log_extra_detail: bool = False
    log_facility: str = "daemon"
    log_file: str | None = None
    all_config: bool = False
    flush_log_file: bool = False
    no_syslog: bool = False
    umask: int | None = None
    release_vips: bool = False
    dont_release_vrrp: bool = False
    dont_release_ipvs: bool = False
    dont_respawn: bool = False
    no_bfd: bool = False            # -B: no BFD sessions (track_bfd / BFD_CHECK get no state)
    dont_fork: bool = False
    dump_conf: bool = False
    pid_file: str | None = None
    vrrp_pid_file: str | None = None
    genhash: bool = False
    address_monitoring: bool = False
    checkers_pid_file: str | None = None
    core_dump: bool = False
    snmp: bool = False                       # -x: every SNMP MIB on (kvrrp.snmp)
    snmp_agent_socket: str | None = None     # -A: the AgentX master's socket, over snmp_socket
    core_dump_pattern: str | None = None
    namespace: str | None = None
    config_id: str | None = None
    signum: str | None = None
    config_test: bool = False
    config_test_log: str | None = None
    ignore_sigint: bool = False
    version: bool = False
    help: bool = False
    format: str | None = None
    status_port: int | None = None
    status_address: str = "127.0.0.1"
    control_socket: str | None = None
    skip_interface_check: bool = False
    allow_reload_removing_all: bool = False
    dbus_create_instance: bool = False
    genhash_argv: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    no_effect: list[str] = field(default_factory=list)    # "--perf: no effect (kvrrp has no perf recording)"
    unexpected: list[str] = field(default_factory=list)   # non-option words (keepalived prints them)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _noted: set[str] = field(default_factory=set, repr=False)


def _match_long(name: str) -> tuple[str | None, str | None]:
    """getopt_long's rule: an exact name, else the only name it is a prefix of."""
    if name in _LONG:
        return name, None
    candidates = [n for n in _LONG if n.startswith(name)]
    if len(candidates) == 1:
        return candidates[0], None
    if candidates:
        return None, f"Option '--{name}' is ambiguous; possibilities: " + " ".join(f"'--{c}'" for c in candidates)
    return None, f"Unknown option --{name}"


def parse(argv: list[str]) -> Options:
    opts = Options(argv=list(argv))
    i = 0
    first = True
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            opts.unexpected.extend(argv[i:])
            break
        if word.startswith("--"):
            name, _, value = word[2:].partition("=")
            has_value = "=" in word
            full, err = _match_long(name)
            if full is None:
                opts.errors.append(err or f"Unknown option {word}")
                first = False
                continue
            kind, attr, short = _LONG[full]
            if kind == NONE and has_value:
                opts.errors.append(f"Option '--{full}' doesn't allow an argument")
                continue
            if kind == REQUIRED and not has_value:
                if i < len(argv):
                    value, has_value = argv[i], True
                    i += 1
            if kind == REQUIRED and (not has_value or value == ""):
                opts.errors.append(f"Missing parameter for option --{full}")
                continue
            if attr == "genhash":
                _genhash(opts, f"--{full}", first, argv[i:])
                return opts
            _apply(opts, attr, f"--{full}", value if has_value else None)
            first = False
            continue
        if word.startswith("-") and word != "-":
            j = 1
            while j < len(word):
                letter = word[j]
                j += 1
                if letter not in _SHORT:
                    opts.errors.append(f"Unknown option -{letter}")
                    continue
                kind, attr = _SHORT[letter]
                value = None
                if kind != NONE and j < len(word):
                    value, j = word[j:], len(word)
                elif kind == REQUIRED:
                    if i < len(argv):
                        value = argv[i]
                        i += 1
                    else:
                        opts.errors.append(f"Missing parameter for option -{letter}")
                        continue
                if attr == "genhash":
                    _genhash(opts, "-T", first, argv[i:])
                    return opts
                _apply(opts, attr, f"-{letter}", value)
                first = False
            continue
        opts.unexpected.append(word)   # GNU getopt permutes: options may follow other words
    return opts


def _genhash(opts: Options, spelled: str, first: bool, rest: list[str]) -> None:
    if not first:
        opts.warnings.append(f"Warning -- `{spelled}` not used as first option, previous options ignored")
    opts.genhash = True
    opts.genhash_argv = list(rest)


def _apply(opts: Options, attr: str, spelled: str, value: str | None) -> None:
    if attr in NO_EFFECT:
        if not any(note.startswith(f"{spelled}:") for note in opts.no_effect) and attr not in opts._noted:
            opts.no_effect.append(f"{spelled}: no effect ({NO_EFFECT[attr]})")
            opts._noted.add(attr)
        return
    if attr == "log_detail":
        # keepalived: -D once is detail, twice extra detail
        if opts.log_detail:
            opts.log_extra_detail = True
        opts.log_detail = True
    elif attr == "log_facility":
        facility = FACILITIES.get(value or "")
        if facility is None:
            # keepalived prints this and keeps the previous facility
            opts.warnings.append(f"Invalid log facility '{value}'")
        else:
            opts.log_facility = facility
    elif attr == "log_file":
        opts.log_file = value or "keepalived.log"
    elif attr == "umask":
        mask = _c_number(value or "")
        if not 0 <= mask <= 0o777:
            opts.errors.append(f"Invalid umask '{value}' (a number such as 022 or 0o022)")
        else:
            opts.umask = mask
    elif attr == "core_dump_pattern":
        opts.core_dump = True
        opts.core_dump_pattern = value or "core"
    elif attr == "config_test":
        opts.config_test = True
        opts.dont_fork = True
        opts.no_syslog = True
        opts.config_test_log = value or None
    elif attr == "status_port":
        try:
            opts.status_port = int(value or "")
        except ValueError:
            opts.errors.append(f"Invalid --status-port '{value}'")
    elif attr == "format":
        if value not in ("json", "keepalived"):
            opts.errors.append(f"Invalid --format '{value}' (json or keepalived)")
        else:
            opts.format = value
    elif attr in ("config", "pid_file", "vrrp_pid_file", "checkers_pid_file", "namespace", "config_id",
                  "signum", "status_address", "control_socket", "snmp_agent_socket"):
        setattr(opts, attr, value)
    elif attr == "all":
        opts.all = True
    else:
        setattr(opts, attr, True)


def _c_number(text: str) -> int:
    """strtoul(text, NULL, 0) as keepalived's set_umask() reads it: 0x.. hex, 0.. octal, else
    decimal (and Python's 0o.. octal); -1 if it is not a number."""
    t = text.strip().lower()
    try:
        if t.startswith("0x"):
            return int(t[2:], 16)
        if t.startswith("0o"):
            return int(t[2:], 8)
        if t.startswith("0") and len(t) > 1:
            return int(t[1:], 8)
        return int(t, 10)
    except ValueError:
        return -1


def usage(prog: str = "kvrrp") -> str:
    return f"""Usage: {prog} [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
                                default '/etc/keepalived/keepalived.conf'
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
  -g, --log-file=FILE          Also log to FILE (default {_tmp_dir()}/keepalived.log)
      --flush-log-file         Flush log file on write
  -G, --no-syslog              Don't log via syslog
  -u, --umask=MASK             umask for file creation (in numeric form)
  -X, --release-vips           Drop VIP on transition from signal.
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop
  -R, --dont-respawn           Don't respawn child processes
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -b, --bfd_pid=FILE           Use specified pidfile for BFD child process (no effect)
  -x, --snmp                   Enable SNMP subsystem
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -m, --core-dump              Produce core dump if terminate abnormally
  -M, --core-dump-pattern=PATN Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
      --no-mem-check           disable malloc() etc mem-checks (no effect)
  -L, --mem-check-log          Log malloc/frees to syslog (no effect)
      --openssl-mem-check      Enable OpenSSL malloc() etc mem-checks (no effect)
  -e, --all-config             Error if any configuration file missing (same as includet)
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
                                or any lines beginning @^ that do match.
                                The config-id defaults to the node name if option not used
      --ignore-sigint          ignore SIGINT (default means terminate) - used for debugging with GDB
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
      --perf[=PERF_TYPE]       Collect perf data (no effect)
      --debug[=...]            Enable debug options (no effect)
  -v, --version                Display the version number
  -h, --help                   Display this help message
kvrrp's own:
      --format=json|keepalived With -d: print the parsed configuration to stdout and exit
      --status-port=PORT       Serve JSON status and Prometheus metrics on PORT
      --status-address=ADDR    Address of the status API (default 127.0.0.1: it has no
                                authentication, see docs/operations.md)
      --control-socket=PATH    kvrrpctl's Unix socket (default: the pid file with .ctl)
      --skip-interface-check   With -t: do not require the interfaces named to exist here
      --allow-reload-removing-all
                               Let a reload apply a configuration with no vrrp_instance (or no
                               virtual_server) although the running one has some
      --dbus-create-instance   With enable_dbus: also serve CreateInstance / DestroyInstance
                                (keepalived built with --enable-dbus-create-instance)
Subcommands: '{prog} packet ...' (decode/encode adverts), '{prog} demo' (netns failover lab),
'{prog} ctl ...' (= kvrrpctl: status, show, maintenance, failover, rs, reload, dump, version).
"""


def _tmp_dir() -> str:
    tmp = os.environ.get("TMPDIR", "")
    return tmp if tmp.startswith("/") else "/tmp"


def log_file_path(name: str, prog: str | None) -> str:
    """keepalived's make_file_name(): relative names go under TMPDIR (or /tmp), and a child
    process's file gets `_PROG` before the extension (keepalived.log -> keepalived_vrrp.log)."""
    path = name if name.startswith("/") else os.path.join(_tmp_dir(), name)
    if prog:
        head, tail = os.path.split(path)
        stem, dot, ext = tail.rpartition(".")
        tail = f"{stem}_{prog}.{ext}" if dot and stem else f"{tail}_{prog}"
        path = os.path.join(head, tail)
    return path
