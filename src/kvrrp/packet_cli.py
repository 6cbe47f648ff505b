"""`kvrrp packet`: decode and encode VRRP advertisements for operators.

    kvrrp packet decode HEX... [--src IP --dst IP] [--family 4|6] [--input auto|vrrp|ip|ether|sll]
    kvrrp packet decode --pcap FILE          (every VRRP frame of a capture, one JSON per line)
    kvrrp packet encode --version 2|3 --vrid N [--priority N] --addr IP ... [--adver-int S]
                        [--auth-pass X | --auth-ah] [--src IP] [--dst IP] [--ip]

HEX may be a bare VRRP message, a full IPv4/IPv6 packet (src, dst and TTL are then taken from
its header, AH is stepped over), an Ethernet or Linux-cooked frame, or `tcpdump -x`/`-xx`
output pasted as is (offsets and header lines are ignored); `-` or no HEX reads stdin.

Exit status: 0 decoded an advertisement (or encoded one), 1 the message was dropped (its JSON
still names the reason), 2 bad input or options (a message on stderr says what is wrong).
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import re
import socket
import struct
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kvrrp import fastpath
from kvrrp.wire import (IPPROTO_AH, IPPROTO_VRRP, VRRP_GROUP, IpVrrp, MalformedPacket, NotThisFormat,
                        vrrp_in_frame, vrrp_in_ip)

MCAST_GROUP = VRRP_GROUP
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}


# Operator input that cannot be used (the message is shown as is): a malformed packet is one
InputError = MalformedPacket


@dataclass(frozen=True)
class Extracted:
    """The VRRP message found in some input, with what its IP header said (if there was one)."""

    payload: bytes
    family: int | None = None
    src: bytes | None = None
    dst: bytes | None = None
    ttl: int | None = None
    protocol: int | None = None    # 112 (VRRP) or 51 (AH carrying VRRP)
    link: str | None = None        # "ether" or "sll" when a link-layer header was stripped


# --------------------------------------------------------------------------------------------
# hex input
# --------------------------------------------------------------------------------------------

_OFFSET_LINE = re.compile(r"^\s*0x[0-9a-fA-F]{4,}:\s+(.*)$")  # tcpdump's "\t0x0010:  4500 ..."
_HEX_GROUP = re.compile(r"[0-9a-fA-F]{2}|[0-9a-fA-F]{4}")


def parse_hex(text: str) -> bytes:
    """Bytes from plain hex (spaces, ':' and '-' separators allowed, optional 0x) or from
    `tcpdump -x/-xx/-X` output, whose offset prefixes, header lines and ASCII column are dropped."""
    lines = text.splitlines()
    dump = [m.group(1) for m in map(_OFFSET_LINE.match, lines) if m]
    if dump:
        digits = []
        for rest in dump:
            # At most 8 groups of 4 digits per line, single-spaced; -X appends an ASCII column
            # after two or more spaces.
            hex_area = re.split(r"\s{2,}", rest.strip(), maxsplit=1)[0]
            for token in hex_area.split()[:8]:
                if not _HEX_GROUP.fullmatch(token):
                    break
                digits.append(token)
        cleaned = "".join(digits)
    else:
        cleaned = re.sub(r"[\s:\-]", "", text)
        if cleaned[:2].lower() == "0x":
            cleaned = cleaned[2:]
    if not cleaned:
        raise InputError("no hex bytes given")
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        raise InputError(f"not hex: {bad.group(0)!r} at position {bad.start()}")
    if len(cleaned) % 2:
        raise InputError(f"odd number of hex digits ({len(cleaned)})")
    return bytes.fromhex(cleaned)


# --------------------------------------------------------------------------------------------
# finding the VRRP message in a frame or packet
# --------------------------------------------------------------------------------------------

def _found(ip: IpVrrp, link: str | None = None) -> Extracted:
    return Extracted(ip.payload, ip.family, ip.src, ip.dst, ip.ttl, ip.protocol, link)


def parse_ip(data: bytes) -> Extracted:
    return _found(vrrp_in_ip(data))


def parse_ether(data: bytes) -> Extracted:
    return _found(vrrp_in_frame(data, 12, "ether"), "ether")


def parse_sll(data: bytes) -> Extracted:
    """Linux cooked capture (tcpdump -i any): 16-byte header, protocol in its last 2 bytes."""
    return _found(vrrp_in_frame(data, 14, "sll"), "sll")


def extract(data: bytes, kind: str = "auto") -> Extracted:
    """Find the VRRP message in `data`. `auto` tries link-layer frames, then IP, then bare VRRP
    (a bare VRRP message starts with version 2 or 3, an IP packet with 4 or 6)."""
    if kind == "vrrp":
        return Extracted(data)
    if kind == "ip":
        return parse_ip(data)
    if kind == "ether":
        return parse_ether(data)
    if kind == "sll":
        return parse_sll(data)
    parsers = [parse_ip] if data and data[0] >> 4 in (4, 6) else []
    parsers += [parse_ether, parse_sll]
    errors = []
    for parser in parsers:
        try:
            return parser(data)
        except NotThisFormat:
            pass
        except InputError as exc:   # it looked like this format but is not VRRP in it
            errors.append(exc)
    if errors:
        raise errors[0]
    return Extracted(data)


# --------------------------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------------------------

def _packed(text: str, what: str) -> tuple[int, bytes]:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an IP address") from None
    return addr.version, addr.packed


def _text(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(packed) == 16 else socket.AF_INET, packed)


def _guess_family(payload: bytes) -> int:
    """Family of a bare message: v2 is IPv4 only; for v3 the count field says which address size
    makes the length add up (IPv4 when both or neither do)."""
    if len(payload) >= 8 and payload[0] >> 4 == 3:
        count = payload[3]
        if count and len(payload) == 8 + 16 * count:
            return 6
    return 4


def describe(result, family: int) -> dict:
    """The operator-facing JSON of a decode result."""
    if isinstance(result, fastpath.Drop):
        return {"drop": result.reason}
    out = {
        "version": result.version,
        "type": result.type,
        "vrid": result.vrid,
        "priority": result.priority,
        "count": result.count,
        "auth_type": result.auth_type,
    }
    if result.version == 2:
        if result.auth_type == 1:
            out["auth_data"] = result.auth_data.rstrip(b"\0").decode("utf-8", "backslashreplace")
        out["adver_int"] = result.adver_int
    else:
        out["max_adver_int_cs"] = result.adver_int
    out["checksum"] = result.checksum
    out["checksum_hex"] = f"0x{result.checksum:04x}"
    out["checksum_ok"] = result.checksum_ok
    out["family"] = family
    out["addresses"] = [_text(a) for a in result.addresses]
    return out


def decode_extracted(found: Extracted, src: str | None = None, dst: str | None = None,
                     family: int | None = None, v3_checksum_as_v2: bool = False) -> dict:
    """Decode a located message; command-line src/dst/family override the IP header's."""
    psrc, pdst = found.src, found.dst
    fam = family or found.family
    for text, what in ((src, "--src"), (dst, "--dst")):
        if text is None:
            continue
        ver, packed = _packed(text, what)
        if fam and ver != fam:
            raise InputError(f"{what} {text} is IPv{ver} but the packet is IPv{fam}")
        fam = ver
        if what == "--src":
            psrc = packed
        else:
            pdst = packed
    if fam is None:
        fam = _guess_family(found.payload)
    if (psrc is None) != (pdst is None):
        raise InputError("give both --src and --dst (the v3 checksum pseudo-header needs both)")
    result = fastpath.decode_advert(found.payload, fam, psrc, pdst, v3_checksum_as_v2=v3_checksum_as_v2)
    out = describe(result, fam)
    if found.protocol is not None:
        out["ip"] = {
            "family": found.family,
            "src": _text(found.src),
            "dst": _text(found.dst),
            "ttl": found.ttl,
            "protocol": "ah" if found.protocol == IPPROTO_AH else "vrrp",
        }
        if found.link:
            out["ip"]["link"] = found.link
        if found.ttl != 255:
            out.setdefault("warnings", []).append(
                f"TTL/hop limit {found.ttl} is not 255: RFC 3768/5798 receivers discard this packet")
    if isinstance(result, fastpath.Advert) and result.checksum_ok is None:
        out.setdefault("warnings", []).append(
            "v3 checksum not verified: give --src and --dst, or paste the whole IP packet")
    return out


