"""Build the Cython fast path unless KVRRP_NO_EXTENSIONS=1 asks for a pure-Python install."""
import os

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("KVRRP_NO_EXTENSIONS", "") in ("", "0"):
    from Cython.Build import cythonize

    # -ffp-contract=off: no fused multiply-add, so the timer wheel's tick arithmetic rounds
    # exactly like the pure-Python twin's on every CPU (aarch64 GCC fuses by default).
    fastpath = Extension("kvrrp._fastpath", ["src/kvrrp/_fastpath.pyx"], extra_compile_args=["-O2", "-ffp-contract=off"])
    ext_modules = cythonize(
        [fastpath],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )

setup(ext_modules=ext_modules)
