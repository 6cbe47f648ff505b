"""kvrrp.io.pyroute2_parts: the VRRP process loads only the pyroute2 submodules it uses, and
pyroute2 stays whole for anyone who asks for more.

Each case runs in a fresh interpreter (the pytest process has pyroute2 loaded already, and the
point is what a new process imports)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")


def run(code: str) -> dict:
    env = dict(os.environ, PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_io_modules_load_rtnetlink_without_the_rest_of_pyroute2():
    got = run("""
        import json, sys
        import kvrrp.io.addresses, kvrrp.io.netlink, kvrrp.io.vmac
        from pyroute2.iproute import AsyncIPRoute, IPRoute
        from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
        from kvrrp.io.pyroute2_parts import is_lazy
        print(json.dumps({"lazy": is_lazy(), "mods": sorted(sys.modules),
                          "iproute": IPRoute.__module__, "msg": ifaddrmsg.__name__}))
    """)
    assert got["lazy"] is True
    assert got["iproute"] == "pyroute2.iproute.linux" and got["msg"] == "ifaddrmsg"
    heavy = [m for m in got["mods"] if m in ("sqlite3", "pyroute2.ndb", "pyroute2.ipdb", "pyroute2.conntrack",
                                             "pyroute2.nftables", "pyroute2.ethtool", "pyroute2.netlink.nl80211")]
    assert heavy == []
    assert "pyroute2.config.log" in got["mods"]      # its logger has the NullHandler as before


def test_a_package_level_name_completes_the_real_package():
    got = run("""
        import json, sys, importlib.metadata
        import kvrrp.io.addresses
        import pyroute2
        from pyroute2.iproute import IPRoute
        from kvrrp.io.pyroute2_parts import is_lazy
        before = is_lazy()
        from pyroute2 import NDB, IPRoute as top, NetlinkError
        from pyroute2.netlink.exceptions import NetlinkError as deep
        print(json.dumps({"before": before, "after": is_lazy(), "same": top is IPRoute and NetlinkError is deep,
                          "ndb": "pyroute2.ndb" in sys.modules, "all": len(pyroute2.__all__),
                          "version": pyroute2.__version__ == importlib.metadata.version("pyroute2")}))
    """)
    assert got == {"before": True, "after": False, "same": True, "ndb": True, "all": got["all"], "version": True}
    assert got["all"] > 20


def test_version_and_submodule_attributes_through_the_lazy_package():
    got = run("""
        import json
        import kvrrp.io
        import pyroute2
        from kvrrp.io.pyroute2_parts import is_lazy
        ipvs = pyroute2.ipvs                       # a submodule as an attribute: imported, still lazy
        lazy_after_submodule = is_lazy()
        missing = hasattr(pyroute2, "no_such_name")  # completes, then answers like the real package
        dunder = hasattr(pyroute2, "__wrapped__")
        print(json.dumps({"ipvs": ipvs.__name__, "lazy_after_submodule": lazy_after_submodule,
                          "missing": missing, "dunder": dunder, "lazy_end": is_lazy()}))
    """)
    assert got == {"ipvs": "pyroute2.ipvs", "lazy_after_submodule": True, "missing": False, "dunder": False,
                   "lazy_end": False}


def test_install_leaves_an_imported_pyroute2_alone():
    got = run("""
        import json
        import pyroute2
        from kvrrp.io import pyroute2_parts
        print(json.dumps({"installed": pyroute2_parts.install(), "lazy": pyroute2_parts.is_lazy(),
                          "ndb": hasattr(pyroute2, "NDB")}))
    """)
    assert got == {"installed": False, "lazy": False, "ndb": True}
