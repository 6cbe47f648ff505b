"""Fault injection for the chaos tier (tests/chaos) and the long campaign
(bench/chaos_campaign.py): fuzzed VRRP frames sent on a lab LAN (packets), packet loss and
partitions with nftables (netfault), config mutation (configs), and what a daemon shows
from outside: status, processes, descriptors, tracebacks (observe). Only for namespaces a
kvrrp.lab.Lab built."""
