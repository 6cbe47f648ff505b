"""The container entry point's osixia compatibility without podman: list variable formats,
the template filled as osixia's startup.sh fills it, its arguments."""
from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("kvrrp_container_entrypoint",
                                               os.path.join(ROOT, "container", "entrypoint.py"))
entry = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(entry)  # type: ignore[union-attr]
TEMPLATE = open(os.path.join(ROOT, "container", "service", "keepalived", "assets", "keepalived.conf")).read()


@pytest.mark.parametrize("raw, items", [
    ("#PYTHON2BASH:['198.18.0.10', '198.18.0.11']", ["198.18.0.10", "198.18.0.11"]),
    ('["198.18.0.10", "198.18.0.11"]', ["198.18.0.10", "198.18.0.11"]),
    ("198.18.0.231/24 dev eth0", ["198.18.0.231/24 dev eth0"]),
    ("198.18.0.10\n198.18.0.11\n", ["198.18.0.10", "198.18.0.11"]),
    ("", []),
])
def test_list_variables(monkeypatch, raw, items) -> None:  # noqa: ANN001
    monkeypatch.setenv("KEEPALIVED_UNICAST_PEERS", raw)
    assert entry.env_list("KEEPALIVED_UNICAST_PEERS") == items


def test_template_filled_like_osixia() -> None:
    env = {"KEEPALIVED_INTERFACE": "eth1", "KEEPALIVED_STATE": "MASTER", "KEEPALIVED_ROUTER_ID": "7",
           "KEEPALIVED_PRIORITY": "120", "KEEPALIVED_PASSWORD": "pw",
           "KEEPALIVED_NOTIFY": "/container/service/keepalived/assets/notify.sh",
           "KEEPALIVED_UNICAST_PEERS": "#PYTHON2BASH:['198.18.0.12', '198.18.0.13']",
           "KEEPALIVED_VIRTUAL_IPS": "#PYTHON2BASH:['198.18.0.200/32']"}
    text = entry.render(TEMPLATE, env)
    assert "{{" not in text
    for line in ("default_interface eth1", "interface eth1", "state MASTER", "virtual_router_id 7",
                 "priority 120", "auth_pass pw", "    198.18.0.12", "    198.18.0.13", "    198.18.0.200/32",
                 'notify "/container/service/keepalived/assets/notify.sh"'):
        assert line in text, line
    from kvrrp.config import parse_text

    res = parse_text(text)
    inst = res.config.instances[0]
    assert inst.priority == 120 and inst.vrid == 7 and len(inst.unicast_peers) == 2


def test_no_notify_removes_the_line() -> None:
    text = entry.render(TEMPLATE, {"KEEPALIVED_NOTIFY": ""})
    assert "notify" not in text and "{{ KEEPALIVED_NOTIFY }}" not in text


def test_arguments() -> None:
    assert entry.parse_args(["--loglevel", "debug", "--copy-service"])["loglevel"] == "debug"
    assert entry.parse_args(["-l", "trace"])["loglevel"] == "trace"
    assert entry.parse_args(["--copy-service"])["copy_service"]
    assert entry.parse_args(["--skip-env-files"])["ignored"] == ["--skip-env-files"]
    with pytest.raises(entry.UsageError):
        entry.parse_args(["--loglevel", "loud"])
    with pytest.raises(entry.UsageError):
        entry.parse_args(["--bogus"])


def test_environment_files_first_wins_and_run_variables_win_over_files(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "01-custom").mkdir()
    (tmp_path / "99-default").mkdir()
    (tmp_path / "01-custom" / "env.yaml").write_text(
        "# mine\nKEEPALIVED_PRIORITY: 120\nKEEPALIVED_VIRTUAL_IPS:\n  - 198.18.0.200/32\n  - '198.18.0.201/32'\n")
    (tmp_path / "99-default" / "default.yaml").write_text(
        open(os.path.join(ROOT, "container", "environment", "default.yaml")).read())
    files = entry.load_environment(str(tmp_path))
    assert files["KEEPALIVED_PRIORITY"] == "120"                       # 01-custom before 99-default
    assert files["KEEPALIVED_VIRTUAL_IPS"] == ["198.18.0.200/32", "198.18.0.201/32"]
    assert files["KEEPALIVED_PASSWORD"] == "d0cker" and files["KEEPALIVED_ROUTER_ID"] == "51"
    assert files["KEEPALIVED_COMMAND_LINE_ARGUMENTS"] == "--log-detail --dump-conf"
    settings = entry.Settings({"KEEPALIVED_PRIORITY": "90"}, files)
    assert settings.get("KEEPALIVED_PRIORITY") == "90"                 # podman run -e wins
    assert settings.items("KEEPALIVED_UNICAST_PEERS") == ["192.168.1.10", "192.168.1.11"]
    text = entry.render(TEMPLATE, settings)
    assert "priority 90" in text and "    198.18.0.201/32" in text and "auth_pass d0cker" in text


def test_bad_environment_file_is_reported(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "01").mkdir()
    (tmp_path / "01" / "env.yaml").write_text("  - orphan item\n")
    with pytest.raises(ValueError, match="env.yaml:1"):
        entry.load_environment(str(tmp_path))
