"""scripts/python-env.sh: which Python scripts/setup, scripts/test and scripts/demo use. An
externally managed python3 (PEP 668, Debian 12's /usr/bin/python3) gets the /opt/kvrrp virtual
environment; PYTHON and KVRRP_VENV override; another python3 (pyenv, a venv) is used as is."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def chosen(path: str, **env: str) -> str:
    base = {"PATH": path, "HOME": os.environ.get("HOME", "/root")}
    p = subprocess.run(["bash", "-c", ". scripts/python-env.sh; echo \"$KVRRP_PY\""], cwd=ROOT,
                       env={**base, **env}, capture_output=True, text=True, timeout=30, check=True)
    return p.stdout.strip()


def _externally_managed(python: str) -> bool:
    code = ("import os, sysconfig; print(os.path.exists(os.path.join(sysconfig.get_path('stdlib'), "
            "'EXTERNALLY-MANAGED')))")
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip() == "True"


@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="no /usr/bin/python3")
def test_debian_system_python_gets_the_venv() -> None:
    expected = "/opt/kvrrp/bin/python3" if _externally_managed("/usr/bin/python3") else "python3"
    assert chosen("/usr/bin:/bin") == expected


def test_overrides_and_other_pythons(tmp_path) -> None:  # noqa: ANN001
    assert chosen("/usr/bin:/bin", PYTHON="/some/python") == "/some/python"
    assert chosen("/usr/bin:/bin", KVRRP_VENV="/srv/kv") == "/srv/kv/bin/python3"
    # a python3 that is not externally managed (this interpreter's directory first on PATH)
    link_dir = tmp_path / "bin"
    link_dir.mkdir()
    os.symlink(sys.executable, link_dir / "python3")
    if not _externally_managed(sys.executable):
        assert chosen(f"{link_dir}:/usr/bin:/bin") == "python3"
    assert chosen("/usr/bin:/bin", VIRTUAL_ENV="/x") == "python3"
