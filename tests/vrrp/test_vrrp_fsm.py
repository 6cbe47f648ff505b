"""Every row of the VRRP state machine table, and every pair outside it raising."""
from __future__ import annotations

import itertools

import pytest

from kvrrp.vrrp.fsm import (TRANSITIONS, Action, Event, InvalidTransition, State, classify_advert,
                            classify_down_timer, step)

S, E, A = State, Event, Action

# Written independently of the implementation: (state, event) -> new state.
EXPECTED_NEXT = {
    (S.INIT, E.STARTUP): S.BACKUP,
    (S.INIT, E.STARTUP_OWNER): S.MASTER,
    (S.INIT, E.STARTUP_FAULT): S.FAULT,
    (S.INIT, E.SHUTDOWN): S.STOP,
    (S.INIT, E.DELETE): S.DELETED,
    (S.BACKUP, E.MASTER_DOWN_TIMER): S.MASTER,
    (S.BACKUP, E.MASTER_DOWN_SYNC_HELD): S.BACKUP,
    (S.BACKUP, E.SYNC_MASTER): S.MASTER,
    (S.BACKUP, E.ADVERT_PRIORITY_ZERO): S.BACKUP,
    (S.BACKUP, E.ADVERT_HIGHER): S.BACKUP,
    (S.BACKUP, E.ADVERT_EQUAL_HIGHER_ADDR): S.BACKUP,
    (S.BACKUP, E.ADVERT_EQUAL_LOWER_ADDR): S.BACKUP,
    (S.BACKUP, E.ADVERT_LOWER_PREEMPT_HELD): S.BACKUP,
    (S.BACKUP, E.ADVERT_LOWER): S.BACKUP,
    (S.BACKUP, E.PREEMPT_DELAY_EXPIRED): S.BACKUP,
    (S.BACKUP, E.PRIORITY_CHANGED): S.BACKUP,
    (S.BACKUP, E.TRACK_FAULT): S.FAULT,
    (S.BACKUP, E.SYNC_FAULT): S.FAULT,
    (S.BACKUP, E.SHUTDOWN): S.STOP,
    (S.BACKUP, E.DELETE): S.DELETED,
    (S.MASTER, E.ADVER_TIMER): S.MASTER,
    (S.MASTER, E.PRIORITY_CHANGED): S.MASTER,
    (S.MASTER, E.ADVERT_PRIORITY_ZERO): S.MASTER,
    (S.MASTER, E.ADVERT_HIGHER): S.BACKUP,
    (S.MASTER, E.ADVERT_EQUAL_HIGHER_ADDR): S.BACKUP,
    (S.MASTER, E.ADVERT_EQUAL_LOWER_ADDR): S.MASTER,
    (S.MASTER, E.ADVERT_LOWER): S.MASTER,
    (S.MASTER, E.ADVERT_OWNER_IGNORES): S.MASTER,
    (S.MASTER, E.TRACK_FAULT): S.FAULT,
    (S.MASTER, E.SYNC_FAULT): S.FAULT,
    (S.MASTER, E.SYNC_BACKUP): S.BACKUP,
    (S.MASTER, E.SHUTDOWN): S.STOP,
    (S.MASTER, E.DELETE): S.DELETED,
    (S.FAULT, E.TRACK_FAULT): S.FAULT,
    (S.FAULT, E.TRACK_RECOVER): S.BACKUP,
    (S.FAULT, E.TRACK_RECOVER_OWNER): S.MASTER,
    (S.FAULT, E.SYNC_BACKUP): S.BACKUP,
    (S.FAULT, E.PRIORITY_CHANGED): S.FAULT,
    (S.FAULT, E.ADVERT_HIGHER): S.FAULT,
    (S.FAULT, E.ADVERT_EQUAL_HIGHER_ADDR): S.FAULT,
    (S.FAULT, E.ADVERT_EQUAL_LOWER_ADDR): S.FAULT,
    (S.FAULT, E.ADVERT_LOWER): S.FAULT,
    (S.FAULT, E.ADVERT_PRIORITY_ZERO): S.FAULT,
    (S.FAULT, E.SHUTDOWN): S.STOP,
    (S.FAULT, E.DELETE): S.DELETED,
    # operator actions (kvrrpctl maintenance / failover)
    (S.BACKUP, E.MAINTENANCE): S.FAULT,
    (S.MASTER, E.MAINTENANCE): S.FAULT,
    (S.FAULT, E.MAINTENANCE): S.FAULT,
    (S.MASTER, E.HAND_OVER): S.BACKUP,
}


