"""Hypothesis parity: the Cython module and the Python twin give the same output, the same drop
reason, or the same exception (type and message) for the same input."""
from __future__ import annotations

import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def packed(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text.split("%")[0])


# No deadlines and no timing health checks: CI shares 2 cores, and parity is about results.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=_QUIET)

families = st.sampled_from([4, 6])
addr4 = st.binary(min_size=4, max_size=4)
addr6 = st.binary(min_size=16, max_size=16)


def outcome(fn, *args, **kwargs):
    """The result of a call, or (exception type name, message), comparable across modules."""
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - comparing whatever is raised
        return ("raised", type(exc).__name__, str(exc))
    return normalise(result)


def normalise(result):
    name = type(result).__name__
    if name == "Advert":
        return ("Advert", result.version, result.type, result.vrid, result.priority, result.count,
                result.auth_type, result.adver_int, result.checksum, result.checksum_ok,
                result.addresses, result.auth_data, result.to_dict(), repr(result))
    if name == "Drop":
        return ("Drop", result.reason, repr(result))
    if isinstance(result, list):
        return [normalise(r) for r in result]
    return result


@st.composite
def valid_messages(draw):
    """Well-formed adverts (either version/family), with their pseudo-header addresses."""
    version = draw(st.sampled_from([2, 3]))
    family = 4 if version == 2 else draw(families)
    addr = addr4 if family == 4 else addr6
    addrs = draw(st.lists(addr, max_size=12))
    src, dst = draw(addr), draw(addr)
    kwargs = dict(family=family, src=src, dst=dst, v3_checksum_as_v2=draw(st.booleans()))
    if version == 2:
        kwargs.update(auth_type=draw(st.integers(0, 2)), auth_data=draw(st.binary(max_size=8)))
    adver = draw(st.integers(0, 255 if version == 2 else 4095))
    return (version, draw(st.integers(1, 255)), draw(st.integers(0, 255)), addrs, adver, kwargs)


