"""The steady-state receive path: InstanceSlot, ReceiveTable.accept and receive_batch.

accept() must take exactly the adverts whose only effect on the instance is restarting
Master_Down_Timer, and leave everything else (untouched) to the Python state machine. Every
test runs on both implementations; the Hypothesis test feeds both the same mangled adverts.
"""
from __future__ import annotations

import math
import socket

import pytest
from hypothesis import given, settings, strategies as st

MASTER4 = socket.inet_aton("198.18.0.2")
OTHER4 = socket.inet_aton("198.18.0.3")
GROUP4 = socket.inet_aton("224.0.0.18")
VIP4 = socket.inet_aton("198.18.0.100") + socket.inet_aton("198.18.0.101")
MASTER6 = socket.inet_pton(socket.AF_INET6, "fe80::2")
GROUP6 = socket.inet_pton(socket.AF_INET6, "ff02::12")
VIP6 = socket.inet_pton(socket.AF_INET6, "2001:db8::100")
PASS = b"secret\0\0"
KEY = 51 * 8
NOW = 1000.0
MDI = 3.0 + (256 - 100) / 256.0


def make(impl, version=3, family=4, unicast=False, auth_type=0, vips=None, master=None, prio=150,
         our_prio=100, interval=100, accept_lower=False, delayed_start=0.0, old_checksum=False, compat=b""):
    wheel = impl.TimerWheel(resolution=0.0001, start=0.0)
    slot = impl.InstanceSlot(wheel, KEY)
    vips = (VIP4 if family == 4 else VIP6) if vips is None else vips
    slot.configure(version, family, unicast, auth_type, PASS if auth_type else b"", 1 if version == 2 else 0,
                   vips, compat)
    master = (MASTER4 if family == 4 else MASTER6) if master is None else master
    slot.update(True, master, prio, interval if version == 3 else 0, our_prio, accept_lower, delayed_start, MDI,
                old_checksum)
    table = impl.ReceiveTable(family)
    table.set(51, slot)
    return wheel, slot, table


def advert(impl, version=3, family=4, prio=150, vips=None, src=None, dst=None, interval=None, auth_type=0,
           auth=PASS, vrid=51):
    vips = (VIP4 if family == 4 else VIP6) if vips is None else vips
    alen = 4 if family == 4 else 16
    addrs = [vips[i:i + alen] for i in range(0, len(vips), alen)]
    src = (MASTER4 if family == 4 else MASTER6) if src is None else src
    dst = (GROUP4 if family == 4 else GROUP6) if dst is None else dst
    if version == 2:
        return impl.encode_advert(2, vrid, prio, addrs, 1 if interval is None else interval, auth_type=auth_type,
                                  auth_data=auth if auth_type else b"")
    return impl.encode_advert(3, vrid, prio, addrs, 100 if interval is None else interval, family=family,
                              src=src, dst=dst)


def state(wheel, slot, table):
    return (slot.armed, slot.deadline, slot.down_started, slot.advert_rcvd, slot.fast_rcvd, table.accepted,
            wheel.deadline(KEY), len(wheel))


def same(a, b):
    return all((x == y) or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("version,family", [(2, 4), (3, 4), (3, 6)])
def test_steady_state_restarts_master_down_timer(impl, version, family):
    wheel, slot, table = make(impl, version=version, family=family)
    src = MASTER4 if family == 4 else MASTER6
    dst = GROUP4 if family == 4 else GROUP6
    assert table.accept(src, dst, 255, advert(impl, version, family), NOW - 0.01, NOW)
    assert slot.armed and slot.down_started == NOW - 0.01
    assert slot.deadline == NOW - 0.01 + MDI
    assert wheel.deadline(KEY) == pytest.approx(NOW - 0.01 + MDI, abs=0.0001)
    assert (slot.advert_rcvd, slot.fast_rcvd, table.accepted) == (1, 1, 1)
    # text addresses work as well (the engine's Received path)
    text = socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, src)
    group = "224.0.0.18" if family == 4 else "ff02::12"
    assert table.accept(text, group, 255, advert(impl, version, family), None, NOW + 1)
    assert slot.down_started == NOW + 1 and slot.advert_rcvd == 2


