#!/opt/kvrrp/bin/python3
"""The container's entry point: osixia/keepalived's start-up, running kvrrp.

Takes what the tutorials pass to osixia/keepalived:
- a configuration mounted at /container/service/keepalived/assets/keepalived.conf, or, when
  none is mounted, the template there filled from KEEPALIVED_INTERFACE, _PASSWORD, _PRIORITY,
  _ROUTER_ID, _STATE, _UNICAST_PEERS, _VIRTUAL_IPS and _NOTIFY (lists as
  "#PYTHON2BASH:['a', 'b']", as JSON, or one entry a line);
- arguments of osixia's light-baseimage `run` tool: --loglevel LEVEL (-l), --copy-service,
  --help; the others it has (--skip-*, --keep-startup-env, ...) concern its service
  framework, are accepted and have no effect here;
- KEEPALIVED_COMMAND_LINE_ARGUMENTS appended to `kvrrp -f CONF --dont-fork --log-console`;
- osixia's environment files: /container/environment/*/*.yaml in directory order, the first
  to set a variable wins (01-custom before 99-default, which has osixia's defaults); a variable
  given to `podman run -e` wins over every file.
Then it execs kvrrp, which runs as PID 1 (signals from `podman stop` reach it directly).
"""
from __future__ import annotations

import ast
import json
import os
import shlex
import shutil
import stat
import sys

SERVICE_DIR = "/container/service"
RUN_SERVICE_DIR = "/container/run/service"
CONFIG = "/usr/local/etc/keepalived/keepalived.conf"
ENVIRONMENT_DIR = "/container/environment"
KVRRP = "/usr/local/sbin/kvrrp"
LEVELS = ("none", "error", "warning", "info", "debug", "trace")
NO_EFFECT_FLAGS = {"--skip-env-files", "-e", "--skip-startup-files", "-s", "--skip-process-files", "-p",
                   "--skip-finish-files", "-f", "--keep-startup-env", "--dont-touch-etc-hosts",
                   "--keepalived", "-k", "--kill-all-on-exit", "--no-kill-all-on-exit",
                   "--wait-first-startup", "--wait-state", "-w"}
PLACEHOLDERS = ("KEEPALIVED_STATE", "KEEPALIVED_ROUTER_ID", "KEEPALIVED_INTERFACE", "KEEPALIVED_PRIORITY",
                "KEEPALIVED_PASSWORD")