@st.composite
def mangled(draw):
    """A valid message, then truncated, extended or with random bytes overwritten."""
    version, vrid, prio, addrs, adver, kw = draw(valid_messages())
    from kvrrp import _fastpath_py as ref
    msg = bytearray(ref.encode_advert(version, vrid, prio, addrs, adver, **kw))
    for _ in range(draw(st.integers(0, 3))):
        if msg:
            msg[draw(st.integers(0, len(msg) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.sampled_from([None, draw(st.integers(0, len(msg)))]))
    if cut is not None:
        msg = msg[:cut]
    msg += draw(st.binary(max_size=draw(st.sampled_from([0, 0, 4, 16]))))
    fam = draw(st.sampled_from([kw["family"], kw["family"], 4, 6, 0]))
    src = draw(st.sampled_from([kw["src"], None, b"\x01\x02", "198.18.0.1", "fe80::1", "junk"]))
    dst = kw["dst"] if src is not None and not isinstance(src, str) else draw(st.sampled_from([None, kw["dst"], "224.0.0.18"]))
    return bytes(msg), fam, src, dst, draw(st.booleans())


@SETTINGS
@given(data=st.binary(max_size=600), initial=st.integers(0, 2**64 - 1))
def test_checksum_parity(both, data, initial):
    py, cy = both
    assert py.inet_checksum(data, initial) == cy.inet_checksum(data, initial)


@SETTINGS
@given(src=st.binary(max_size=17), dst=st.binary(max_size=17), length=st.integers(-2, 2**32 + 2))
def test_pseudo_sum_parity(both, src, dst, length):
    py, cy = both
    assert outcome(py.pseudo_sum_ipv4, src, dst, length) == outcome(cy.pseudo_sum_ipv4, src, dst, length)
    assert outcome(py.pseudo_sum_ipv6, src, dst, length) == outcome(cy.pseudo_sum_ipv6, src, dst, length)


@SETTINGS
@given(payload=st.binary(max_size=300), family=st.sampled_from([4, 6, 5, None]),
       src=st.one_of(st.none(), addr4, addr6, st.binary(max_size=20)),
       dst=st.one_of(st.none(), addr4, addr6))
def test_decode_random_bytes_parity(both, payload, family, src, dst):
    py, cy = both
    assert outcome(py.decode_advert, payload, family, src, dst) == outcome(cy.decode_advert, payload, family, src, dst)


@SETTINGS
@given(case=mangled())
def test_decode_mangled_messages_parity(both, case):
    py, cy = both
    msg, fam, src, dst, as_v2 = case
    assert outcome(py.decode_advert, msg, fam, src, dst, v3_checksum_as_v2=as_v2) == \
        outcome(cy.decode_advert, msg, fam, src, dst, v3_checksum_as_v2=as_v2)


@SETTINGS
@given(case=valid_messages())
def test_encode_then_decode_parity(both, case):
    py, cy = both
    version, vrid, prio, addrs, adver, kw = case
    msg = py.encode_advert(version, vrid, prio, addrs, adver, **kw)
    assert cy.encode_advert(version, vrid, prio, addrs, adver, **kw) == msg
    as_v2 = kw["v3_checksum_as_v2"]
    decoded = py.decode_advert(msg, kw["family"], kw["src"], kw["dst"], v3_checksum_as_v2=as_v2)
    assert normalise(decoded) == normalise(
        cy.decode_advert(msg, kw["family"], kw["src"], kw["dst"], v3_checksum_as_v2=as_v2))
    assert decoded.checksum_ok is True and decoded.addresses == tuple(addrs)


any_int = st.one_of(st.integers(-3, 300), st.integers(-2**70, 2**70), st.sampled_from([True, 1.0, "1", None]))


@SETTINGS
@given(version=st.one_of(st.sampled_from([2, 3]), any_int), vrid=any_int, priority=any_int,
       addresses=st.lists(st.one_of(addr4, addr6, st.binary(max_size=6),
                                    st.sampled_from(["198.18.0.1", "fe80::1", "bad", 7])), max_size=4),
       adver_int=st.one_of(st.integers(-1, 5000), any_int),
       family=st.one_of(st.sampled_from([4, 6]), any_int),
       auth_type=st.one_of(st.integers(0, 3), any_int), auth_data=st.one_of(st.binary(max_size=10), st.none()),
       src=st.one_of(st.none(), addr4, addr6, st.text(max_size=3)), dst=st.one_of(addr4, addr6),
       type_=st.one_of(st.integers(0, 16), any_int), as_v2=st.booleans())
def test_encode_arbitrary_fields_parity(both, version, vrid, priority, addresses, adver_int, family,
                                        auth_type, auth_data, src, dst, type_, as_v2):
    py, cy = both
    args = (version, vrid, priority, addresses, adver_int)
    kw = dict(family=family, auth_type=auth_type, auth_data=auth_data, src=src, dst=dst, type=type_,
              v3_checksum_as_v2=as_v2)
    assert outcome(py.encode_advert, *args, **kw) == outcome(cy.encode_advert, *args, **kw)


ops = st.lists(st.tuples(
    st.sampled_from(["schedule", "schedule", "cancel", "advance", "next", "deadline"]),
    st.integers(0, 40),
    st.one_of(st.floats(-5, 5), st.floats(0, 1e7), st.integers(0, 70000).map(lambda t: t / 1000)),
), max_size=120)


@settings(max_examples=200, deadline=None, suppress_health_check=_QUIET)
@given(ops=ops, resolution=st.sampled_from([0.001, 0.01, 0.25, 1.0]), start=st.sampled_from([0.0, 1000.5, -3.0]))
def test_timer_wheel_parity(both, ops, resolution, start):
    py, cy = both
    wp, wc = py.TimerWheel(resolution, start), cy.TimerWheel(resolution, start)
    now = start
    for op, key, value in ops:
        if op == "schedule":
            d = now + value
            assert outcome(wp.schedule, key, d) == outcome(wc.schedule, key, d)
        elif op == "cancel":
            assert wp.cancel(key) == wc.cancel(key)
        elif op == "advance":
            now += abs(value)
            assert wp.advance(now) == wc.advance(now)
        elif op == "next":
            assert wp.next_deadline() == wc.next_deadline()
        else:
            assert wp.deadline(key) == wc.deadline(key)
        assert len(wp) == len(wc) and wp.now == wc.now
    assert wp.advance(now + 2e7) == wc.advance(now + 2e7)
    assert len(wc) == 0