@pytest.mark.parametrize("rx_time,origin", [(None, NOW), (NOW + 0.001, NOW), (NOW - 0.051, NOW),
                                            (NOW - 0.049, NOW - 0.049), (NOW, NOW)])
def test_timer_origin_is_a_recent_receive_time_else_now(impl, rx_time, origin):
    _, slot, table = make(impl)
    assert table.accept(MASTER4, GROUP4, 255, advert(impl), rx_time, NOW)
    assert slot.down_started == origin


def test_startup_delay_holds_the_timer(impl):
    _, slot, table = make(impl, delayed_start=NOW + 5)
    assert table.accept(MASTER4, GROUP4, 255, advert(impl), None, NOW)
    assert slot.down_started == NOW + 5 and slot.deadline == NOW + 5 + MDI


def _declined(impl, table_args, packet_kw, src=MASTER4, dst=GROUP4, ttl=255, mangle=None):
    wheel, slot, table = make(impl, **table_args)
    before = state(wheel, slot, table)
    payload = advert(impl, **packet_kw)
    if mangle is not None:
        payload = mangle(bytearray(payload))
    assert not table.accept(src, dst, ttl, bytes(payload), None, NOW)
    assert same(state(wheel, slot, table), before)


def _flip(i):
    def f(b):
        b[i] ^= 0x01
        return b
    return f


@pytest.mark.parametrize("table_args,packet_kw,extra", [
    ({}, {}, {"ttl": 254}),                                        # TTL
    ({}, {"vrid": 52}, {}),                                        # no instance for the VRID
    ({}, {}, {"mangle": lambda b: b[:-1]}),                        # length
    ({}, {}, {"mangle": _flip(6)}),                                # checksum
    ({}, {}, {"mangle": lambda b: bytearray([0x21]) + b[1:]}),     # version 2 to a v3 instance
    ({}, {}, {"src": OTHER4}),                                     # not the current master
    ({}, {"prio": 151}, {}),                                       # priority changed
    ({}, {"prio": 0}, {}),                                         # priority 0
    ({}, {"interval": 200}, {}),                                   # learned interval would change
    ({}, {"vips": VIP4[:4]}, {}),                                  # address list
    ({}, {"vips": VIP4[4:] + VIP4[:4]}, {}),                       # same set, other order: Python decides
    ({}, {}, {"dst": MASTER4}),                                    # multicast instance, unicast dst
    ({"unicast": True}, {"dst": GROUP4}, {}),                      # unicast instance, multicast dst
    ({"prio": 90}, {"prio": 90}, {}),                              # lower priority, preempt: discarded
    ({"version": 2}, {"version": 2, "interval": 2}, {}),          # v2 interval mismatch
    ({"version": 2, "auth_type": 1}, {"version": 2, "auth_type": 1, "auth": b"wrong\0\0\0"}, {}),
    ({"version": 2, "auth_type": 1}, {"version": 2}, {}),          # auth type mismatch
])
def test_everything_else_is_left_to_python_untouched(impl, table_args, packet_kw, extra):
    _declined(impl, table_args, packet_kw, **extra)


def test_lower_priority_taken_only_when_preemption_is_held(impl):
    _, slot, table = make(impl, prio=90, accept_lower=True)
    assert table.accept(MASTER4, GROUP4, 255, advert(impl, prio=90), None, NOW)
    _declined(impl, {"prio": 90}, {"prio": 90})


def test_not_in_the_steady_state_is_left_to_python(impl):
    wheel, slot, table = make(impl)
    slot.update(False, MASTER4, 150, 100, 100, False, 0.0, MDI, False)
    assert not table.accept(MASTER4, GROUP4, 255, advert(impl), None, NOW)
    assert not slot.armed and slot.advert_rcvd == 0


def test_unicast_and_the_old_checksum(impl):
    peer = socket.inet_aton("198.18.0.1")
    _, slot, table = make(impl, unicast=True)
    assert table.accept(MASTER4, peer, 64, advert(impl, dst=peer), None, NOW)     # no TTL check for unicast
    # old unicast checksum: the group is the pseudo-header destination
    _, slot, table = make(impl, unicast=True, old_checksum=True, compat=GROUP4)
    assert table.accept(MASTER4, peer, 255, advert(impl, dst=GROUP4), None, NOW)
    assert not table.accept(MASTER4, peer, 255, advert(impl, dst=peer), None, NOW)


