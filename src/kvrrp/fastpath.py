"""The fast path the rest of kvrrp imports: the Cython build when it is there, else the twin.

`KVRRP_NO_EXTENSIONS=1` forces the pure-Python reference. `KVRRP_REQUIRE_EXTENSIONS=1` turns a
missing or broken Cython module into an ImportError instead of a silent fallback (CI sets it,
so a broken build cannot pass by testing only Python). `IMPLEMENTATION` says which one loaded.
See FASTPATH_API.md / docs/fastpath.md for the contract both implementations follow.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger("kvrrp.fastpath")


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


if _flag("KVRRP_NO_EXTENSIONS"):
    if _flag("KVRRP_REQUIRE_EXTENSIONS"):
        raise ImportError("KVRRP_NO_EXTENSIONS=1 and KVRRP_REQUIRE_EXTENSIONS=1 contradict each other")
    from kvrrp._fastpath_py import *  # noqa: F401,F403
    from kvrrp._fastpath_py import __all__  # noqa: F401
else:
    try:
        from kvrrp._fastpath import *  # noqa: F401,F403
        from kvrrp._fastpath import __all__  # noqa: F401
    except ImportError as exc:
        if _flag("KVRRP_REQUIRE_EXTENSIONS"):
            raise ImportError(
                f"KVRRP_REQUIRE_EXTENSIONS=1 but the Cython fast path kvrrp._fastpath did not load: {exc}. "
                "Build it with `python3 setup.py build_ext --inplace` or `pip install -e .`"
            ) from exc
        # A pure-Python install simply has no module (info); a module that exists but does not
        # load (ABI mismatch, missing symbol) is a broken build worth a warning.
        level = logging.INFO if isinstance(exc, ModuleNotFoundError) else logging.WARNING
        log.log(level, "Cython fast path unavailable (%s); using the pure-Python reference", exc)
        from kvrrp._fastpath_py import *  # noqa: F401,F403
        from kvrrp._fastpath_py import __all__  # noqa: F401

log.debug("fast path implementation: %s", IMPLEMENTATION)  # noqa: F405
