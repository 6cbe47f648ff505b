"""Fixtures for the fast-path tests: every test runs on both implementations.

The Cython case FAILS (never skips) when `kvrrp._fastpath` is missing, so a broken build cannot
pass by testing only the pure-Python twin.
"""
from __future__ import annotations

import importlib

import pytest

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
