"""keepalived 2.2.7 announcement frames captured on the wire (shared/vectors), for io tests."""
MAC = bytes.fromhex("0200c612000b")
# v2-noauth.pcap: keepalived's gratuitous ARP for 198.18.0.200 from 02:00:c6:12:00:0b
KEEPALIVED_GARP = bytes.fromhex(
    "ffffffffffff0200c612000b08060001080006040001"
    "0200c612000bc61200c8ffffffffffffc61200c8")
# v3-ipv6.pcap: keepalived's unsolicited NA for fe80::200 (Ethernet frame)
KEEPALIVED_NA = bytes.fromhex(
    "3333000000010200c612000b86dd6000000000203aff"
    "fe800000000000000000000000000200ff020000000000000000000000000001"
    "88008d8020000000fe800000000000000000000000000200"
    "02010200c612000b")
