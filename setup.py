"""Build the Cython fast path unless KVRRP_NO_EXTENSIONS=1 asks for a pure-Python install."""
import os

from setuptools import setup

ext_modules = []
if os.environ.get("KVRRP_NO_EXTENSIONS", "") in ("", "0"):
    from Cython.Build import cythonize

    ext_modules = cythonize(
        ["src/kvrrp/_fastpath.pyx"],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )

setup(ext_modules=ext_modules)
