"""The fast path the VRRP engine uses: kvrrp.fastpath (Cython or reference), or the pure-Python
reference directly while the selector module is not importable."""
from __future__ import annotations

try:
    from kvrrp import fastpath as fastpath
except ImportError:                      # selector not built/landed yet: same API, Python only
    from kvrrp import _fastpath_py as fastpath

__all__ = ["fastpath"]