def test_slot_timer_api(impl):
    wheel, slot, _ = make(impl)
    slot.schedule(NOW + 1)
    assert slot.armed and slot.deadline == NOW + 1 and math.isnan(slot.down_started) and KEY in wheel
    slot.schedule(NOW + 2, NOW)
    assert slot.down_started == NOW and wheel.deadline(KEY) == pytest.approx(NOW + 2)
    slot.fired()
    assert not slot.armed and math.isnan(slot.deadline) and slot.down_started == NOW
    slot.schedule(NOW + 3)
    slot.cancel()
    assert not slot.armed and KEY not in wheel and math.isnan(slot.down_started)


def test_bad_arguments(impl):
    wheel = impl.TimerWheel()
    slot = impl.InstanceSlot(wheel, 1)
    with pytest.raises(ValueError):
        slot.configure(4, 4, False, 0, b"", 1, b"")
    with pytest.raises(ValueError):
        slot.configure(3, 4, False, 0, b"", 0, b"\0\0\0")
    with pytest.raises(ValueError):
        slot.update(True, b"\1\2", 1, 1, 1, False, 0.0, 1.0, False)
    with pytest.raises(ValueError):
        impl.ReceiveTable(5)
    table = impl.ReceiveTable(4)
    with pytest.raises(ValueError):
        table.set(0, slot)
    with pytest.raises(TypeError):
        table.set(1, object())
    slot.configure(3, 6, False, 0, b"", 0, b"")
    with pytest.raises(ValueError):
        table.set(1, slot)
    # an unconfigured slot is never fast
    fresh = impl.InstanceSlot(wheel, 2)
    fresh.update(True, MASTER4, 1, 1, 1, False, 0.0, 1.0, False)
    assert not fresh.fast_rx
    # junk never raises from accept
    table = impl.ReceiveTable(4)
    assert not table.accept("not an address", "224.0.0.18", 255, b"\x31\x33", None, NOW)
    assert not table.accept(MASTER4, GROUP4, 255, b"", None, NOW)


# ------------------------------------------------------------------ parity (Hypothesis)
@st.composite
def receptions(draw):
    version, family = draw(st.sampled_from([(2, 4), (3, 4), (3, 6)]))
    table_args = {"version": version, "family": family,
                  "unicast": draw(st.booleans()),
                  "auth_type": draw(st.sampled_from([0, 1])) if version == 2 else 0,
                  "prio": draw(st.sampled_from([90, 100, 150])),
                  "accept_lower": draw(st.booleans()),
                  "delayed_start": draw(st.sampled_from([0.0, NOW + 2]))}
    packet = {"version": version, "family": family, "prio": draw(st.sampled_from([0, 90, 100, 150])),
              "auth_type": table_args["auth_type"] if draw(st.booleans()) else 1 - table_args["auth_type"]}
    if version == 3:
        packet["interval"] = draw(st.sampled_from([100, 101]))
    dst = draw(st.sampled_from(["group", "unicast"]))
    flips = draw(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 255)), max_size=2))
    cut = draw(st.integers(0, 3))
    ttl = draw(st.sampled_from([255, 254, 1]))
    other_src = draw(st.booleans())
    rx_time = draw(st.one_of(st.none(), st.floats(NOW - 0.2, NOW + 0.01)))
    return table_args, packet, dst, flips, cut, ttl, other_src, rx_time


@settings(max_examples=300, deadline=None)
@given(receptions())
def test_parity_same_reception_same_decision(both, case):
    table_args, packet, dst_kind, flips, cut, ttl, other_src, rx_time = case
    family = table_args["family"]
    results = []
    for impl in both:
        wheel, slot, table = make(impl, **table_args)
        if dst_kind == "group":
            dst = GROUP4 if family == 4 else GROUP6
        else:
            dst = socket.inet_aton("198.18.0.1") if family == 4 else socket.inet_pton(socket.AF_INET6, "fe80::1")
        src = (OTHER4 if family == 4 else socket.inet_pton(socket.AF_INET6, "fe80::3")) if other_src else \
            (MASTER4 if family == 4 else MASTER6)
        payload = bytearray(advert(impl, src=src, dst=dst, **packet))
        for i, x in flips:
            if i < len(payload):
                payload[i] ^= x
        payload = bytes(payload[:len(payload) - cut])
        taken = table.accept(src, dst, ttl, payload, rx_time, NOW)
        results.append((taken, state(wheel, slot, table)))
    (t1, s1), (t2, s2) = results
    assert t1 == t2 and same(s1, s2)


