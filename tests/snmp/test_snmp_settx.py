"""kvrrp.snmp.settx: the AgentX set transaction (RFC 2741 7.2.4), pure - checks, commit in
order, undo in reverse, a failing varbind refusing the whole TestSet with its index, a commit
that fails half-way taking back what it made, and the phases out of order."""
from __future__ import annotations

from kvrrp.snmp import agentx
from kvrrp.snmp.agentx import VarBind
from kvrrp.snmp.settx import MAX_OPEN, SetTransactions

K = (1, 3, 6, 1, 4, 1, 9586, 100, 5, 2, 3, 1)


class Store:
    """A few integer objects: K.(n) writable for n < 10, values 1..255."""

    def __init__(self) -> None:
        self.values = {1: 100, 2: 100, 3: 100}
        self.log: list[tuple] = []
        self.broken: set[int] = set()

    def check(self, vb: VarBind):
        n = vb.oid[-1]
        if vb.oid[:-1] != K or n not in self.values:
            return agentx.NOT_WRITABLE
        if vb.type != agentx.INTEGER:
            return agentx.WRONG_TYPE
        if not 1 <= vb.value <= 255:
            return agentx.WRONG_VALUE

        def commit():
            if n in self.broken:
                raise RuntimeError("gone")
            old, self.values[n] = self.values[n], vb.value
            self.log.append(("set", n, vb.value))

            def undo():
                self.values[n] = old
                self.log.append(("undo", n, old))
            return undo
        return commit


def vb(n: int, value, vtype: int = agentx.INTEGER) -> VarBind:
    return VarBind(K + (n,), vtype, value)


def test_commit_in_order_then_cleanup():
    store = Store()
    tx = SetTransactions(store.check)
    assert tx.test(1, [vb(1, 200), vb(2, 50)]) == (agentx.NO_ERROR, 0)
    assert store.values == {1: 100, 2: 100, 3: 100}                 # TestSet changes nothing
    assert tx.commit(1) == (agentx.NO_ERROR, 0)
    assert store.values == {1: 200, 2: 50, 3: 100} and store.log == [("set", 1, 200), ("set", 2, 50)]
    tx.cleanup(1)
    assert tx.undo(1) == (agentx.PROCESSING_ERROR, 0)               # forgotten
    assert tx.counters["sets_committed"] == 1


def test_one_bad_varbind_refuses_the_whole_set_with_its_index():
    store = Store()
    tx = SetTransactions(store.check)
    assert tx.test(2, [vb(1, 200), vb(2, 256), vb(3, 7)]) == (agentx.WRONG_VALUE, 2)
    assert tx.test(3, [vb(1, 200), vb(3, b"x", agentx.OCTET_STRING)]) == (agentx.WRONG_TYPE, 2)
    assert tx.test(4, [vb(9, 1)]) == (agentx.NOT_WRITABLE, 1)
    # the master answers a refused TestSet with CleanupSet: nothing was changed, nothing is
    assert tx.commit(2) == (agentx.PROCESSING_ERROR, 0)
    tx.cleanup(2)
    assert store.values == {1: 100, 2: 100, 3: 100} and store.log == []
    assert tx.counters["sets_tested"] == 3 and tx.counters["sets_committed"] == 0


def test_undo_takes_every_change_back_in_reverse():
    store = Store()
    tx = SetTransactions(store.check)
    tx.test(5, [vb(1, 10), vb(2, 20), vb(3, 30)])
    tx.commit(5)
    # another subagent's CommitSet failed: the master sends UndoSet
    assert tx.undo(5) == (agentx.NO_ERROR, 0)
    assert store.values == {1: 100, 2: 100, 3: 100}
    assert store.log[3:] == [("undo", 3, 100), ("undo", 2, 100), ("undo", 1, 100)]


def test_a_commit_failing_half_way_undoes_what_it_made():
    store = Store()
    tx = SetTransactions(store.check)
    store.broken.add(3)
    assert tx.test(6, [vb(1, 10), vb(2, 20), vb(3, 30)]) == (agentx.NO_ERROR, 0)
    assert tx.commit(6) == (agentx.COMMIT_FAILED, 3)
    assert store.values == {1: 100, 2: 100, 3: 100}
    assert tx.undo(6) == (agentx.NO_ERROR, 0)                        # nothing left to undo
    assert tx.counters["sets_failed"] == 1


def test_phases_out_of_order_and_a_failing_undo():
    store = Store()
    tx = SetTransactions(store.check)
    assert tx.commit(7) == (agentx.PROCESSING_ERROR, 0)               # no TestSet
    tx.test(7, [vb(1, 10)])
    assert tx.undo(7) == (agentx.PROCESSING_ERROR, 0)                 # not committed
    assert tx.commit(7) == (agentx.NO_ERROR, 0)
    assert tx.commit(7) == (agentx.PROCESSING_ERROR, 0)               # twice

    def boom(_vb):
        def commit():
            def undo():
                raise RuntimeError("cannot")
            return undo
        return commit
    tx2 = SetTransactions(boom)
    tx2.test(1, [vb(1, 1), vb(2, 1)])
    tx2.commit(1)
    assert tx2.undo(1) == (agentx.UNDO_FAILED, 1)


def test_a_checker_bug_is_genErr_and_stale_transactions_are_bounded():
    def bug(_vb):
        raise KeyError("oops")
    tx = SetTransactions(bug)
    assert tx.test(1, [vb(1, 1)]) == (agentx.GEN_ERR, 1)
    store = Store()
    tx = SetTransactions(store.check)
    for t in range(MAX_OPEN + 5):
        tx.test(t, [vb(1, 10)])
    assert len(tx._open) == MAX_OPEN and tx.commit(0) == (agentx.PROCESSING_ERROR, 0)
    assert tx.commit(MAX_OPEN + 4) == (agentx.NO_ERROR, 0)
