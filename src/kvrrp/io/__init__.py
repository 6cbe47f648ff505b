"""The only code that touches the kernel: sockets, netlink, ARP/NA, scripts."""
from kvrrp.io import pyroute2_parts

# Before any io module imports pyroute2: only the submodules used are loaded (about 6 MB less
# RSS per process; the rest of pyroute2 loads on first use of a package-level name).
pyroute2_parts.install()