def _decode_main(args: argparse.Namespace) -> int:
    if args.pcap:
        if args.hex:
            raise InputError("give either HEX or --pcap, not both")
        return _decode_pcap(args)
    text = " ".join(args.hex) if args.hex and args.hex != ["-"] else sys.stdin.read()
    found = extract(parse_hex(text), args.input)
    out = decode_extracted(found, args.src, args.dst, args.family, args.v3_checksum_as_v2)
    print(json.dumps(out, indent=None if args.compact else 2))
    return 1 if "drop" in out else 0


# --------------------------------------------------------------------------------------------
# pcap files
# --------------------------------------------------------------------------------------------

_LINKTYPES = {1: "ether", 113: "sll", 101: "ip", 12: "ip", 228: "ip", 229: "ip"}


def read_pcap(path: str):
    """Yield (frame number, timestamp, link kind, bytes) from a classic libpcap file, streaming
    (captures can be large)."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        header = fh.read(24)
        if len(header) < 24:
            raise InputError(f"{path}: not a pcap file (too short)")
        magic = header[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        elif magic == b"\x0a\x0d\x0d\x0a":
            raise InputError(f"{path}: pcapng is not supported; convert with `editcap -F pcap`")
        else:
            raise InputError(f"{path}: not a pcap file (magic {magic.hex()})")
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack_from(endian + "I", header, 20)[0] & 0x0FFFFFFF
        kind = _LINKTYPES.get(linktype)
        if kind is None:
            raise InputError(f"{path}: link type {linktype} is not supported (Ethernet, Linux cooked, raw IP)")
        record = struct.Struct(endian + "IIII")
        frame = 0
        while len(rec := fh.read(16)) == 16:
            sec, frac, caplen, _ = record.unpack(rec)
            data = fh.read(caplen)
            frame += 1
            yield frame, sec + frac / (1e9 if nano else 1e6), kind, data


def _decode_pcap(args: argparse.Namespace) -> int:
    shown = dropped = skipped = 0
    for frame, stamp, kind, data in read_pcap(args.pcap):
        try:
            found = extract(data, kind)
        except InputError:
            skipped += 1  # not VRRP (ARP, IGMP, MLD, ...)
            continue
        out = {"frame": frame, "time": round(stamp, 6)}
        out.update(decode_extracted(found, args.src, args.dst, args.family, args.v3_checksum_as_v2))
        print(json.dumps(out))
        shown += 1
        dropped += "drop" in out
    print(f"kvrrp packet: {shown} VRRP frames ({dropped} dropped), {skipped} other frames skipped",
          file=sys.stderr)
    return 1 if dropped else 0


# --------------------------------------------------------------------------------------------
# encode
# --------------------------------------------------------------------------------------------

def _adver_int(version: int, seconds: str) -> int:
    try:
        value = Decimal(seconds)
    except InvalidOperation:
        raise InputError(f"--adver-int {seconds!r} is not a number of seconds") from None
    if version == 2:
        if value != value.to_integral_value() or not 1 <= value <= 255:
            raise InputError(f"--adver-int for VRRPv2 is whole seconds 1..255, got {seconds}")
        return int(value)
    cs = value * 100
    if cs != cs.to_integral_value() or not 1 <= cs <= 4095:
        raise InputError(f"--adver-int for VRRPv3 is 0.01..40.95 seconds in 0.01 steps, got {seconds}")
    return int(cs)


def ip_header(family: int, src: bytes, dst: bytes, payload_len: int) -> bytes:
    """A minimal IP header as keepalived sends it: TTL/hop limit 255, protocol 112 (IPv4 TOS
    0xc0, internetwork control)."""
    if family == 4:
        hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + payload_len, 0, 0, 255,
                                    IPPROTO_VRRP, 0, src, dst))
        csum = fastpath.inet_checksum(hdr)
        hdr[10:12] = csum.to_bytes(2, "big")
        return bytes(hdr)
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, IPPROTO_VRRP, 255, src, dst)


def _encode_main(args: argparse.Namespace) -> int:
    family = args.family
    addrs = []
    for text in args.addr:
        ver, packed = _packed(text, "--addr")
        if family and ver != family:
            raise InputError(f"--addr {text} is IPv{ver}, expected IPv{family}")
        family = ver
        addrs.append(packed)
    if family is None:
        family = 4
    if args.version == 2 and family == 6:
        raise InputError("VRRPv2 is IPv4 only (RFC 3768); use --version 3 for IPv6")
    if len(addrs) > 255:
        raise InputError(f"at most 255 --addr, got {len(addrs)}")
    src = dst = None
    if args.src:
        ver, src = _packed(args.src, "--src")
        if ver != family:
            raise InputError(f"--src {args.src} is IPv{ver}, the addresses are IPv{family}")
    dst_text = args.dst or MCAST_GROUP[family]
    ver, dst = _packed(dst_text, "--dst")
    if ver != family:
        raise InputError(f"--dst {dst_text} is IPv{ver}, the addresses are IPv{family}")
    auth_type, auth_data = 0, b""
    if args.auth_pass is not None and args.auth_ah:
        raise InputError("--auth-pass and --auth-ah exclude each other")
    if args.version == 3 and (args.auth_pass is not None or args.auth_ah):
        raise InputError("VRRPv3 has no authentication (RFC 5798); drop --auth-pass/--auth-ah")
    if args.auth_pass is not None:
        auth_type, auth_data = 1, args.auth_pass.encode()
        if len(auth_data) > 8:
            raise InputError(f"--auth-pass is at most 8 bytes (keepalived truncates longer ones), "
                             f"got {len(auth_data)}")
    elif args.auth_ah:
        auth_type = 2
    as_v2 = args.v3_checksum_as_v2 and args.version == 3 and family == 4
    if args.version == 3 and src is None and not as_v2:
        raise InputError("VRRPv3 needs --src for the checksum pseudo-header")
    if args.ip and src is None:
        raise InputError("--ip needs --src for the IP header")
    if args.ip and auth_type == 2:
        raise InputError("--ip cannot build an AH packet (that needs IPsec keys); encode the "
                         "VRRP message alone")
    try:
        msg = fastpath.encode_advert(args.version, args.vrid, args.priority, addrs,
                                     _adver_int(args.version, args.adver_int), family=family,
                                     auth_type=auth_type, auth_data=auth_data, src=src, dst=dst,
                                     v3_checksum_as_v2=as_v2)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.ip:
        msg = ip_header(family, src, dst, len(msg)) + msg
    print(msg.hex())
    return 0


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kvrrp packet", description="Decode or encode VRRP advertisements.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("decode", help="decode hex (VRRP message, IP packet, frame or tcpdump -x) to JSON",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("hex", nargs="*", help="hex bytes; '-' or nothing reads stdin")
    d.add_argument("--src", help="IP source for the v3 checksum pseudo-header (overrides the IP header)")
    d.add_argument("--dst", help="IP destination for the v3 checksum pseudo-header")
    d.add_argument("--family", type=int, choices=(4, 6), help="address family of a bare VRRP message")
    d.add_argument("--input", choices=("auto", "vrrp", "ip", "ether", "sll"), default="auto",
                   help="what the hex is (default: detect)")
    d.add_argument("--pcap", help="decode every VRRP frame of a libpcap file (JSON lines)")
    d.add_argument("--compact", action="store_true", help="one-line JSON")
    d.add_argument("--v3-checksum-as-v2", action="store_true",
                   help="v3 IPv4 checksum without pseudo-header (keepalived's v3_checksum_as_v2)")

    e = sub.add_parser("encode", help="build an advertisement and print it as hex")
    e.add_argument("--version", type=int, choices=(2, 3), default=2, help="VRRP version (default 2)")
    e.add_argument("--vrid", type=int, required=True, help="virtual router id 1..255")
    e.add_argument("--priority", type=int, default=100, help="priority 0..255 (default 100)")
    e.add_argument("--addr", action="append", default=[], help="virtual address (repeat, up to 255)")
    e.add_argument("--adver-int", default="1", help="advert interval in seconds (v3: 0.01 steps; default 1)")
    e.add_argument("--auth-pass", help="v2 simple password (auth type 1), up to 8 bytes")
    e.add_argument("--auth-ah", action="store_true", help="v2 auth type 2 (IPsec AH; zero auth data)")
    e.add_argument("--family", type=int, choices=(4, 6), help="family when no --addr is given")
    e.add_argument("--src", help="source address (v3 pseudo-header, --ip header)")
    e.add_argument("--dst", help="destination (default: the VRRP multicast group)")
    e.add_argument("--ip", action="store_true", help="prepend an IP header (TTL 255), as on the wire")
    e.add_argument("--v3-checksum-as-v2", action="store_true",
                   help="v3 IPv4 checksum without pseudo-header (keepalived's v3_checksum_as_v2)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage or help
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "decode":
            return _decode_main(args)
        return _encode_main(args)
    except InputError as exc:
        print(f"kvrrp packet {args.command}: error: {exc}", file=sys.stderr)
        return 2
