"""kvrrp: a keepalived-compatible VRRP and IPVS daemon."""

__version__ = "0.1.0"   # the one place: pyproject.toml reads it (tool.setuptools.dynamic)


def version() -> str:
    """The version this code is (what the banner, `--version`, /status and
    kvrrp_build_info say)."""
    return __version__
