"""Which tracked object moves which instance, by how much: built from the config, pure.

keepalived's rules, applied here so the runtime only maps health to status:

* A ``track_*`` entry's own ``weight W [reverse]`` overrides the tracked object's weight;
  without it scripts/files/processes use their block's weight (and reverse), interfaces have
  weight 0 (down = FAULT).
* The instance's own interface is tracked (down = FAULT) unless ``dont_track_primary``.
* An instance in a sync group without ``sync_group_tracking_weight`` may not float its
  priority: weighted interfaces become weight 0, weighted scripts are ignored, a file tracked
  with the default weight 1 becomes weight 0 and with another weight is ignored (keepalived
  logs each; so do we, through ``warnings``).
* An address owner (priority 255) never changes priority: weighted interfaces, scripts and
  files are dropped.
* Trackers in a ``vrrp_sync_group`` apply to every member, with their weights (cleared to 0
  when a member is an address owner).
* One interface, one tracker per instance (keepalived's add_vrrp_to_interface): a sync group's
  track_interface naming an interface the member already tracks (its own interface, or one of
  its track_interface entries) does not add a second one; the member's entry takes the
  group's weight, unless it was written unweighted (then it stays so: down = FAULT, no
  weight). A weight cleared by the sync group rule above counts as written: keepalived
  registers the tracker with it before clearing it.

Each binding has a key unique per instance: "<kind>:<name>" for the instance's own entries,
"<kind>:<name>@<group>" for a sync group's, "interface:<if>#primary" for the own interface.
"""
from __future__ import annotations

from dataclasses import dataclass

from kvrrp.config.model import Config, SyncGroup, TrackRef
from kvrrp.track.weights import check_weight

SCRIPT, INTERFACE, FILE, PROCESS, BFD = "script", "interface", "file", "process", "bfd"


@dataclass(frozen=True, slots=True)
class Binding:
    instance: str
    key: str             # engine tracker key, unique per instance
    kind: str            # script | interface | file | process | bfd
    target: str          # script / track_file / track_process / bfd_instance name, or interface name
    weight: int
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    bindings: tuple[Binding, ...]
    warnings: tuple[str, ...]

    def of_kind(self, kind: str) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.kind == kind)

    def targets(self, kind: str) -> set[str]:
        return {b.target for b in self.bindings if b.kind == kind}


def _object_weight(config: Config, kind: str, ref: TrackRef) -> tuple[int, bool] | None:
    """(weight, reverse) of one entry, or None when the tracked block does not exist."""
    if kind == INTERFACE:
        return ref.weight or 0, ref.reverse
    block = None
    if kind == SCRIPT:
        block = config.script(ref.name)
    elif kind == FILE:
        block = next((f for f in config.track_files if f.name == ref.name), None)
    elif kind == PROCESS:
        block = next((p for p in config.track_processes if p.name == ref.name), None)
    elif kind == BFD:
        # keepalived: a bfd_instance limited to the checker process ('checker' alone) is unknown here
        block = next((b for b in config.bfd_instances if b.name == ref.name and b.vrrp), None)
    if block is None:
        return None
    weight = ref.weight if ref.weight is not None else block.weight
    return weight, block.weight_reverse or ref.reverse


_KIND_REFS = ((INTERFACE, "track_interfaces"), (SCRIPT, "track_scripts"),
              (FILE, "track_files"), (PROCESS, "track_processes"), (BFD, "track_bfds"))


def build_plan(config: Config) -> Plan:
    bindings: list[Binding] = []
    warnings: list[str] = []
    group_of: dict[str, SyncGroup] = {}
    for sg in config.sync_groups:
        for member in sg.group:
            group_of[member] = sg
    instances = {i.name: i for i in config.instances}
    weight_cleared: set[tuple[str, str]] = set()        # (instance, interface) weights set to 0

    for inst in config.instances:
        sg = group_of.get(inst.name)
        no_float = sg is not None and not sg.sync_group_tracking_weight
        owner = inst.priority == 255
        why = "SYNC group" if no_float else "address owner"
        if inst.interface and not inst.dont_track_primary:
            bindings.append(Binding(inst.name, f"interface:{inst.interface}#primary", INTERFACE, inst.interface, 0))
        for kind, attr in _KIND_REFS:
            for ref in getattr(inst, attr):
                wr = _object_weight(config, kind, ref)
                if wr is None:
                    warnings.append(f"({inst.name}) tracked {kind} {ref.name} is not defined - ignoring")
                    continue
                weight, reverse = check_weight(wr[0]), wr[1]
                if weight and (no_float or owner):
                    if kind == INTERFACE:
                        if no_float:
                            warnings.append(f"({inst.name}) ignoring {ref.name} tracked interface weight due to {why}")
                            weight = 0
                            weight_cleared.add((inst.name, ref.name))
                        else:
                            warnings.append(f"({inst.name}) ignoring {ref.name} tracked interface due to {why}")
                            continue
                    elif kind == FILE and weight == 1:
                        warnings.append(f"({inst.name}) ignoring weight from tracked file {ref.name} due to {why}. specify weight 0")
                        weight = 0
                    elif kind in (SCRIPT, FILE, BFD):
                        warnings.append(f"({inst.name}) ignoring tracked {kind} {ref.name} with weight {weight} due to {why}")
                        continue
                    elif kind == PROCESS and owner:
                        continue
                bindings.append(Binding(inst.name, f"{kind}:{ref.name}", kind, ref.name, weight, reverse))

    for sg in config.sync_groups:
        members = [instances[m] for m in sg.group if m in instances]
        has_owner = any(m.priority == 255 for m in members)
        for kind, attr in _KIND_REFS:
            for ref in getattr(sg, attr):
                wr = _object_weight(config, kind, ref)
                if wr is None:
                    warnings.append(f"({sg.name}) tracked {kind} {ref.name} is not defined - ignoring")
                    continue
                weight, reverse = check_weight(wr[0]), wr[1]
                if weight and has_owner:
                    warnings.append(f"({sg.name}) Cannot have weighted track {kind} '{ref.name}' with member having priority 255 - setting weight 0")
                    weight = 0
                for m in members:
                    if kind == INTERFACE:
                        own = next((n for n, b in enumerate(bindings) if b.instance == m.name and b.kind == INTERFACE
                                    and b.target == ref.name and "@" not in b.key), None)
                        if own is not None:
                            warnings.append(f"({m.name}) track_interface {ref.name} is configured on VRRP instance "
                                            f"and sync group. Remove vrrp instance or sync group config")
                            if bindings[own].weight or (m.name, ref.name) in weight_cleared:
                                bindings[own] = Binding(m.name, bindings[own].key, INTERFACE, ref.name, weight, reverse)
                            continue
                    bindings.append(Binding(m.name, f"{kind}:{ref.name}@{sg.name}", kind, ref.name, weight, reverse))
    return Plan(bindings=tuple(bindings), warnings=tuple(warnings))
