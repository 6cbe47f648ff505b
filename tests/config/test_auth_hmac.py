"""auth_hmac { ... } in vrrp_instance: typed model, keepalived's messages and ranges, exclusive with
authentication, strict mode forcing enforce, the derived time_window (keepalived vrrp_parser.c/vrrp.c)."""
from __future__ import annotations

import os

from tests.config.helpers import codes, instance, parse

HEX = "hex:" + bytes(range(32)).hex()
ASCII36 = "abcdefghijklmnopqrstuvwxyz0123456789"


def hm(body: str, extra: str = "") -> str:
    return instance(f"{extra}    auth_hmac {{\n{body}\n    }}")


def msgs(res) -> list[str]:
    return [f"{d.loc.line}: {d.message}" for d in res.diagnostics]


def test_full_block_builds_the_typed_model():
    res = parse(hm(f"key 1 {HEX}\nkey 7 {ASCII36}\nactive_key 7\nanti_replay monotonic\nmode permissive"))
    assert not res.diagnostics, msgs(res)
    ah = res.config.instances[0].auth_hmac
    assert ah.keys == ((1, bytes(range(32))), (7, ASCII36.encode()))
    assert (ah.active_key, ah.anti_replay, ah.mode, ah.time_window) == (7, "monotonic", "permissive", None)
    assert HEX[4:] not in repr(ah) and ASCII36 not in repr(ah)     # secrets stay out of logs


def test_time_window_derived_from_advert_int_like_keepalived():
    for adv, want in (("1", 5), ("4", 12), ("200", 300)):
        res = parse(hm(f"key 1 {HEX}\nactive_key 1", extra=f"    advert_int {adv}\n"))
        assert res.config.instances[0].auth_hmac.time_window == want
    res = parse(hm(f"key 1 {HEX}\nactive_key 1\ntime_window 42"))
    assert res.config.instances[0].auth_hmac.time_window == 42


def test_bad_values_give_keepalived_messages_with_lines():
    res = parse(hm(f"key 1 {HEX}\nkey 1 {ASCII36}\nkey 2 short\nkey 0 {ASCII36}\nkey 3\nactive_key 300\n"
                   "active_key 1\ntime_window 0\ntime_window 301\nanti_replay clock\nmode loose"))
    text = "\n".join(msgs(res))
    for want in ("duplicate auth_hmac key id 1", "auth_hmac key 2 length 5 not in range [32, 64]",
                 "auth_hmac key id '0' must be between 1 and 255", "auth_hmac key needs an id and a value",
                 "auth_hmac active_key '300' must be between 1 and 255",
                 "auth_hmac time_window '0' must be between 1 and 300 seconds",
                 "auth_hmac time_window '301' must be between 1 and 300 seconds",
                 "auth_hmac anti_replay 'clock' must be time or monotonic",
                 "auth_hmac mode 'loose' must be enforce, permissive or receive-only"):
        assert want in text, text
    assert all(d.loc is not None and d.loc.line > 0 for d in res.diagnostics)
    assert res.config.instances[0].auth_hmac.keys == ((1, bytes(range(32))),)


def test_undefined_active_key_disables_the_extension():
    res = parse(hm(f"key 1 {HEX}\nactive_key 2"))
    assert "auth-hmac-active-key" in codes(res)
    assert res.config.instances[0].auth_hmac is None
    res = parse(hm(f"key 1 {HEX}"))
    assert "auth_hmac active_key 0 is not defined, disabling extension" in "\n".join(msgs(res))


def test_exclusive_with_authentication_and_strict_forces_enforce():
    res = parse(hm(f"key 1 {HEX}\nactive_key 1\nmode receive-only",
                   extra="    authentication {\n auth_type PASS\n auth_pass x\n }\n"))
    assert "auth-hmac-legacy" in codes(res)
    i = res.config.instances[0]
    assert i.authentication is None and i.auth_hmac.mode == "receive-only"
    res = parse(hm(f"key 1 {HEX}\nactive_key 1\nmode permissive", extra="    strict_mode on\n"))
    assert "auth-hmac-strict" in codes(res)
    assert res.config.instances[0].auth_hmac.mode == "enforce"


def test_key_file(tmp_path):
    f = tmp_path / "k"
    f.write_text(HEX + "\n")
    os.chmod(f, 0o600)
    res = parse(hm(f"key 4 file:{f}\nactive_key 4"))
    assert not res.diagnostics, msgs(res)
    assert res.config.instances[0].auth_hmac.keys == ((4, bytes(range(32))),)
    os.chmod(f, 0o644)
    res = parse(hm(f"key 4 file:{f}\nactive_key 4"))
    assert "is readable by group or others" in "\n".join(msgs(res))
    res = parse(hm(f"key 4 file:{tmp_path}/missing\nactive_key 4"))
    assert "cannot be opened" in "\n".join(msgs(res))
    f.write_text("x" * 200)
    res = parse(hm(f"key 4 file:{f}\nactive_key 4"))
    assert "is too large" in "\n".join(msgs(res))


def test_dump_conf_round_trips():
    import json

    from kvrrp.config.dump import to_json, to_keepalived
    res = parse(hm(f"key 1 {HEX}\nkey 2 {ASCII36}\nactive_key 2\nanti_replay monotonic\nmode permissive"))
    again = parse(to_keepalived(res.config))
    assert not again.diagnostics, msgs(again)
    assert again.config.instances[0].auth_hmac == res.config.instances[0].auth_hmac
    keys = json.loads(to_json(res.config))["instances"][0]["auth_hmac"]["keys"]
    assert keys == [[1, HEX], [2, "hex:" + ASCII36.encode().hex()]]
