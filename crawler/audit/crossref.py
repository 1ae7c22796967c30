"""The rules that need more than one function: dangling FC destinations, loops across functions, and
aliases or versions invoked without a config of their own.

``AuditFold`` hands every finished function to ``CrossRef.add_function``, every config to
``add_config`` and every FC-function destination to ``add_edge``; the rules run once the input is over
(``hits``). What is kept per function and per config is one hash each (Python's 64-bit hash of the key
tuple; a collision between two of a million keys has odds of about 1 in 10^7): that the function exists,
which functions have an onFailure destination on LATEST, which versions and aliases have a config. Only
the FC destinations themselves (rare) are kept whole. So memory grows with the estate, but by tens of
bytes per function and config, unlike the rest of the fold (bounded).

Names: an FC 2.0 destination names ``services/{service}[.{qualifier}]/functions/{function}``; an FC 3.0
one ``functions/{name}``, where ``{service}${function}`` is an FC 2.0 function and a name without ``$``
a function created in FC 3.0, which the crawl records with service ``""`` (``wire.fc3_client``).

What each rule may conclude:

- ``dangling-fc-destination``: only for a destination in an (account, region) that a run of this input
  crawled *completely*: its end record says complete, and it was not a shard, a ``--targets`` pairs
  run or a filtered one (``complete_targets``). A function in ``error`` exists; ``gone`` does not. The
  crawl does not list aliases or versions, so a destination's qualifier is not judged.
- ``destination-cycle``: the graph's nodes are (function, qualifier) pairs whose config has an FC
  destination; an edge is such a destination (either side) to another function's qualifier that is a
  node too (a qualifier without an FC destination ends the chain: no loop goes through it). Every node
  of a strongly connected component of two or more nodes gets one finding, with one loop through it.
- ``qualifier-gap``: a qualifier other than LATEST that the input shows being invoked (an FC
  destination names it, or a trigger record carries it) and that has no config of its own, on a
  function whose LATEST config has a failure destination. FC configures async invocation per version
  and alias and a published version does not take LATEST's (docs/rules.md cites the pages), so that
  qualifier runs on the platform defaults: no failure destination.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from crawler.audit.arns import Destination
from crawler.audit.catalogue import DANGLING_FC_DESTINATION, DESTINATION_CYCLE, QUALIFIER_GAP, Hit
from crawler.store.records import LATEST

FnKey = tuple[str, str, str, str]
#: account, region, service, function, qualifier
Node = tuple[str, str, str, str, str]
Target = tuple[str, str]

_DANGLING: Final = DANGLING_FC_DESTINATION.rule_id
_CYCLE: Final = DESTINATION_CYCLE.rule_id
_GAP: Final = QUALIFIER_GAP.rule_id


@dataclass(frozen=True, slots=True)
class Edge:
    source: Node
    side: str
    destination: Destination
    line: int


@dataclass(frozen=True, slots=True)
class CrossHit:
    """A hit of one of these rules, on one function and qualifier, at the line of its function record."""

    hit: Hit
    key: FnKey
    qualifier: str | None
    line: int


def label(node: Node) -> str:
    return f"{node[2]}/{node[3]}:{node[4]}"


def complete_targets(runs: Iterable[Sequence[Any]]) -> set[Target]:
    """The (account, region) pairs a run of the input crawled completely: the run has its start and end
    records, the end says complete, and the run listed everything (not one shard of several, no
    ``--targets`` pairs, no service or function filter); ``fcaudit merge`` writes such a run for the
    shards it joined."""
    done: set[Target] = set()
    for run in runs:
        start, end = run[0], run[1]
        if not isinstance(start, Mapping) or not isinstance(end, Mapping) or end.get("complete") is not True:
            continue
        shard = start.get("shard")
        whole = shard is None or (isinstance(shard, Mapping) and shard.get("count") == 1)
        if not whole or start.get("pairs") is not None:  # one shard of several sees part of the account
            continue
        selection = start.get("selection") or {}
        if not isinstance(selection, Mapping) or any(
            isinstance(part, Mapping) and (part.get("include") or part.get("exclude"))
            for part in selection.values()
        ):
            continue
        for target in start.get("targets") or ():
            if isinstance(target, Mapping):
                account, region = target.get("account"), target.get("region")
                if isinstance(account, str) and isinstance(region, str):
                    done.add((account, region))
    return done


@dataclass(slots=True)
class CrossRef:
    """What the cross-function rules need, kept as the fold goes (see the module docstring)."""

    #: hashes of the functions that exist (status ok, none or error; ``gone`` removes)
    functions: set[int] = field(default_factory=set)
    #: hashes of the (function, qualifier) of every config of a version or alias
    qualified: set[int] = field(default_factory=set)
    #: hashes of the functions whose LATEST config has an onFailure destination
    latest_failure: set[int] = field(default_factory=set)
    edges: list[Edge] = field(default_factory=list)
    #: qualifiers other than LATEST that triggers name: (function, qualifier) → line
    trigger_qualifiers: dict[Node, int] = field(default_factory=dict)

    def copy(self) -> CrossRef:
        return CrossRef(
            set(self.functions),
            set(self.qualified),
            set(self.latest_failure),
            list(self.edges),
            dict(self.trigger_qualifiers),
        )

    def add_function(self, key: FnKey, status: str, line: int, triggers: object) -> tuple[Node, ...]:
        """Fold in a function record; the trigger qualifiers it was the first to name (an ``error``
        record keeps them, to take them back with ``retract_triggers`` if a later record replaces it).
        Whether the function exists needs no taking back: every record of it sets that anew."""
        if status == "gone":
            self.functions.discard(hash(key))
            return ()
        self.functions.add(hash(key))
        added: list[Node] = []
        if triggers:  # a list of trigger objects: a qualifier on one is rare (FC 2.0 triggers have one)
            for trigger in triggers if isinstance(triggers, list) else ():
                q = trigger.get("qualifier") if isinstance(trigger, Mapping) else None
                if isinstance(q, str) and q and q != LATEST and (*key, q) not in self.trigger_qualifiers:
                    self.trigger_qualifiers[(*key, q)] = line
                    added.append((*key, q))
        return tuple(added)

    def retract_triggers(self, nodes: Iterable[Node]) -> None:
        """Take back the trigger qualifiers a replaced record was the first to name."""
        for node in nodes:
            self.trigger_qualifiers.pop(node, None)

    def add_config(self, node: Node, failure: Destination | None) -> None:
        if node[4] != LATEST:
            self.qualified.add(hash(node))
        elif failure is not None:
            self.latest_failure.add(hash(node[:4]))

    def add_edge(self, source: Node, side: str, destination: Destination, line: int) -> None:
        self.edges.append(Edge(source, side, destination, line))

    # --- the rules ------------------------------------------------------------------------------------
    def target(self, d: Destination, account: str) -> FnKey:
        """The function an FC destination names (it may not exist)."""
        owner = account if d.same_account(account) else d.account
        assert owner is not None
        assert d.region is not None
        assert d.function is not None
        if d.form == "fc2":
            assert d.service is not None
            return (owner, d.region, d.service, d.function)
        service, sep, function = d.function.partition("$")
        return (owner, d.region, service, function) if sep else (owner, d.region, "", d.function)

    def resolve(self, d: Destination, account: str) -> FnKey | None:
        """The function an FC destination names, if this input has it."""
        key = self.target(d, account)
        return key if hash(key) in self.functions else None

    def unchecked(self, complete: set[Target]) -> int:
        """FC destinations not found in this input whose account and region were not crawled completely."""
        return sum(
            1
            for e in self.edges
            if self.resolve(e.destination, e.source[0]) is None
            and self.target(e.destination, e.source[0])[:2] not in complete
        )

    def hits(self, complete: set[Target], *, dangling: bool, cycle: bool, gap: bool) -> list[CrossHit]:
        out: list[CrossHit] = []
        resolved: list[tuple[Edge, FnKey | None]] = [
            (e, self.resolve(e.destination, e.source[0])) for e in self.edges
        ]
        if dangling:
            for edge, found in resolved:
                d = edge.destination
                key = self.target(d, edge.source[0])
                if found is None and key[:2] in complete:
                    named = f"{key[2]}/{key[3]}" if key[2] else key[3]
                    hit: Hit = (_DANGLING, (edge.side, d, named))
                    out.append(CrossHit(hit, edge.source[:4], edge.source[4], edge.line))
        if cycle:
            out.extend(self._cycles(resolved))
        if gap:
            out.extend(self._gaps(resolved))
        return out

    def _cycles(self, resolved: list[tuple[Edge, FnKey | None]]) -> list[CrossHit]:
        graph: dict[Node, list[tuple[Node, Edge]]] = {}
        sources = {edge.source for edge in self.edges}
        for edge, target in resolved:
            if target is None or target == edge.source[:4]:
                continue
            node: Node = (*target, edge.destination.qualifier or LATEST)
            if node in sources:  # it has an FC destination of its own: the chain may go on
                graph.setdefault(edge.source, []).append((node, edge))
        out = []
        for component in _strong_components(graph):
            if len(component) < 2:
                continue
            members = set(component)
            for node in sorted(component):
                path, first = _loop(graph, node, members)
                out.append(
                    CrossHit(
                        (_CYCLE, (first.side, first.destination, [label(n) for n in path])),
                        node[:4],
                        node[4],
                        first.line,
                    )
                )
        return out

    def _gaps(self, resolved: list[tuple[Edge, FnKey | None]]) -> list[CrossHit]:
        seen: dict[Node, tuple[str, int]] = {}
        for edge, target in resolved:
            q = edge.destination.qualifier or LATEST
            if target is not None and q != LATEST:
                seen.setdefault((*target, q), (f"a destination of {label(edge.source)}", edge.line))
        for node, line in self.trigger_qualifiers.items():
            seen.setdefault(node, ("a trigger", line))
        out = []
        for node, (where, line) in sorted(seen.items()):
            key = node[:4]
            if hash(key) not in self.latest_failure or hash(node) in self.qualified:
                continue
            if hash(key) not in self.functions:
                continue
            out.append(CrossHit((_GAP, (node[4], where)), key, node[4], line))
        return out


def _strong_components(graph: Mapping[Node, list[tuple[Node, Edge]]]) -> list[list[Node]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit on long chains)."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    components: list[list[Node]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[Node, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, [])
            if i < len(successors):
                work.append((node, i + 1))
                nxt = successors[i][0]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _loop(
    graph: Mapping[Node, list[tuple[Node, Edge]]], start: Node, members: set[Node]
) -> tuple[list[Node], Edge]:
    """The shortest loop from ``start`` back to itself inside its component (``start``, ..., ``start``)
    and the edge that leaves ``start`` on it."""
    parents: dict[Node, tuple[Node, Edge]] = {}
    queue = deque([start])
    while queue and start not in parents:
        node = queue.popleft()
        for nxt, edge in graph.get(node, []):
            if nxt in members and nxt not in parents:
                parents[nxt] = (node, edge)
                queue.append(nxt)
    chain = [start]  # walked backwards from start's own parent
    node = start
    while True:
        prev, edge = parents[node]
        chain.append(prev)
        if prev == start:
            break
        node = prev
    chain.reverse()
    return chain, parents[chain[1]][1]