# ------------------------------------------------------------------ receive_batch on loopback
def _raw_pair(family):
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    rx = socket.socket(af, socket.SOCK_RAW, 112)
    tx = socket.socket(af, socket.SOCK_RAW, 112)
    rx.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMPNS", 35), 1)
    if family == 4:
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        rx.bind(("127.0.0.1", 0))
    else:
        tx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        rx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        rx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        rx.bind(("::1", 0))
    rx.setblocking(False)
    return rx, tx


@pytest.mark.parametrize("family", [4, 6])
def test_receive_batch_takes_the_steady_state_and_returns_the_rest(impl, family):
    import time
    try:
        rx, tx = _raw_pair(family)
    except PermissionError:
        pytest.fail("receive_batch tests need root (raw sockets)")
    lo = socket.inet_pton(socket.AF_INET if family == 4 else socket.AF_INET6, "127.0.0.1" if family == 4 else "::1")
    target = ("127.0.0.1", 0) if family == 4 else ("::1", 0)
    try:
        wheel, slot, table = make(impl, family=family, unicast=True, master=lo)
        good = advert(impl, family=family, src=lo, dst=lo)
        changed = advert(impl, family=family, src=lo, dst=lo, prio=151)
        sent_at = time.monotonic()
        for payload in [good] * 3 + [changed]:
            tx.sendto(payload, target)
        time.sleep(0.02)
        punted, received, bad, missing, error = impl.receive_batch(rx, family, table)
        after = time.monotonic()
        assert (received, bad, missing, error) == (4, 0, 0, 0)
        assert slot.fast_rcvd == 3 and slot.armed
        # the timer started at the kernel's receive time (or at the batch's now, if that was stale)
        assert sent_at <= slot.down_started <= after
        text = "127.0.0.1" if family == 4 else "::1"
        assert [(s, d, t, p) for s, d, t, p, _ in punted] == [(text, text, 255, changed)]
        # the kernel timestamp, on the monotonic clock
        assert sent_at - 0.001 <= punted[0][4] <= after
        # nothing more to read: an empty batch, no error; without a table everything is returned
        assert impl.receive_batch(rx, family, table) == ([], 0, 0, 0, 0)
        tx.sendto(good, target)
        time.sleep(0.05)
        punted, received, *_ = impl.receive_batch(rx, family)
        assert received == 1 and [p[3] for p in punted] == [good]
    finally:
        rx.close()
        tx.close()


def test_socket_reader_delivers_what_the_table_leaves_and_counts(impl):
    import time
    rx, tx = _raw_pair(4)
    lo = socket.inet_aton("127.0.0.1")
    got, errors = [], []
    try:
        wheel, slot, table = make(impl, unicast=True, master=lo)
        reader = impl.SocketReader(rx, 4, lambda *item: got.append(item), errors.append)
        with pytest.raises(TypeError):
            reader.table = object()
        reader.table = table
        good = advert(impl, src=lo, dst=lo)
        other = advert(impl, src=lo, dst=lo, prio=200)
        for payload in [good] * (impl.RECV_BATCH + 5) + [other]:       # more than one batch
            tx.sendto(payload, ("127.0.0.1", 0))
        time.sleep(0.05)
        reader()
        assert (reader.received, reader.fast_path, reader.bad_ip_header, reader.recv_errors) == \
            (impl.RECV_BATCH + 6, impl.RECV_BATCH + 5, 0, 0)
        assert [(s, d, t, p) for s, d, t, p, _ in got] == [("127.0.0.1", "127.0.0.1", 255, other)]
        assert slot.fast_rcvd == impl.RECV_BATCH + 5 and errors == []
        reader()        # nothing to read
        assert reader.received == impl.RECV_BATCH + 6
    finally:
        rx.close()
        tx.close()
    reader()            # a closed socket: nothing happens
    assert errors == []
