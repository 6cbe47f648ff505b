"""Pure reducer: check results -> real server / virtual server state -> desired IPVS table.

No I/O, no clock. Mirrors keepalived's check_api.c / ipwrapper.c semantics:

* Per checker (keepalived's tcp_epilog, shared by the network checkers): state is
  (is_up, has_run, retry_it). At start retry_it = retry ("one failure is enough initially"),
  is_up = not alpha. A failure while up and retry_it < retry schedules a retry after
  delay_before_retry and counts it; a failure with retries exhausted (or before the first
  run) takes the checker down and goes back to delay_loop. A success resets retry_it and
  brings the checker up. A failure while already down stays down at delay_loop.
* A real server is alive when none of its checkers is down (keepalived's
  num_failed_checkers == 0); a real server with no checker is always alive.
  Its weight is the configured weight plus the dynamic deltas of its checkers
  (misc_dynamic, FILE_CHECK), clamped to 0..2^31-1 (keepalived's real_weight()).
* Per virtual server, quorum with hysteresis (update_quorum_state): starting state is
  "up" iff the live weight >= quorum + hysteresis; once up it goes down when the live weight
  is 0 or < quorum - hysteresis; once down it comes up when it is >= quorum + hysteresis.
* Desired destinations: alive real servers with their weight; dead ones absent, or weight 0
  with inhibit_on_failure. With quorum lost and a sorry_server: the sorry server (weight 1)
  replaces the real servers (inhibited ones stay at weight 0). sorry_server_inhibit keeps the
  sorry server in the table at weight 0 while it is not needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Iterable, Mapping, Sequence

from kvrrp.config.model import Config, RealServer, VirtualServer

from healthcheck.ipvs_nftables import auto_fwmarks
from healthcheck.table import (
    WEIGHT_MAX,
    DestKey,
    ServiceKey,
    Table,
    TableError,
    dest_of,
    group_map,
    services_of,
    vs_ident,
)

VsId = tuple[str, str, int]                 # (VS key, protocol, family) - see table.vs_ident
RsId = tuple[VsId, str, int, int]           # (VS id, ip, port, index among same ip:port)

UP = "up"
DOWN = "down"


# ---------------------------------------------------------------------------------------------
# checker level


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check attempt found. ``weight_delta`` is the dynamic weight contribution
    (misc_dynamic exit code, FILE_CHECK value) to apply on success; None leaves it as is."""

    ok: bool
    reason: str = ""
    weight_delta: int | None = None


@dataclass(frozen=True, slots=True)
class CheckerState:
    is_up: bool
    has_run: bool = False
    retry_it: int = 0
    weight_delta: int = 0
    url_it: int = 0                     # HTTP_GET / SSL_GET: index of the url the next request asks for
    failed_url: int | None = None       # HTTP_GET / SSL_GET: the url that took the checker down


def initial_checker_state(alpha: bool, retry: int) -> CheckerState:
    """keepalived at start (not reload): alpha checkers start down, retry_it = retry."""
    return CheckerState(is_up=not alpha, has_run=False, retry_it=retry)


@dataclass(frozen=True, slots=True)
class CheckerStep:
    state: CheckerState
    delay: float                 # seconds until the next attempt
    transition: str | None       # UP / DOWN when is_up flipped, else None
    retrying: bool               # this failure will be retried after delay_before_retry
    first_run: bool              # this was the checker's first completed attempt


def step_checker(
    state: CheckerState,
    result: CheckResult,
    *,
    retry: int,
    delay_loop: float,
    delay_before_retry: float,
) -> CheckerStep:
    """One completed check attempt -> new checker state and the delay to the next attempt."""
    ok = result.ok
    delay = delay_loop
    transition = None
    retrying = False
    is_up, has_run, retry_it, wdelta = state.is_up, state.has_run, state.retry_it, state.weight_delta
    if ok or ((is_up or not has_run) and retry_it >= retry):
        retry_it = 0
        if ok:
            if result.weight_delta is not None:
                wdelta = result.weight_delta
            if not is_up:
                is_up, transition = True, UP
        elif is_up or not has_run:
            wdelta = 0
            if is_up:
                is_up, transition = False, DOWN
    elif is_up:
        delay = delay_before_retry
        retry_it += 1
        retrying = True
    new = CheckerState(is_up=is_up, has_run=True, retry_it=retry_it, weight_delta=wdelta)
    return CheckerStep(new, delay, transition, retrying, not has_run)


