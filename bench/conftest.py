"""pytest-benchmark suites for kvrrp (opt-in: `pytest tests` never collects bench/).

Files here are named bench_*.py so the normal test run ignores them; this hook collects the
pytest suites among them (files that import pytest) when the bench/ directory itself is given:
`python3 -m pytest bench --benchmark-only` runs them all. Naming a file explicitly works
without it. Standalone scripts (bench_failover.py, bench_ipvs.py) are not collected.
"""
from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent
_MODULES = {"python": "kvrrp._fastpath_py", "cython": "kvrrp._fastpath"}


def pytest_collect_file(file_path: Path, parent):
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and file_path.parent == BENCH_DIR and not parent.session.isinitpath(file_path)
            and "import pytest" in file_path.read_text(errors="replace")):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def load_impl(name: str):
    try:
        return importlib.import_module(_MODULES[name])
    except ImportError as exc:
        pytest.fail(f"{_MODULES[name]} did not import ({exc}); build it: python3 setup.py build_ext --inplace",
                    pytrace=False)


@pytest.fixture(scope="session", params=["python", "cython"])
def impl(request):
    """Both fast-path implementations, side by side; the Cython case fails if it is not built."""
    return load_impl(request.param)


def versions() -> dict:
    import kvrrp
    info = {"python": sys.version.split()[0], "kvrrp": kvrrp.__version__, "machine": platform.machine()}
    try:
        import Cython
        info["cython"] = Cython.__version__
    except ImportError:
        info["cython"] = None
    return info


@pytest.fixture
def record(benchmark):
    """Tag a benchmark with its group, implementation, item count and the versions that ran."""
    def tag(group: str, implementation: str, items: int = 1, **extra):
        benchmark.group = group
        benchmark.extra_info.update(versions())
        benchmark.extra_info.update(implementation=implementation, items=items, **extra)
    return tag
