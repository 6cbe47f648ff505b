"""RFC 5798 / RFC 3768 timer maths, in seconds (floats). Pure functions, no clocks.

Names follow the RFCs: Skew_Time, Master_Down_Interval, Master_Adver_Interval.
keepalived computes Skew_Time from the *effective* priority, and for v3 from the learned
Master_Adver_Interval; so do we.
"""
from __future__ import annotations

V3_MAX_CENTISECONDS = 0x0FFF        # the v3 Max Adver Int field is 12 bits of centiseconds
V2_MAX_SECONDS = 255                # the v2 Adver Int field is 8 bits of seconds
DEFAULT_DOWN_TIMER_ADVERTS = 3      # RFC: 3 x Master_Adver_Interval; keepalived down_timer_adverts


def skew_time(priority: int, master_adver_interval: float, version: int) -> float:
    """Skew_Time: v3 = ((256 - Priority) * Master_Adver_Interval) / 256; v2 = (256 - Priority) / 256 s."""
    if not 0 <= priority <= 255:
        raise ValueError(f"priority {priority} outside 0..255")
    if version == 3:
        return (256 - priority) * master_adver_interval / 256.0
    if version == 2:
        return (256 - priority) / 256.0
    raise ValueError(f"VRRP version {version} is not 2 or 3")


def master_down_interval(priority: int, master_adver_interval: float, version: int,
                         down_timer_adverts: int = DEFAULT_DOWN_TIMER_ADVERTS) -> float:
    """Master_Down_Interval = down_timer_adverts (3) x Master_Adver_Interval + Skew_Time."""
    if down_timer_adverts < 1:
        raise ValueError(f"down_timer_adverts {down_timer_adverts} must be >= 1")
    return down_timer_adverts * master_adver_interval + skew_time(priority, master_adver_interval, version)


def wire_interval(adver_int: float, version: int) -> int:
    """The Adver Int field for an interval in seconds: whole seconds (v2) or centiseconds (v3)."""
    if version == 2:
        value = round(adver_int)
        if not 1 <= value <= V2_MAX_SECONDS or abs(value - adver_int) > 1e-9:
            raise ValueError(f"VRRPv2 advert interval {adver_int} s must be a whole number 1..255")
        return value
    if version == 3:
        value = round(adver_int * 100)
        if not 1 <= value <= V3_MAX_CENTISECONDS:
            raise ValueError(f"VRRPv3 advert interval {adver_int} s outside 0.01..40.95")
        return value
    raise ValueError(f"VRRP version {version} is not 2 or 3")


def interval_from_wire(field: int, version: int) -> float:
    """Seconds from a received Adver Int field (v2 seconds, v3 centiseconds)."""
    return float(field) if version == 2 else field / 100.0


def learned_master_interval(current: float, received_field: int, version: int) -> float:
    """RFC 5798 6.4.2: a v3 backup sets Master_Adver_Interval to the advert's interval.

    v2 has no learning (a mismatch is dropped before we get here), so it keeps `current`."""
    if version == 3 and received_field > 0:
        return interval_from_wire(received_field, 3)
    return current