USAGE = """usage: run [--loglevel none|error|warning|info|debug|trace] [--copy-service] [-h]
  -l, --loglevel LEVEL  how much this start-up script says (debug: the generated configuration
                        and the kvrrp command line)
  --copy-service        copy /container/service to /container/run/service and use the copy,
                        so that mounted files are never changed
kvrrp's own arguments: KEEPALIVED_COMMAND_LINE_ARGUMENTS (default "--log-detail --dump-conf")
"""


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> dict:
    opts = {"loglevel": "info", "copy_service": False, "help": False, "ignored": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in ("-h", "--help"):
            opts["help"] = True
        elif arg == "--copy-service":
            opts["copy_service"] = True
        elif arg in ("-l", "--loglevel") or arg.startswith("--loglevel="):
            if "=" in arg:
                value = arg.split("=", 1)[1]
            elif i < len(argv):
                value, i = argv[i], i + 1
            else:
                raise UsageError(f"{arg} needs a level ({', '.join(LEVELS)})")
            if value not in LEVELS:
                raise UsageError(f"unknown log level '{value}' ({', '.join(LEVELS)})")
            opts["loglevel"] = value
        elif arg in NO_EFFECT_FLAGS:
            opts["ignored"].append(arg)
        elif arg in ("-c", "--cmd", "-o", "--run-only"):
            if i >= len(argv):
                raise UsageError(f"{arg} needs a value")
            opts["ignored"].append(f"{arg} {argv[i]}")
            i += 1
        else:
            raise UsageError(f"unknown argument '{arg}'")
    return opts


def read_env_file(path: str) -> dict[str, str | list[str]]:
    """The YAML osixia's environment files use: `NAME: value` and `NAME:` followed by
    `  - item` lines; comments and blank lines skipped, quotes around a value removed."""
    values: dict[str, str | list[str]] = {}
    current: str | None = None
    with open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
            if not line.strip():
                continue
            stripped = line.strip()
            if stripped.startswith("- ") or stripped == "-":
                if current is None or not isinstance(values.get(current), list):
                    raise ValueError(f"{path}:{lineno}: a list item without a list name above it")
                values[current].append(_unquote(stripped[1:].strip()))  # type: ignore[union-attr]
                continue
            name, sep, value = stripped.partition(":")
            if not sep or not name or line[0].isspace():
                raise ValueError(f"{path}:{lineno}: expected NAME: value")
            value = value.strip()
            current = name.strip()
            values[current] = _unquote(value) if value else []
    return values


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def load_environment(root: str = ENVIRONMENT_DIR) -> dict[str, str | list[str]]:
    """Every *.yaml under root's directories, in order; the first to set a name wins."""
    merged: dict[str, str | list[str]] = {}
    if not os.path.isdir(root):
        return merged
    for entry in sorted(os.listdir(root)):
        folder = os.path.join(root, entry)
        files = [folder] if os.path.isfile(folder) else \
            [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith((".yaml", ".yml"))]
        for path in files:
            if not path.endswith((".yaml", ".yml")):
                continue
            for name, value in read_env_file(path).items():
                merged.setdefault(name, value)
    return merged


class Settings:
    """A variable from the process environment (podman run -e) or else from the files."""

    def __init__(self, environ: dict[str, str], files: dict[str, str | list[str]]) -> None:
        self.environ = environ
        self.files = files

    def get(self, name: str) -> str:
        if name in self.environ:
            return self.environ[name]
        value = self.files.get(name, "")
        return " ".join(value) if isinstance(value, list) else value

    def items(self, name: str) -> list[str]:
        if name in self.environ:
            return parse_list(self.environ[name])
        value = self.files.get(name, [])
        return list(value) if isinstance(value, list) else parse_list(value)


def env_list(name: str) -> list[str]:
    """osixia's list variables: '#PYTHON2BASH:[...]' (a Python literal), JSON, or lines."""
    return parse_list(os.environ.get(name, ""))


def parse_list(raw: str) -> list[str]:
    text = raw.strip()
    if text.startswith("#PYTHON2BASH:"):
        value = ast.literal_eval(text[len("#PYTHON2BASH:"):].strip())
        return [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except ValueError:
            return [str(v) for v in ast.literal_eval(text)]
    return [line.strip() for line in text.splitlines() if line.strip()]


def render(template: str, environ: "dict[str, str] | Settings") -> str:
    """Fill osixia's placeholders as its startup.sh does (a config without them is unchanged)."""
    settings = environ if isinstance(environ, Settings) else Settings(environ, {})
    out = template
    for name in PLACEHOLDERS:
        out = out.replace("{{ %s }}" % name, settings.get(name))
    notify = settings.get("KEEPALIVED_NOTIFY")
    lines = []
    for line in out.splitlines():
        if "{{ KEEPALIVED_NOTIFY }}" in line:
            if notify:
                lines.append(line.replace("{{ KEEPALIVED_NOTIFY }}", f'notify "{notify}"'))
            continue
        for name in ("KEEPALIVED_UNICAST_PEERS", "KEEPALIVED_VIRTUAL_IPS"):
            if "{{ %s }}" % name in line:
                indent = line[:len(line) - len(line.lstrip())]
                lines.extend(f"{indent}{item}" for item in settings.items(name))
                break
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def say(level: str, wanted: str, text: str) -> None:
    if LEVELS.index(wanted) >= LEVELS.index(level):
        print(text, flush=True)


def main(argv: list[str]) -> int:
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        print(f"run: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    if opts["help"]:
        print(USAGE)
        return 0
    level = opts["loglevel"]
    for ignored in opts["ignored"]:
        say("warning", level, f"run: {ignored}: no effect (osixia's service framework option)")
    service = SERVICE_DIR
    if opts["copy_service"]:
        shutil.rmtree(RUN_SERVICE_DIR, ignore_errors=True)
        shutil.copytree(SERVICE_DIR, RUN_SERVICE_DIR, symlinks=True)
        service = RUN_SERVICE_DIR
        say("info", level, f"run: copied {SERVICE_DIR} to {RUN_SERVICE_DIR}")
    source = os.path.join(service, "keepalived", "assets", "keepalived.conf")
    try:
        with open(source) as fh:
            template = fh.read()
    except OSError as exc:
        print(f"run: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        settings = Settings(dict(os.environ), load_environment())
    except (OSError, ValueError) as exc:
        print(f"run: environment files: {exc}", file=sys.stderr)
        return 1
    notify = settings.get("KEEPALIVED_NOTIFY")
    if notify and service != SERVICE_DIR and notify.startswith(SERVICE_DIR + "/"):
        settings.environ["KEEPALIVED_NOTIFY"] = notify = service + notify[len(SERVICE_DIR):]
    generated = "{{ KEEPALIVED_" in template
    text = render(template, settings) if generated else template
    if generated and notify and os.path.exists(notify):
        try:
            os.chmod(notify, os.stat(notify).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as exc:
            say("warning", level, f"run: cannot make {notify} executable: {exc.strerror}")
    os.makedirs(os.path.dirname(CONFIG), exist_ok=True)
    with open(CONFIG, "w") as fh:
        fh.write(text)
    say("info", level, f"run: configuration {CONFIG} "
        + ("generated from KEEPALIVED_* variables" if generated else f"from {source}"))
    if LEVELS.index(level) >= LEVELS.index("debug"):
        print(text, end="", flush=True)
    try:
        os.unlink("/run/kvrrp.pid")   # a previous run of this container (osixia removes its pid file too)
    except FileNotFoundError:
        pass
    args = shlex.split(settings.get("KEEPALIVED_COMMAND_LINE_ARGUMENTS"))
    command = [KVRRP, "-f", CONFIG, "--dont-fork", "--log-console", *args]
    say("debug", level, "run: exec " + " ".join(shlex.quote(a) for a in command))
    sys.stdout.flush()
    os.execv(command[0], command)
    return 1   # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
