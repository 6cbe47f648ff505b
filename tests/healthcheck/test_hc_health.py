"""The pure reducer: keepalived's retry / alpha / quorum / sorry server semantics."""
from __future__ import annotations

import pytest
from hc_builders import SorryServer, cfg, rs, vs

from healthcheck.health import (
    DOWN,
    UP,
    CheckerState,
    CheckResult,
    desired_table,
    iter_real_servers,
    initial_checker_state,
    initial_quorum,
    initial_rs_states,
    live_weight,
    real_weight,
    rs_alive,
    rs_weight,
    step_checker,
    step_quorum,
    step_url_checker,
)
from healthcheck.table import vs_ident

OK = CheckResult(True)
FAIL = CheckResult(False, "refused")


def run(state, results, retry=2, loop=10.0, dbr=3.0):
    out = []
    for r in results:
        s = step_checker(state, r, retry=retry, delay_loop=loop, delay_before_retry=dbr)
        out.append((s.transition, s.delay, s.state.is_up))
        state = s.state
    return state, out


def test_initial_state_non_alpha_first_failure_is_enough():
    st = initial_checker_state(alpha=False, retry=3)
    assert st.is_up and st.retry_it == 3 and not st.has_run
    _, out = run(st, [FAIL], retry=3)
    assert out == [(DOWN, 10.0, False)]


def test_retries_after_first_success():
    st = initial_checker_state(alpha=False, retry=2)
    st, out = run(st, [OK, FAIL, FAIL, FAIL], retry=2)
    # success keeps it up; two failures are retried after delay_before_retry; the third takes it down
    assert out == [(None, 10.0, True), (None, 3.0, True), (None, 3.0, True), (DOWN, 10.0, False)]
    assert st.retry_it == 0


def test_success_during_retries_resets_counter():
    st = initial_checker_state(alpha=False, retry=2)
    st, out = run(st, [OK, FAIL, OK, FAIL, FAIL, FAIL], retry=2)
    assert [o[0] for o in out] == [None, None, None, None, None, DOWN]
    assert [o[1] for o in out] == [10.0, 3.0, 10.0, 3.0, 3.0, 10.0]


def test_down_stays_down_at_delay_loop_then_one_success_brings_up():
    st = initial_checker_state(alpha=False, retry=1)
    st, out = run(st, [FAIL, FAIL, FAIL, OK, FAIL], retry=1)
    assert out == [(DOWN, 10.0, False), (None, 10.0, False), (None, 10.0, False), (UP, 10.0, True),
                   (None, 3.0, True)]


def test_retry_zero_goes_down_on_first_failure():
    st = initial_checker_state(alpha=False, retry=0)
    st, out = run(st, [OK, FAIL], retry=0)
    assert out == [(None, 10.0, True), (DOWN, 10.0, False)]


def test_alpha_starts_down_until_first_success():
    st = initial_checker_state(alpha=True, retry=3)
    assert not st.is_up
    st, out = run(st, [FAIL, FAIL, OK], retry=3)
    assert out == [(None, 10.0, False), (None, 10.0, False), (UP, 10.0, True)]


def test_first_run_flag():
    st = initial_checker_state(alpha=True, retry=1)
    s1 = step_checker(st, FAIL, retry=1, delay_loop=1, delay_before_retry=1)
    s2 = step_checker(s1.state, FAIL, retry=1, delay_loop=1, delay_before_retry=1)
    assert s1.first_run and not s2.first_run


def test_dynamic_weight_delta_applied_on_success_cleared_on_down():
    st = initial_checker_state(alpha=False, retry=0)
    s = step_checker(st, CheckResult(True, weight_delta=5), retry=0, delay_loop=1, delay_before_retry=1)
    assert s.state.weight_delta == 5
    s = step_checker(s.state, CheckResult(True), retry=0, delay_loop=1, delay_before_retry=1)
    assert s.state.weight_delta == 5
    s = step_checker(s.state, FAIL, retry=0, delay_loop=1, delay_before_retry=1)
    assert s.state.weight_delta == 0 and s.transition == DOWN


def test_real_weight_clamps():
    assert real_weight(-5) == 0 and real_weight(2**40) == 2**31 - 1 and real_weight(7) == 7


def test_rs_alive_needs_every_checker_up():
    up, down = CheckerState(True), CheckerState(False)
    assert rs_alive(()) and rs_alive((up, up)) and not rs_alive((up, down))


def test_rs_weight_adds_deltas():
    r = rs("198.18.1.1", weight=10)
    assert rs_weight(r, (CheckerState(True, weight_delta=-3), CheckerState(True, weight_delta=1))) == 8