def step_url_checker(
    state: CheckerState,
    result: CheckResult,
    *,
    url_count: int,
    retry: int,
    delay_loop: float,
    delay_before_retry: float,
    fast_recovery: bool,
) -> CheckerStep:
    """HTTP_GET / SSL_GET: one request for the url at ``state.url_it`` -> new state and delay.

    keepalived's check_http.c epilog(): one url per attempt, the next url one delay_loop
    later, so a full pass over N urls takes N delay_loops while the server is up. A failing
    url is retried (same url, after delay_before_retry) until retries run out; then the
    checker goes down, that url is remembered and re-asked every max(delay_loop,
    delay_before_retry). Once it answers, every url is checked again from the first and the
    checker comes up only when a whole pass succeeds. fast_recovery asks the next url at once
    (no delay_loop) before the first verdict and while the checker is down with no url known
    to fail. Deviation: keepalived also skips the delay after a failure in that last case,
    re-asking a failing url in a busy loop; kvrrp waits delay_before_retry there.
    """
    n = max(1, url_count)
    is_up, has_run, retry_it = state.is_up, state.has_run, state.retry_it
    url_it, failed = min(state.url_it, n - 1), state.failed_url
    transition = None
    retrying = False
    if result.ok:
        retry_it = 0
        if url_it + 1 >= n and failed is None:
            # a whole pass succeeded
            if not is_up:
                is_up, transition = True, UP
            has_run = True
            url_it = 0
        elif failed is not None:
            # the url that failed answers again: check them all, from the first
            failed, url_it = None, 0
        else:
            url_it += 1
        delay = delay_loop
        if not has_run:
            retry_it = retry                    # before the first verdict one failure is enough
        if fast_recovery and (not has_run or (not is_up and failed is None)):
            delay = 0.0
    else:
        if is_up or not has_run:
            has_run = True
            retry_it += 1
            if retry_it > retry:
                if is_up:
                    is_up, transition = False, DOWN
                failed = url_it
            else:
                retrying = True
        delay = max(delay_loop, delay_before_retry) if failed is not None else delay_before_retry
    new = CheckerState(is_up=is_up, has_run=has_run, retry_it=retry_it, weight_delta=state.weight_delta,
                       url_it=url_it, failed_url=failed)
    return CheckerStep(new, delay, transition, retrying, has_run and not state.has_run)


# ---------------------------------------------------------------------------------------------
# real server / virtual server level


def real_weight(weight: int) -> int:
    return 0 if weight < 0 else WEIGHT_MAX if weight > WEIGHT_MAX else weight


def rs_alive(checkers: Sequence[CheckerState]) -> bool:
    return all(c.is_up for c in checkers)


def rs_weight(rs: RealServer, checkers: Sequence[CheckerState], base: int | None = None) -> int:
    """The weight IPVS gets: the configured weight - or `base`, what an SNMP set of
    realServerWeight made it (keepalived's effective_weight) - plus the checkers' changes."""
    return real_weight((rs.weight if base is None else base) + sum(c.weight_delta for c in checkers))


def live_weight(vs: VirtualServer, rs_states: Mapping[RsId, Sequence[CheckerState]],
                bases: Mapping[RsId, int] | None = None) -> int:
    total = 0
    for rid, rs in iter_real_servers(vs):
        states = rs_states.get(rid, ())
        if rs_alive(states):
            total += rs_weight(rs, states, bases.get(rid) if bases else None)
    return total


def initial_quorum(weight_sum: int, quorum: int, hysteresis: int) -> bool:
    return weight_sum >= quorum + hysteresis


def step_quorum(up: bool, weight_sum: int, quorum: int, hysteresis: int) -> bool:
    """keepalived's update_quorum_state threshold logic."""
    if up:
        threshold = quorum - hysteresis
        return not (weight_sum == 0 or weight_sum < threshold)
    return weight_sum >= quorum + hysteresis


def iter_real_servers(vs: VirtualServer) -> Iterable[tuple[RsId, RealServer]]:
    vid = vs_ident(vs)
    seen: dict[tuple[str, int], int] = {}
    for rs in vs.real_servers:
        n = seen.get((rs.ip, rs.port), 0)
        seen[(rs.ip, rs.port)] = n + 1
        yield (vid, rs.ip, rs.port, n), rs


def initial_rs_states(vs: VirtualServer) -> dict[RsId, tuple[CheckerState, ...]]:
    out = {}
    for rid, rs in iter_real_servers(vs):
        out[rid] = tuple(initial_checker_state(c.alpha or rs.alpha, c.retry) for c in rs.checkers)
    return out


# ---------------------------------------------------------------------------------------------
# desired table


