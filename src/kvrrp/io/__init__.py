"""The only code that touches the kernel: sockets, netlink, ARP/NA, scripts."""
