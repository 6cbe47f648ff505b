"""The AgentX set transaction (RFC 2741 7.2.4), without I/O.

A master agent sets objects in four phases, all carrying one transaction id:

- TestSet: every varbind is checked (type, value, is the object writable, does its row exist);
  nothing changes. The first refused varbind's error and 1-based index are the answer.
- CommitSet: the checked changes are made, in varbind order. A change that fails undoes the
  ones made before it and answers commitFailed.
- UndoSet: after a CommitSet (another subagent's commit failed), the changes are undone in
  reverse order; a failing undo answers undoFailed.
- CleanupSet: the transaction is forgotten (no answer is sent).

What a varbind may change is the caller's business: a `Checker` takes a varbind and returns
either an SNMP error (an int: wrongType, wrongValue, notWritable, ...) or a `Change` - a
function that makes the change and returns the function that takes it back.

net-snmp, which keepalived's subagent uses, changes values only at CleanupSet (its COMMIT
mode comes after ACTION succeeded); kvrrp changes them at CommitSet as the RFC describes and
takes them back at UndoSet. A manager sees the same: the values are in place once its set
answered noError.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Union

from kvrrp.snmp import agentx
from kvrrp.snmp.agentx import VarBind

log = logging.getLogger("kvrrp.snmp")

Undo = Callable[[], None]
Change = Callable[[], Undo]
Checker = Callable[[VarBind], Union[int, Change]]

def refreshing(result: Union[int, Change], refresh: Callable[[], None]) -> Union[int, Change]:
    """A checker's result whose change and undo each call `refresh` after them (the agents
    rebuild their tables so that the very next Get shows the new value); errors pass as they are."""
    if isinstance(result, int):
        return result
    change = result

    def commit() -> Undo:
        undo = change()
        refresh()

        def take_back() -> None:
            undo()
            refresh()
        return take_back
    return commit


MAX_OPEN = 16     # transactions tested but never cleaned up (a master that lost track) are dropped


@dataclass
class Transaction:
    changes: list[Change]
    undos: list[Undo] = field(default_factory=list)
    committed: bool = False


class SetTransactions:
    """The set transactions of one AgentX session, by transaction id."""

    def __init__(self, check: Checker) -> None:
        self.check = check
        self._open: dict[int, Transaction] = {}
        self.counters = {"sets_tested": 0, "sets_committed": 0, "sets_undone": 0, "sets_failed": 0}

    def test(self, transaction_id: int, varbinds: list[VarBind]) -> tuple[int, int]:
        """TestSet -> (error, index). On noError the changes wait for CommitSet."""
        self.counters["sets_tested"] += 1
        self._open.pop(transaction_id, None)
        changes: list[Change] = []
        for i, vb in enumerate(varbinds, 1):
            try:
                result = self.check(vb)
            except Exception:  # noqa: BLE001 - a bug in a check must not end the session
                log.exception("SNMP: checking a set of %s failed", vb.oid)
                result = agentx.GEN_ERR
            if isinstance(result, int):
                return result, i
            changes.append(result)
        while len(self._open) >= MAX_OPEN:
            self._open.pop(next(iter(self._open)))
        self._open[transaction_id] = Transaction(changes)
        return agentx.NO_ERROR, 0

    def commit(self, transaction_id: int) -> tuple[int, int]:
        """CommitSet -> (error, index): processingError for a transaction not tested (net-snmp
        answers the same), commitFailed (index of the change) when a change fails."""
        tx = self._open.get(transaction_id)
        if tx is None or tx.committed:
            return agentx.PROCESSING_ERROR, 0
        tx.committed = True
        for i, change in enumerate(tx.changes, 1):
            try:
                tx.undos.append(change())
            except Exception:  # noqa: BLE001 - an instance gone since TestSet, a bug
                log.exception("SNMP: a set failed while committing")
                self.counters["sets_failed"] += 1
                self._undo(tx)
                return agentx.COMMIT_FAILED, i
        self.counters["sets_committed"] += 1
        return agentx.NO_ERROR, 0

    def undo(self, transaction_id: int) -> tuple[int, int]:
        """UndoSet -> (error, index): only after a CommitSet (processingError otherwise)."""
        tx = self._open.get(transaction_id)
        if tx is None or not tx.committed:
            return agentx.PROCESSING_ERROR, 0
        self.counters["sets_undone"] += 1
        return self._undo(tx)

    def cleanup(self, transaction_id: int) -> None:
        self._open.pop(transaction_id, None)

    def reset(self) -> None:
        """The session ended: its transactions with it (committed changes stay, as in net-snmp)."""
        self._open.clear()

    @staticmethod
    def _undo(tx: Transaction) -> tuple[int, int]:
        failed = 0
        while tx.undos:
            i = len(tx.undos)
            undo = tx.undos.pop()
            try:
                undo()
            except Exception:  # noqa: BLE001 - undo what can be undone, report the first failure
                log.exception("SNMP: undoing a set failed")
                failed = i
        return (agentx.UNDO_FAILED, failed) if failed else (agentx.NO_ERROR, 0)
