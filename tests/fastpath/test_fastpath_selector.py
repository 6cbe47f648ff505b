"""kvrrp.fastpath picks the implementation as documented, and fails loudly when told to."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kvrrp

SRC_ROOT = str(Path(kvrrp.__file__).resolve().parent.parent)
BLOCK_CYTHON = "import sys; sys.modules['kvrrp._fastpath'] = None; "  # makes its import fail


def run(code: str, **env_extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("KVRRP_NO_EXTENSIONS", "KVRRP_REQUIRE_EXTENSIONS")}
    env["PYTHONPATH"] = SRC_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_default_is_cython():
    r = run("import kvrrp.fastpath as f; print(f.IMPLEMENTATION, f.TimerWheel.__module__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["cython", "kvrrp._fastpath"]


def test_no_extensions_gives_python():
    r = run("import kvrrp.fastpath as f; print(f.IMPLEMENTATION, f.decode_advert.__module__)",
            KVRRP_NO_EXTENSIONS="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["python", "kvrrp._fastpath_py"]


BREAK_CYTHON = (
    "import sys\n"
    "class Broken:\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name == 'kvrrp._fastpath': raise ImportError('undefined symbol: PyFoo')\n"
    "sys.meta_path.insert(0, Broken())\n"
)


def test_pure_python_install_falls_back_quietly():
    r = run(BLOCK_CYTHON + "import kvrrp.fastpath as f; print(f.IMPLEMENTATION)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "python"
    assert r.stderr == ""


def test_broken_module_falls_back_with_a_warning():
    r = run(BREAK_CYTHON + "import kvrrp.fastpath as f; print(f.IMPLEMENTATION)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "python"
    assert "Cython fast path unavailable (undefined symbol: PyFoo)" in r.stderr


def test_require_extensions_makes_a_broken_module_fatal():
    r = run(BREAK_CYTHON + "import kvrrp.fastpath", KVRRP_REQUIRE_EXTENSIONS="1")
    assert r.returncode != 0 and "undefined symbol: PyFoo" in r.stderr


def test_require_extensions_makes_a_missing_module_fatal():
    r = run(BLOCK_CYTHON + "import kvrrp.fastpath", KVRRP_REQUIRE_EXTENSIONS="1")
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "KVRRP_REQUIRE_EXTENSIONS=1" in r.stderr


def test_require_and_no_extensions_contradict():
    r = run("import kvrrp.fastpath", KVRRP_REQUIRE_EXTENSIONS="1", KVRRP_NO_EXTENSIONS="1")
    assert r.returncode != 0 and "contradict" in r.stderr


def test_both_implementations_export_the_same_api(both):
    py, cy = both
    assert py.__all__ == cy.__all__
    for name in py.__all__:
        assert hasattr(py, name) and hasattr(cy, name), name
    assert py.DROP_REASONS == cy.DROP_REASONS
    import kvrrp.fastpath as selected
    for name in ("IMPLEMENTATION", "inet_checksum", "pseudo_sum_ipv4", "pseudo_sum_ipv6", "Advert",
                 "Drop", "DROP_REASONS", "decode_advert", "encode_advert", "TimerWheel",
                 "InstanceSlot", "ReceiveTable", "SocketReader", "SocketSender", "fire_adverts",
                 "receive_batch"):
        assert hasattr(selected, name), name


def test_cython_case_errors_instead_of_skipping_when_the_module_is_missing():
    """The impl fixture's Cython param must fail loudly, never skip, without the extension."""
    here = Path(__file__).resolve().parent
    code = (BLOCK_CYTHON + "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
            f"'{here / 'test_fastpath_checksum.py'}::test_rfc1071_worked_example']))")
    r = run(code)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 passed, 1 error" in r.stdout and "skipped" not in r.stdout
    assert "kvrrp._fastpath) did not import" in r.stdout
