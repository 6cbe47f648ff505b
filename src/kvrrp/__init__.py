"""kvrrp: a keepalived-compatible VRRP and IPVS daemon."""

__version__ = "0.1.0"
