"""Import the parts of pyroute2 kvrrp uses without the rest of pyroute2.

pyroute2's package `__init__` imports the whole library (NDB with sqlite3, IPDB, conntrack,
nftables, ethtool, nl80211, plan9 ...) whichever submodule is asked for: about 6 MB of RSS in
every VRRP process, which needs only the rtnetlink messages and IPRoute (docs/scale.md).

`install()` puts a lazy `pyroute2` package in `sys.modules` before anything imports the real
one: submodules (`pyroute2.netlink.rtnl.ifaddrmsg`, `pyroute2.iproute`) import from the package
directory as usual, and the first access to a name the package itself defines
(`from pyroute2 import NDB`, `pyroute2.__version__`) runs the real `__init__` in that same module
object, so from then on it is exactly the real package. Nothing is left out, only deferred.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType

# Machinery probes these on any module (inspect, mock, pickle, doctest): answering "no" keeps
# them from pulling the whole package in. Real package attributes are never dunders but these.
_PACKAGE_DUNDERS = ("__version__", "__all__")


def install() -> bool:
    """Make `pyroute2` lazy in this process; False when it is imported already (or absent)."""
    if "pyroute2" in sys.modules:
        return False
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    package = importlib.util.module_from_spec(spec)
    lock = threading.RLock()
    state = {"completing": False}

    def complete() -> None:
        """Run the real __init__ once, in the module every importer already holds."""
        with lock:
            if state["completing"] or "__getattr__" not in package.__dict__:
                return
            state["completing"] = True
            try:
                spec.loader.exec_module(package)
            finally:
                state["completing"] = False
            del package.__getattr__   # from here on the real package's own attributes answer

    def lazy_getattr(name: str) -> object:
        if name.startswith("__") and name not in _PACKAGE_DUNDERS:
            raise AttributeError(f"module 'pyroute2' has no attribute {name!r}")
        if not state["completing"]:
            if importlib.util.find_spec(f"pyroute2.{name}") is not None:
                return importlib.import_module(f"pyroute2.{name}")
            complete()
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'pyroute2' has no attribute {name!r}") from None

    package.__getattr__ = lazy_getattr
    sys.modules["pyroute2"] = package
    # the one side effect of the real __init__ that matters before it runs: pyroute2's logger
    # gets its NullHandler (no "No handlers could be found" fallback on stderr)
    importlib.import_module("pyroute2.config.log")
    return True


def is_lazy(module: ModuleType | None = None) -> bool:
    """True while `pyroute2` (or `module`) is the lazy package whose __init__ has not run."""
    module = module if module is not None else sys.modules.get("pyroute2")
    return module is not None and "__getattr__" in module.__dict__