def test_an_snmp_set_weight_replaces_the_configured_one_under_the_deltas():
    # keepalived's realServerWeight write sets the effective weight; MISC_CHECK's later
    # changes are relative to it (check_misc.c), so the deltas stay on top of the base
    r = rs("198.18.1.1", weight=10)
    deltas = (CheckerState(True, weight_delta=-3),)
    assert rs_weight(r, deltas, base=40) == 37 and rs_weight(r, (), base=-5) == 0
    v = vs("198.18.0.1", 80, r, rs("198.18.1.2", weight=2))
    states = {rid: () for rid, _ in iter_real_servers(v)}
    rid1 = next(iter(states))
    assert live_weight(v, states) == 12 and live_weight(v, states, {rid1: 0}) == 2
    table = desired_table(cfg(v), states, {}, bases={rid1: 7})
    assert sorted(d.weight for e in table.entries.values() for d in e.dests.values()) == [2, 7]


@pytest.mark.parametrize(
    "up,weight,quorum,hyst,expected",
    [
        (False, 3, 3, 0, True),
        (False, 3, 3, 1, False),   # needs quorum + hysteresis to gain
        (False, 4, 3, 1, True),
        (True, 2, 3, 1, True),     # keeps it down to quorum - hysteresis
        (True, 1, 3, 1, False),
        (True, 0, 0, 0, False),    # zero live weight always loses quorum
        (True, 2, 3, 0, False),
    ],
)
def test_quorum_hysteresis(up, weight, quorum, hyst, expected):
    assert step_quorum(up, weight, quorum, hyst) is expected


def test_initial_quorum_needs_quorum_plus_hysteresis():
    assert initial_quorum(4, 3, 1) and not initial_quorum(3, 3, 1)


def _states(v, downs=()):
    st = initial_rs_states(v)
    return {rid: tuple(CheckerState(rid[1] not in downs, True) for _ in s) for rid, s in st.items()}


def test_desired_table_removes_dead_and_inhibits():
    v = vs("198.18.0.1", 80, rs("198.18.1.1", weight=2), rs("198.18.1.2", inhibit=True), rs("198.18.1.3"))
    c = cfg(v)
    t = desired_table(c, _states(v, downs={"198.18.1.2", "198.18.1.3"}), {})
    assert t.weights() == {"[198.18.0.1]:tcp:80": {"[198.18.1.1]:80": 2, "[198.18.1.2]:80": 0}}


def test_alpha_real_server_absent_at_start():
    v = vs("198.18.0.1", 80, rs("198.18.1.1", alpha=True), rs("198.18.1.2"))
    t = desired_table(cfg(v), initial_rs_states(v), {})
    assert t.weights() == {"[198.18.0.1]:tcp:80": {"[198.18.1.2]:80": 1}}


def test_sorry_server_replaces_pool_when_quorum_lost():
    v = vs("198.18.0.1", 80, rs("198.18.1.1"), rs("198.18.1.2", inhibit=True), quorum=2,
           sorry_server=SorryServer(ip="198.18.9.9", port=8080))
    states = _states(v, downs={"198.18.1.2"})
    assert live_weight(v, states) == 1
    t = desired_table(cfg(v), states, {vs_ident(v): False})
    assert t.weights() == {"[198.18.0.1]:tcp:80": {"[198.18.1.2]:80": 0, "[198.18.9.9]:8080": 1}}
    t = desired_table(cfg(v), _states(v), {vs_ident(v): True})
    assert t.weights() == {"[198.18.0.1]:tcp:80": {"[198.18.1.1]:80": 1, "[198.18.1.2]:80": 1}}


def test_sorry_server_inhibit_kept_at_weight_zero():
    v = vs("198.18.0.1", 80, rs("198.18.1.1"), sorry_server=SorryServer(ip="198.18.9.9", port=80, inhibit=True))
    t = desired_table(cfg(v), _states(v), {vs_ident(v): True})
    assert t.weights()["[198.18.0.1]:tcp:80"] == {"[198.18.1.1]:80": 1, "[198.18.9.9]:80": 0}
    t = desired_table(cfg(v), _states(v, downs={"198.18.1.1"}), {vs_ident(v): False})
    assert t.weights()["[198.18.0.1]:tcp:80"] == {"[198.18.9.9]:80": 1}


def test_quorum_down_without_sorry_server_keeps_live_servers():
    v = vs("198.18.0.1", 80, rs("198.18.1.1"), rs("198.18.1.2"), quorum=5)
    t = desired_table(cfg(v), _states(v, downs={"198.18.1.2"}), {vs_ident(v): False})
    assert t.weights()["[198.18.0.1]:tcp:80"] == {"[198.18.1.1]:80": 1}


def test_real_server_without_checkers_is_always_up():
    v = vs("198.18.0.1", 80, rs("198.18.1.1", checks=0))
    t = desired_table(cfg(v), {}, {})
    assert t.weights()["[198.18.0.1]:tcp:80"] == {"[198.18.1.1]:80": 1}