def vs_desired_dests(
    vs: VirtualServer,
    rs_states: Mapping[RsId, Sequence[CheckerState]],
    quorum_up: bool,
    service: ServiceKey,
    drained: Collection[RsId] = (),
    bases: Mapping[RsId, int] | None = None,
) -> list:
    """Destinations of one kernel service of ``vs`` given the reduced states. A drained real
    server (kvrrpctl rs drain) that is alive stays in the table with weight 0: its connections
    go on, no new ones are scheduled to it; health checks and quorum are not affected."""
    dests = []
    use_sorry = vs.sorry_server is not None and not quorum_up
    for rid, rs in iter_real_servers(vs):
        states = rs_states.get(rid, ())
        alive = rs_alive(states)
        if alive and not use_sorry:
            weight = 0 if rid in drained else rs_weight(rs, states, bases.get(rid) if bases else None)
            dests.append(dest_of(rs, vs, weight, service))
        elif rs.inhibit_on_failure:
            dests.append(dest_of(rs, vs, 0, service))
    if vs.sorry_server is not None:
        if use_sorry:
            dests.append(dest_of(vs.sorry_server, vs, 1, service))
        elif vs.sorry_server.inhibit:
            dests.append(dest_of(vs.sorry_server, vs, 0, service))
    # a sorry server that is also a real server: the real server's entry wins when it is in use
    merged: dict[DestKey, object] = {}
    for d in dests:
        prev = merged.get(d.key)
        if prev is None or d.weight > prev.weight:  # type: ignore[attr-defined]
            merged[d.key] = d
    return list(merged.values())


def desired_table(
    config: Config,
    rs_states: Mapping[RsId, Sequence[CheckerState]],
    quorum: Mapping[VsId, bool],
    errors: list[tuple[str, str]] | None = None,
    drained: Collection[RsId] = (),
    bases: Mapping[RsId, int] | None = None,
) -> Table:
    """The IPVS table kvrrp wants, from config + reduced states. Pure.

    A virtual server that cannot become IPVS entries raises TableError, or, when ``errors``
    is given, is left out and reported there as (VS key, reason) so the others still apply."""
    groups = group_map(config.virtual_server_groups)
    auto = auto_fwmarks(config)
    table = Table()
    for vs in config.virtual_servers:
        q = quorum.get(vs_ident(vs), True)
        try:
            services = services_of(vs, groups, auto)
            filled = [(svc, vs_desired_dests(vs, rs_states, q, svc.key, drained, bases)) for svc in services]
        except TableError as exc:
            if errors is None:
                raise
            errors.append((vs.key, str(exc)))
            continue
        for svc, dests in filled:
            entry = table.add_service(svc)
            for d in dests:
                entry.dests[d.key] = d
    return table


def declared(config: Config) -> tuple[set[ServiceKey], set[tuple[ServiceKey, DestKey]]]:
    """Every service and destination the config could ever put in the kernel: what kvrrp owns.
    (Virtual servers that cannot become IPVS entries own nothing.)"""
    groups = group_map(config.virtual_server_groups)
    auto = auto_fwmarks(config)
    services: set[ServiceKey] = set()
    dests: set[tuple[ServiceKey, DestKey]] = set()
    for vs in config.virtual_servers:
        try:
            svcs = services_of(vs, groups, auto)
            for svc in svcs:
                for server in list(vs.real_servers) + ([vs.sorry_server] if vs.sorry_server else []):
                    dest_of(server, vs, 0, svc.key)
        except TableError:
            continue
        for svc in svcs:
            services.add(svc.key)
            servers = list(vs.real_servers) + ([vs.sorry_server] if vs.sorry_server else [])
            for server in servers:
                dests.add((svc.key, dest_of(server, vs, 0, svc.key).key))
    return services, dests


def initial_states(config: Config) -> tuple[dict[RsId, tuple[CheckerState, ...]], dict[VsId, bool]]:
    """Checker states and quorum at start, before any check has run (CheckerEngine.start)."""
    states: dict[RsId, tuple[CheckerState, ...]] = {}
    for vs in config.virtual_servers:
        states.update(initial_rs_states(vs))
    quorum = {vs_ident(vs): initial_quorum(live_weight(vs, states), vs.quorum, vs.hysteresis)
              for vs in config.virtual_servers}
    return states, quorum


def initial_view(config: Config) -> tuple[dict[RsId, tuple[CheckerState, ...]], dict[VsId, bool], Table]:
    """initial_states and the desired table they give: what CheckerEngine.start applies first."""
    states, quorum = initial_states(config)
    return states, quorum, desired_table(config, states, quorum)
