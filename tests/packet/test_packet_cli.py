"""`kvrrp packet decode/encode`, in process on both implementations and once via subprocess."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import kvrrp
from kvrrp import packet_cli

VECTORS_DIR = Path(__file__).resolve().parent.parent / "data" / "vectors"

VECTORS = json.loads((VECTORS_DIR / "test-vectors.json").read_text())
V2_PASS = next(v for v in VECTORS if v["file"] == "v2-pass.pcap")
V2_AH = next(v for v in VECTORS if v["file"] == "v2-ah.pcap")
V3_V4 = next(v for v in VECTORS if v["file"] == "v3-ipv4.pcap")
V3_V6 = next(v for v in VECTORS if v["file"] == "v3-ipv6.pcap")
V3_FAST = next(v for v in VECTORS if v["file"] == "v3-ipv4-a0.1.pcap")


@pytest.fixture
def cli(impl, monkeypatch, capsys):
    """Run `kvrrp packet ARGS` in process with the fast path under test; (rc, json|None, stderr)."""
    monkeypatch.setattr(packet_cli, "fastpath", impl)

    def run(*args, stdin=None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", __import__("io").StringIO(stdin))
        rc = packet_cli.main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err
    return run


def decoded(out: str):
    return json.loads(out)


def full_packet(vec) -> str:
    return vec["ip_header_hex"] + vec.get("ah_hex", "") + vec["vrrp_hex"]


def tcpdump_x(data: bytes, ascii_column=False) -> str:
    """Text in the layout of `tcpdump -x` (or -X with the ASCII column), with a header line."""
    lines = ["23:37:35.039633 IP 198.18.0.11 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 150"]
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        groups = " ".join(chunk[i:i + 2].hex() for i in range(0, len(chunk), 2))
        line = f"\t0x{off:04x}:  {groups}"
        if ascii_column:
            line = f"{line:<51}  " + "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(line)
    return "\n".join(lines) + "\n"


# -- decode -----------------------------------------------------------------------------------

@pytest.mark.parametrize("vec", VECTORS, ids=lambda v: f"{v['file']}-{v['priority']}")
def test_decode_every_vector_bare_with_src_dst(cli, vec):
    rc, out, err = cli("decode", vec["vrrp_hex"], "--src", vec["src"], "--dst", vec["dst"])
    assert rc == 0, err
    got = decoded(out)
    for field in ("version", "type", "vrid", "priority", "count", "checksum", "addresses"):
        assert got[field] == vec[field], field
    assert got["checksum_ok"] is True
    assert got["checksum_hex"] == f"0x{vec['checksum']:04x}"
    if vec["version"] == 2:
        assert got["adver_int"] == vec["adver_int_s"] and "max_adver_int_cs" not in got
        assert got["auth_type"] == vec["auth_type"]
        assert got.get("auth_data") == vec.get("auth_data")
    else:
        assert got["max_adver_int_cs"] == vec["max_adver_int_cs"] and "adver_int" not in got


@pytest.mark.parametrize("vec", VECTORS, ids=lambda v: f"{v['file']}-{v['priority']}")
def test_decode_full_ip_packet_takes_src_dst_ttl_from_header(cli, vec):
    rc, out, err = cli("decode", full_packet(vec))
    assert rc == 0, err
    got = decoded(out)
    assert got["checksum_ok"] is True and got["priority"] == vec["priority"]
    assert got["ip"]["src"] == vec["src"] and got["ip"]["dst"] == vec["dst"]
    assert got["ip"]["ttl"] == 255 and got["ip"]["family"] == vec["af"]
    assert got["ip"]["protocol"] == ("ah" if vec.get("auth_type") == 2 else "vrrp")
    assert "warnings" not in got


def test_decode_pasted_tcpdump_x_output(cli):
    text = tcpdump_x(bytes.fromhex(full_packet(V3_V6)))
    rc, out, err = cli("decode", stdin=text)
    assert rc == 0, err
    assert decoded(out)["addresses"] == ["fe80::200"] and decoded(out)["checksum_ok"] is True


def test_decode_tcpdump_X_output_ignores_ascii_column(cli):
    rc, out, err = cli("decode", "-", stdin=tcpdump_x(bytes.fromhex(full_packet(V2_PASS)), ascii_column=True))
    assert rc == 0, err
    assert decoded(out)["auth_data"] == "kvpass12"


def test_decode_hex_with_separators_and_split_arguments(cli):
    hexstr = V3_V4["ip_header_hex"] + V3_V4["vrrp_hex"]
    spaced = " ".join(hexstr[i:i + 4] for i in range(0, len(hexstr), 4))
    rc, out, _ = cli("decode", *spaced.split())
    assert rc == 0 and decoded(out)["checksum_ok"] is True
    colons = ":".join(hexstr[i:i + 2] for i in range(0, len(hexstr), 2))
    rc, out, _ = cli("decode", "0x" + colons.replace(":", "", 1))
    assert rc == 0 and decoded(out)["vrid"] == 51


def ether(ip: bytes, ethertype: int, vlan: int | None = None) -> bytes:
    head = bytes.fromhex("01005e000012" "0200c612000b")
    if vlan is not None:
        head += struct.pack("!HH", 0x8100, vlan)
    return head + struct.pack("!H", ethertype) + ip


def test_decode_link_layer_frames(cli):
    ip4 = bytes.fromhex(full_packet(V2_PASS))
    ip6 = bytes.fromhex(full_packet(V3_V6))
    padded = ether(ip4, 0x0800) + b"\0" * 12  # Ethernet minimum-size padding after the IP packet
    for frame, link in ((padded, "ether"), (ether(ip4, 0x0800, vlan=10), "ether"),
                        (bytes.fromhex("3333000000120200c612000b") + b"\x86\xdd" + ip6, "ether"),
                        (bytes.fromhex("000000010006" "0200c612000b0000") + b"\x86\xdd" + ip6, "sll")):
        rc, out, err = cli("decode", frame.hex())
        assert rc == 0, (link, err)
        got = decoded(out)
        assert got["checksum_ok"] is True and got["ip"]["link"] == link


def test_decode_pcap_matches_every_recorded_frame(cli):
    for pcap in sorted(VECTORS_DIR.glob("*.pcap")):
        frames = json.loads(pcap.with_suffix(".vrrp.json").read_text())
        rc, out, err = cli("decode", "--pcap", str(pcap))
        assert rc == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        assert [(g["frame"], g["vrid"], g["priority"], g["checksum"], g["ip"]["src"]) for g in lines] == \
               [(f["index"], f["vrid"], f["priority"], f["checksum"], f["src"]) for f in frames]
        assert all(g["checksum_ok"] is True for g in lines)
        assert f"{len(frames)} VRRP frames (0 dropped)" in err


def test_decode_bare_v3_without_pseudo_header_warns_and_guesses_family(cli):
    rc, out, _ = cli("decode", V3_V6["vrrp_hex"])
    got = decoded(out)
    assert rc == 0 and got["family"] == 6 and got["checksum_ok"] is None
    assert "not verified" in got["warnings"][0]


def test_decode_drop_exits_1_with_reason(cli):
    rc, out, _ = cli("decode", V3_V4["vrrp_hex"], "--src", "198.18.0.99", "--dst", V3_V4["dst"])
    assert rc == 1 and decoded(out) == {"drop": "checksum"}
    rc, out, _ = cli("decode", "2133")
    assert rc == 1 and decoded(out) == {"drop": "packet_length"}


def test_decode_warns_about_ttl(cli):
    ip = bytearray(bytes.fromhex(full_packet(V2_PASS)))
    ip[8] = 64
    rc, out, _ = cli("decode", ip.hex())
    assert rc == 0 and "TTL/hop limit 64 is not 255" in decoded(out)["warnings"][0]


@pytest.mark.parametrize("args, message", [
    (("decode", "zz"), "not hex: 'z'"),
    (("decode", "213"), "odd number of hex digits"),
    (("decode", "4500"), "not an IPv4 packet"),
    (("decode", V3_V4["ip_header_hex"][:18] + "06" + V3_V4["ip_header_hex"][20:] + V3_V4["vrrp_hex"]),
     "IPv4 protocol 6 is not VRRP"),
    (("decode", V3_V4["vrrp_hex"], "--src", "198.18.0.11"), "give both --src and --dst"),
    (("decode", V3_V4["vrrp_hex"], "--src", "nonsense", "--dst", "224.0.0.18"), "is not an IP address"),
    (("decode", full_packet(V3_V4), "--src", "fe80::1", "--dst", "ff02::12"), "is IPv6 but the packet is IPv4"),
    (("decode", "--pcap", "/nonexistent.pcap"), "cannot read"),
    (("decode", "--pcap", str(VECTORS_DIR / "test-vectors.json")), "not a pcap file"),
])
def test_decode_bad_input_exits_2_with_a_message(cli, args, message):
    rc, out, err = cli(*args)
    assert rc == 2 and out == ""
    assert message in err and err.startswith("kvrrp packet decode: error:")


# -- encode -----------------------------------------------------------------------------------

def test_encode_reproduces_keepalived_v2_pass(cli):
    v = V2_PASS
    rc, out, err = cli("encode", "--version", "2", "--vrid", "51", "--priority", str(v["priority"]),
                       "--addr", "198.18.0.200", "--auth-pass", "kvpass12")
    assert rc == 0, err
    assert out.strip() == v["vrrp_hex"]


def test_encode_reproduces_keepalived_v2_ah(cli):
    rc, out, _ = cli("encode", "--vrid", "51", "--priority", str(V2_AH["priority"]), "--addr", "198.18.0.200", "--auth-ah")
    assert rc == 0 and out.strip() == V2_AH["vrrp_hex"]


@pytest.mark.parametrize("vec, adver", [(V3_V4, "1"), (V3_V6, "1"), (V3_FAST, "0.1")], ids=["v4", "v6", "a0.1"])
def test_encode_reproduces_keepalived_v3(cli, vec, adver):
    rc, out, err = cli("encode", "--version", "3", "--vrid", "51", "--priority", str(vec["priority"]),
                       "--addr", vec["addresses"][0], "--src", vec["src"], "--adver-int", adver)
    assert rc == 0, err
    assert out.strip() == vec["vrrp_hex"]


def test_encode_ip_packet_round_trips_through_decode(cli):
    for fam_args in (("--addr", "198.18.0.200", "--addr", "198.18.0.201", "--src", "198.18.0.1"),
                     ("--addr", "2001:db8::1", "--src", "fe80::1")):
        rc, out, err = cli("encode", "--version", "3", "--vrid", "9", "--priority", "200", "--ip", *fam_args)
        assert rc == 0, err
        rc, out, err = cli("decode", out.strip())
        got = decoded(out)
        assert rc == 0 and got["checksum_ok"] is True and got["vrid"] == 9 and got["ip"]["ttl"] == 255


@pytest.mark.parametrize("args, message", [
    (("--version", "3", "--vrid", "1", "--addr", "198.18.0.1"), "needs --src"),
    (("--vrid", "0", "--addr", "198.18.0.1"), "vrid 0 out of range 1..255"),
    (("--vrid", "1", "--priority", "256"), "priority 256 out of range"),
    (("--vrid", "1", "--adver-int", "1.5"), "whole seconds"),
    (("--version", "3", "--vrid", "1", "--src", "198.18.0.1", "--adver-int", "41"), "0.01..40.95"),
    (("--vrid", "1", "--adver-int", "fast"), "not a number"),
    (("--vrid", "1", "--auth-pass", "123456789"), "at most 8 bytes"),
    (("--vrid", "1", "--addr", "fe80::1"), "IPv4 only"),
    (("--version", "3", "--vrid", "1", "--addr", "198.18.0.1", "--addr", "fe80::1"), "expected IPv4"),
    (("--version", "3", "--vrid", "1", "--auth-pass", "x", "--src", "198.18.0.1"), "no authentication"),
    (("--vrid", "1", "--addr", "300.1.1.1"), "is not an IP address"),
    (("--vrid", "1", "--auth-ah", "--ip", "--src", "198.18.0.1"), "cannot build an AH packet"),
])
def test_encode_bad_input_exits_2_with_a_message(cli, args, message):
    rc, out, err = cli("encode", *args)
    assert rc == 2 and out == ""
    assert message in err


def test_usage_errors_exit_2(cli):
    rc, _, err = cli("encode")
    assert rc == 2 and "--vrid" in err
    rc, _, err = cli()
    assert rc == 2


# -- as a real command ------------------------------------------------------------------------

def run_kvrrp(*args, stdin=""):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(kvrrp.__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "kvrrp", "packet", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


def test_subprocess_decode_encode_and_errors():
    r = run_kvrrp("decode", "--compact", full_packet(V3_V6))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ip"]["src"] == V3_V6["src"]
    r = run_kvrrp("decode", stdin=tcpdump_x(bytes.fromhex(full_packet(V2_AH))))
    assert r.returncode == 0 and json.loads(r.stdout)["auth_type"] == 2
    r = run_kvrrp("encode", "--vrid", "51", "--priority", "150", "--addr", "198.18.0.200", "--auth-pass", "kvpass12")
    assert r.returncode == 0 and r.stdout.strip() == "2133960101010072c61200c86b76706173733132"
    r = run_kvrrp("decode", "xyz")
    assert r.returncode == 2 and "not hex" in r.stderr and r.stdout == ""


def test_v3_checksum_as_v2_round_trip(cli):
    rc, out, err = cli("encode", "--version", "3", "--vrid", "7", "--addr", "198.18.0.200", "--v3-checksum-as-v2")
    assert rc == 0, err
    msg = out.strip()
    rc, out, _ = cli("decode", msg, "--v3-checksum-as-v2")
    assert rc == 0 and decoded(out)["checksum_ok"] is True and "warnings" not in decoded(out)
    rc, out, _ = cli("decode", msg, "--src", "198.18.0.1", "--dst", "224.0.0.18")
    assert rc == 1 and decoded(out) == {"drop": "checksum"}


def test_tcpdump_X_ascii_column_that_looks_like_hex(cli):
    """A short last line whose ASCII column happens to be hex digits ("abcd") is not data."""
    data = bytes.fromhex(full_packet(V2_PASS))
    text = tcpdump_x(data, ascii_column=True)
    last = text.rstrip("\n").split("\n")[-1]
    assert last.endswith("kvpass12")
    rc, out, _ = cli("decode", stdin=text.replace("kvpass12", "beef"))
    assert rc == 0 and decoded(out)["auth_data"] == "kvpass12"


def test_auto_detect_reports_the_non_vrrp_protocol_of_a_frame(cli):
    mld = bytearray(bytes.fromhex(full_packet(V3_V6)))
    mld[6] = 58  # ICMPv6 instead of VRRP
    frame = bytes.fromhex("3333000000160200c612000c86dd") + bytes(mld)
    rc, _, err = cli("decode", frame.hex())
    assert rc == 2 and "next header 58 is not VRRP" in err