def test_table_has_exactly_the_expected_rows():
    assert set(TRANSITIONS) == set(EXPECTED_NEXT)


@pytest.mark.parametrize("pair", sorted(EXPECTED_NEXT, key=lambda p: (p[0].value, p[1].value)),
                         ids=lambda p: f"{p[0].name}-{p[1].name}")
def test_row(pair):
    new, actions = step(*pair)
    assert new is EXPECTED_NEXT[pair]
    assert all(isinstance(a, Action) for a in actions)
    state, event = pair
    becomes_master = new is S.MASTER and state is not S.MASTER
    leaves_master = state is S.MASTER and new is not S.MASTER
    # RFC 6.4.2/6.4.1: becoming master sends an advert, adds VIPs, announces them, arms Adver_Timer
    assert (A.ADD_VIPS in actions) == becomes_master
    if becomes_master:
        order = [actions.index(a) for a in (A.SEND_ADVERT, A.ADD_VIPS, A.START_GARP, A.START_ADVER_TIMER)]
        assert order == sorted(order)
    # leaving master always releases the VIPs and stops announcing them
    assert (A.REMOVE_VIPS in actions) == leaves_master
    assert (A.STOP_GARP in actions) == leaves_master
    # priority 0 goes out when a master stops, is deleted, faults or hands over - not when it yields
    assert (A.SEND_PRIORITY_ZERO in actions) == (leaves_master and (new in (S.STOP, S.DELETED, S.FAULT)
                                                                     or event is E.HAND_OVER))
    if new is S.BACKUP and state is not S.BACKUP:
        assert A.START_MASTER_DOWN_TIMER in actions
    if state is S.BACKUP and new is not S.BACKUP:
        assert A.CANCEL_PREEMPT_DELAY in actions
    if state is S.FAULT and new is S.FAULT:
        assert actions == ()      # a faulted instance ignores adverts and priority changes


def test_specific_rows():
    assert step(S.BACKUP, E.ADVERT_PRIORITY_ZERO) == (S.BACKUP, (A.START_SKEW_TIMER,))
    assert step(S.BACKUP, E.ADVERT_LOWER) == (S.BACKUP, ())            # discard, timer keeps running
    assert A.ACCEPT_MASTER in step(S.BACKUP, E.ADVERT_LOWER_PREEMPT_HELD)[1]
    assert A.START_PREEMPT_DELAY in step(S.BACKUP, E.ADVERT_LOWER_PREEMPT_HELD)[1]
    assert A.START_MASTER_DOWN_TIMER in step(S.BACKUP, E.ADVERT_HIGHER)[1]
    assert step(S.MASTER, E.ADVER_TIMER) == (S.MASTER, (A.SEND_ADVERT, A.START_ADVER_TIMER))
    assert step(S.MASTER, E.ADVERT_LOWER) == (S.MASTER, (A.ANSWER_LOWER_PRIORITY,))
    assert step(S.MASTER, E.PRIORITY_CHANGED)[1][0] is A.SEND_ADVERT
    assert step(S.BACKUP, E.PRIORITY_CHANGED) == (S.BACKUP, (A.ADJUST_MASTER_DOWN_TIMER,))
    assert A.ACCEPT_MASTER in step(S.MASTER, E.ADVERT_HIGHER)[1]
    assert step(S.MASTER, E.ADVERT_HIGHER)[1][0] is A.YIELD_ADVERT
    # a hand-over: priority 0 first (the best backup takes over at Skew_Time), then a backup
    # that waits a full Master_Down_Interval like a freshly started one
    new, actions = step(S.MASTER, E.HAND_OVER)
    assert actions[0] is A.SEND_PRIORITY_ZERO and actions[-1] is A.START_MASTER_DOWN_TIMER
    assert step(S.MASTER, E.MAINTENANCE) == step(S.MASTER, E.TRACK_FAULT)