def test_two_checkers_one_down_takes_server_down():
    v = vs("198.18.0.1", 80, rs("198.18.1.1", checks=2))
    (rid,) = initial_rs_states(v)
    t = desired_table(cfg(v), {rid: (CheckerState(True), CheckerState(False))}, {})
    assert t.weights()["[198.18.0.1]:tcp:80"] == {}


# ---------------------------------------------------------------------------------------------
# property: the pure step equals a line-by-line model of keepalived's tcp_epilog() +
# update_svr_checker_state() (check_tcp.c / ipwrapper.c), written in its mutable style

from hypothesis import given, settings
from hypothesis import strategies as hs


class KeepalivedChecker:
    def __init__(self, alpha, retry, delay_loop, delay_before_retry):
        self.is_up = not alpha          # set_checker_state(checker, false) under alpha
        self.has_run = False
        self.retry_it = retry           # "one failure is enough initially"
        self.retry = retry
        self.delay_loop, self.delay_before_retry = delay_loop, delay_before_retry

    def epilog(self, is_success):
        delay = self.delay_loop
        changed = None
        if is_success or ((self.is_up or not self.has_run) and self.retry_it >= self.retry):
            self.retry_it = 0
            if is_success and (not self.is_up or not self.has_run):
                if not self.is_up:
                    changed = UP
                self.is_up = True
            elif not is_success and (self.is_up or not self.has_run):
                if self.is_up:
                    changed = DOWN
                self.is_up = False
        elif self.is_up:
            delay = self.delay_before_retry
            self.retry_it += 1
        self.has_run = True
        return delay, changed


@settings(max_examples=300, deadline=None)
@given(alpha=hs.booleans(), retry=hs.integers(0, 4), results=hs.lists(hs.booleans(), max_size=40))
def test_step_checker_matches_keepalived_model(alpha, retry, results):
    model = KeepalivedChecker(alpha, retry, 10.0, 2.0)
    state = initial_checker_state(alpha, retry)
    for ok in results:
        delay, changed = model.epilog(ok)
        step = step_checker(state, OK if ok else FAIL, retry=retry, delay_loop=10.0, delay_before_retry=2.0)
        state = step.state
        assert (step.delay, step.transition) == (delay, changed)
        assert (state.is_up, state.has_run, state.retry_it) == (model.is_up, model.has_run, model.retry_it)


# ---------------------------------------------------------------------------------------------
# HTTP_GET / SSL_GET urls (keepalived's check_http.c epilog)


def _url_steps(results, *, state=None, url_count=3, retry=1, fast_recovery=False, alpha=False):
    st = state or initial_checker_state(alpha, retry)
    out = []
    for ok in results:
        step = step_url_checker(st, OK if ok else FAIL, url_count=url_count, retry=retry, delay_loop=10.0,
                                delay_before_retry=2.0, fast_recovery=fast_recovery)
        out.append((st.url_it, step.delay, step.transition))
        st = step.state
    return st, out


def test_url_checker_asks_one_url_per_delay_loop():
    st, out = _url_steps([True] * 7)
    assert [(u, d) for u, d, _ in out] == [(0, 10.0), (1, 10.0), (2, 10.0), (0, 10.0), (1, 10.0), (2, 10.0),
                                           (0, 10.0)]
    assert st.is_up and st.has_run and all(t is None for _, _, t in out)


def test_url_checker_retries_the_failing_url_then_goes_down_and_rechecks_every_url():
    st, _ = _url_steps([True] * 3)                       # first pass done: has_run
    st, out = _url_steps([True, False, False, False, True, True, True, True], state=st)
    assert out == [
        (0, 10.0, None),
        (1, 2.0, None),           # url 1 fails: retried after delay_before_retry
        (1, 10.0, DOWN),          # retries exhausted: down, url 1 remembered
        (1, 10.0, None),          # still failing: max(delay_loop, delay_before_retry)
        (1, 10.0, None),          # it answers: every url again from the first
        (0, 10.0, None),
        (1, 10.0, None),
        (2, 10.0, UP),            # up only after a whole pass
    ]
    assert st.is_up and st.failed_url is None and st.url_it == 0


def test_url_checker_first_failure_is_enough_initially():
    st, out = _url_steps([True, False], retry=3)
    assert out[-1] == (1, 10.0, DOWN) and st.failed_url == 1


def test_url_checker_fast_recovery_skips_delay_loop_until_a_verdict_and_while_recovering():
    st, out = _url_steps([True, True, True, True], alpha=True, fast_recovery=True)
    assert out == [(0, 0.0, None), (1, 0.0, None), (2, 10.0, UP), (0, 10.0, None)]
    st, out = _url_steps([False, False, True, True, True, True], state=st, fast_recovery=True)
    assert out == [(1, 2.0, None), (1, 10.0, DOWN), (1, 0.0, None), (0, 0.0, None), (1, 0.0, None),
                   (2, 10.0, UP)]
