"""Fixtures for the fast-path tests: every test runs on both implementations.

The Cython case FAILS (never skips) when `kvrrp._fastpath` is missing, so a broken build cannot
pass by testing only the pure-Python twin.
"""
from __future__ import annotations

import importlib
import json
import socket
from pathlib import Path

import pytest

VECTORS_DIR = Path(__file__).resolve().parent.parent / "data" / "vectors"

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


def packed(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


@pytest.fixture(scope="session")
def vectors() -> list[dict]:
    return json.loads((VECTORS_DIR / "test-vectors.json").read_text())
