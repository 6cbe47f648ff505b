"""Suite-wide fixtures and tier gating.

The root tier (network namespaces, raw sockets) skips only when not root; CI runs as root,
and `KVRRP_REQUIRE_ROOT_TIER=1` turns such a skip into a failure so it cannot pass silently.
"""
from __future__ import annotations

import importlib
import os
import shutil

import pytest


def _require(reason: str) -> None:
    if os.environ.get("KVRRP_REQUIRE_ROOT_TIER") == "1":
        pytest.fail(f"root tier required but unavailable: {reason}")
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and os.geteuid() != 0:
        _require("needs root for network namespaces")
    if item.get_closest_marker("keepalived") and shutil.which("keepalived") is None:
        _require("needs the keepalived binary (apt-get install keepalived)")
    if item.get_closest_marker("frr") and not os.access("/usr/lib/frr/vrrpd", os.X_OK):
        _require("needs FRR's vrrpd and zebra (apt-get install frr)")
    if item.get_closest_marker("container") and not all(shutil.which(t) for t in ("podman", "runc", "mmdebstrap")):
        _require("needs podman, runc and mmdebstrap (scripts/setup installs them)")


# -- the fast path's two implementations (tests/fastpath, tests/packet) -----------------------
# Every fast-path test runs on both; the Cython case FAILS (never skips) when kvrrp._fastpath is
# missing, so a broken build cannot pass by testing only the pure-Python twin.
IMPLEMENTATIONS = ("python", "cython")
_MODULES = {"python": "kvrrp._fastpath_py", "cython": "kvrrp._fastpath"}


def load_impl(name: str):
    try:
        return importlib.import_module(_MODULES[name])
    except ImportError as exc:
        pytest.fail(f"the {name} fast path ({_MODULES[name]}) did not import: {exc}. "
                    "Build it: python3 setup.py build_ext --inplace", pytrace=False)


@pytest.fixture(scope="session", params=IMPLEMENTATIONS)
def impl(request):
    """The fast-path module under test: kvrrp._fastpath_py, then kvrrp._fastpath."""
    return load_impl(request.param)


@pytest.fixture(scope="session")
def both():
    """(python, cython) for parity tests."""
    return load_impl("python"), load_impl("cython")


@pytest.fixture
def make_script(tmp_path):
    """make(name, body): an executable /bin/sh script in the test's bin/ directory; its path."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)

    def make(name, body):
        p = d / name
        p.write_text("#!/bin/sh\n" + body)
        os.chmod(p, 0o755)
        return str(p)
    return make
