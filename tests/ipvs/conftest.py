"""The IPVS tier: tests that need a kernel with IPVS, run inside scripts/ipvs-vm.

Gating:
* On a host without IPVS (the pyroute2 "IPVS" generic netlink family is missing) every test
  here skips with the reason.
* These tests rewrite the kernel's IPVS table and build namespaces, so even with IPVS present
  they run only inside the VM (KVRRP_IN_IPVS_VM=1, set by scripts/ipvs-vm) or when a
  developer opts in with KVRRP_IPVS_ON_HOST=1 on a throwaway machine.
* Inside the VM nothing may skip: a skip there is turned into a failure, so a broken VM
  (IPVS not loaded, a missing tool) cannot pass the tier silently.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IN_VM = os.environ.get("KVRRP_IN_IPVS_VM") == "1"
ON_HOST_OK = os.environ.get("KVRRP_IPVS_ON_HOST") == "1"

_ipvs_state: dict[str, str | None] = {}


# Tests of the VM runner's own pieces: no IPVS needed, they run anywhere.
NO_IPVS_NEEDED = {"test_vm_runner.py"}


def _in_tier(item: pytest.Item) -> bool:
    path = Path(str(item.fspath)).resolve()
    return HERE in path.parents and path.name not in NO_IPVS_NEEDED


def ipvs_unavailable() -> str | None:
    """Why IPVS cannot be used here, or None. Probed once with pyroute2's IPVS socket."""
    if "reason" not in _ipvs_state:
        reason = None
        if not (IN_VM or ON_HOST_OK):
            reason = ("IPVS tests change the kernel's IPVS table: they run inside "
                      "scripts/ipvs-vm (or set KVRRP_IPVS_ON_HOST=1 on a throwaway machine)")
        elif os.geteuid() != 0:
            reason = "IPVS tests need root"
        else:
            try:
                from pyroute2 import IPVS
                with IPVS() as sock:
                    sock.service("dump")
            except Exception as exc:  # noqa: BLE001 - any failure means "no usable IPVS"
                reason = f"no IPVS in this kernel (pyroute2 IPVS: {exc!r})"
        _ipvs_state["reason"] = reason
    return _ipvs_state["reason"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _in_tier(item):
            item.add_marker(pytest.mark.ipvs)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _in_tier(item):
        reason = ipvs_unavailable()
        if reason:
            pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_VM and _in_tier(item) and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped inside the IPVS VM, where every IPVS test must run: {reason}"


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def clean_ipvs():
    """An empty IPVS table before and after the test (only ever inside the VM or opt-in)."""
    from ipvs_lab import ipvsadm

    assert ipvs_unavailable() is None
    ipvsadm("-C")
    yield
    ipvsadm("-C")