def test_pairs_outside_the_table_raise():
    outside = [p for p in itertools.product(State, Event) if p not in EXPECTED_NEXT]
    assert len(outside) > 50
    for state, event in outside:
        with pytest.raises(InvalidTransition) as err:
            step(state, event)
        assert err.value.state is state and err.value.event is event
        assert state.name in str(err.value) and event.name in str(err.value)


def test_terminal_states_accept_nothing():
    for event in Event:
        for state in (S.STOP, S.DELETED):
            with pytest.raises(InvalidTransition):
                step(state, event)


@pytest.mark.parametrize("state,remote,local,raddr,laddr,held,expected", [
    (S.BACKUP, 0, 100, "198.18.0.1", "198.18.0.2", False, E.ADVERT_PRIORITY_ZERO),
    (S.BACKUP, 150, 100, "198.18.0.1", "198.18.0.2", False, E.ADVERT_HIGHER),
    (S.BACKUP, 50, 100, "198.18.0.1", "198.18.0.2", False, E.ADVERT_LOWER),
    (S.BACKUP, 50, 100, "198.18.0.1", "198.18.0.2", True, E.ADVERT_LOWER_PREEMPT_HELD),
    (S.MASTER, 50, 100, "198.18.0.1", "198.18.0.2", True, E.ADVERT_LOWER),      # held is a backup notion
    (S.MASTER, 100, 100, "198.18.0.9", "198.18.0.10", False, E.ADVERT_EQUAL_LOWER_ADDR),   # numeric, not text
    (S.MASTER, 100, 100, "198.18.0.10", "198.18.0.9", False, E.ADVERT_EQUAL_HIGHER_ADDR),
    (S.MASTER, 100, 100, "fe80::2", "fe80::10", False, E.ADVERT_EQUAL_LOWER_ADDR),
    (S.MASTER, 100, 100, "198.18.0.1", None, False, E.ADVERT_EQUAL_HIGHER_ADDR),
    (S.MASTER, 255, 254, "198.18.0.1", "198.18.0.2", False, E.ADVERT_HIGHER),
])
def test_classify_advert(state, remote, local, raddr, laddr, held, expected):
    assert classify_advert(state, remote, local, raddr, laddr, held) is expected


def test_owner_ignore_adverts_and_sync_hold_back_are_classified():
    # owner_ignore_adverts: a MASTER owner acts on no advert, not even priority 0 or higher
    for prio in (0, 100, 255):
        assert classify_advert(S.MASTER, prio, 255, "198.18.0.1", "198.18.0.2", False, True) is E.ADVERT_OWNER_IGNORES
    assert classify_advert(S.BACKUP, 255, 255, "198.18.0.1", "198.18.0.2", False, True) is not E.ADVERT_OWNER_IGNORES
    assert step(S.MASTER, E.ADVERT_OWNER_IGNORES) == (S.MASTER, ())
    assert classify_down_timer(True) is E.MASTER_DOWN_TIMER
    assert classify_down_timer(False) is E.MASTER_DOWN_SYNC_HELD
    assert step(S.BACKUP, E.MASTER_DOWN_SYNC_HELD) == (S.BACKUP, (A.WAIT_FOR_SYNC_GROUP, A.START_MASTER_DOWN_TIMER))
