"""The rules that need more than one function: dangling FC destinations, loops across functions, and
aliases or versions invoked without a config of their own.

``AuditFold`` hands every finished function's flags, its version and alias configs included, to
``CrossRef.fold_function`` (``add_function`` and ``add_config`` are the same, a record or a config at a
time), its trigger qualifiers to ``add_triggers`` and every FC-function destination to ``add_edge``; the
rules run once the input is over
(``hits``). Memory: what is kept per function and per version/alias config is one 64-bit hash in a
``KeyFlags`` table (``crawler.audit.keyflags``: 13.5-27 bytes a key; a collision between two of a
million keys has odds of about 1 in 10^7) with a byte of flags: that the function exists, that its
LATEST config has an onFailure destination, that a version or alias has a config (and, for the fold,
that the function has a finding). These are inherent: an FC destination may name a function recorded
anywhere before it, and a function may appear more than once in an input. Each FC-function
destination is kept as one ``marshal``-ed tuple in a byte log (its service as an index into the
services seen, its destination as the ARN, parsed again when the rules run): about 100 bytes each.
Nothing else grows with the estate.

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

import marshal
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from crawler.audit.arns import Destination, parse_arn
from crawler.audit.catalogue import DANGLING_FC_DESTINATION, DESTINATION_CYCLE, QUALIFIER_GAP, Hit
from crawler.audit.keyflags import KeyFlags
from crawler.store.records import LATEST

FnKey = tuple[str, str, str, str]
#: account, region, service, function, qualifier
Node = tuple[str, str, str, str, str]
Target = tuple[str, str]

_DANGLING: Final = DANGLING_FC_DESTINATION.rule_id
_CYCLE: Final = DESTINATION_CYCLE.rule_id
_GAP: Final = QUALIFIER_GAP.rule_id

#: the flags of a key in ``CrossRef.keys``: of a function's key ...
EXISTS: Final = 1
LATEST_FAILURE: Final = 2
#: (for ``AuditFold``) the function has a finding
FLAGGED: Final = 8
#: ... and of a (function, qualifier) key: a version or alias with a config of its own
QUALIFIED: Final = 4


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

    #: function key hash → EXISTS (status ok, none or error; ``gone`` clears it) | LATEST_FAILURE |
    #: FLAGGED; (function, qualifier) hash → QUALIFIED
    keys: KeyFlags = field(default_factory=KeyFlags)
    #: qualifiers other than LATEST that triggers name: (function, qualifier) → line
    trigger_qualifiers: dict[Node, int] = field(default_factory=dict)
    #: the FC-function destinations: one marshal-ed (service index, function, qualifier, side, ARN,
    #: line) after another, and where each ends
    edge_log: bytearray = field(default_factory=bytearray)
    edge_ends: array[int] = field(default_factory=lambda: array("Q"))
    #: (account, region, service) → its index in ``services``, for the edge log
    service_index: dict[tuple[str, str, str], int] = field(default_factory=dict)
    services: list[tuple[str, str, str]] = field(default_factory=list)

    def copy(self) -> CrossRef:
        return CrossRef(
            self.keys.copy(),
            dict(self.trigger_qualifiers),
            bytearray(self.edge_log),
            self.edge_ends[:],
            dict(self.service_index),
            list(self.services),
        )

    # --- views for tests and debugging (each a scan: O(functions)) ------------------------------------
    @property
    def functions(self) -> set[int]:
        """The hashes of the functions that exist."""
        return set(self.keys.hashes(EXISTS))

    @property
    def qualified(self) -> set[int]:
        """The hashes of the (function, qualifier) of every config of a version or alias."""
        return set(self.keys.hashes(QUALIFIED))

    @property
    def latest_failure(self) -> set[int]:
        """The hashes of the functions whose LATEST config has an onFailure destination."""
        return set(self.keys.hashes(LATEST_FAILURE))

    @property
    def edges(self) -> list[Edge]:
        return list(self.iter_edges())

    # --- folding ----------------------------------------------------------------------------------------
    def add_function(self, key: FnKey, status: str, line: int, triggers: object) -> tuple[Node, ...]:
        """Fold in a function record; the trigger qualifiers it was the first to name (an ``error``
        record keeps them, to take them back with ``retract_triggers`` if a later record replaces it).
        Whether the function exists needs no taking back: every record of it sets that anew."""
        self.fold_function(hash(key), status == "gone")
        return self.add_triggers(key, line, triggers) if triggers and status != "gone" else ()

    def fold_function(
        self,
        key_hash: int,
        gone: bool,
        *,
        latest_failure: bool = False,
        flagged: bool = False,
        qualified: list[int] | None = None,
    ) -> int:
        """A function record's flags in one probe of the table: it exists (or, ``gone``, no longer),
        its LATEST config has an onFailure destination, it has a finding (``FLAGGED``, the fold's), and
        the hashes of its version and alias configs (``QUALIFIED``). Returns its flags before."""
        if qualified:
            self.keys.set_all(qualified, QUALIFIED)
        bits = (LATEST_FAILURE if latest_failure else 0) | (FLAGGED if flagged else 0)
        if gone:
            return self.keys.update(key_hash, bits, EXISTS)
        return self.keys.update(key_hash, bits | EXISTS)

    def add_triggers(self, key: FnKey, line: int, triggers: object) -> tuple[Node, ...]:
        """The trigger qualifiers of a function record (not ``gone``) that it was the first to name."""
        added: list[Node] = []
        # a list of trigger objects: a qualifier on one is rare (FC 2.0 triggers have one)
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
            self.keys.update(hash(node), QUALIFIED)
        elif failure is not None:
            self.keys.update(hash(node[:4]), LATEST_FAILURE)

    def add_edge(self, source: Node, side: str, destination: Destination, line: int) -> None:
        """An FC-function destination, as ``parse_destination`` made it from its ARN (the rules parse
        every destination so): the log keeps the ARN and parses it again when the rules run."""
        account, region, service, function, qualifier = source
        group = (account, region, service)
        index = self.service_index.get(group)
        if index is None:
            index = self.service_index[group] = len(self.services)
            self.services.append(group)
        self.edge_log += marshal.dumps((index, function, qualifier, side, destination.arn, line))
        self.edge_ends.append(len(self.edge_log))

    def iter_edges(self) -> Iterator[Edge]:
        """The edges in the order they were added, decoded again (the destination parsed again from its
        ARN: ``parse_destination`` is a function of the ARN alone, so it is the same ``Destination``)."""
        log, services, start = memoryview(self.edge_log), self.services, 0
        for end in self.edge_ends:
            index, function, qualifier, side, arn, line = marshal.loads(log[start:end])
            start = end
            yield Edge((*services[index], function, qualifier), side, parse_arn(arn), line)

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
        return key if self.keys.get(hash(key)) & EXISTS else None

    def unchecked(self, complete: set[Target]) -> int:
        """FC destinations not found in this input whose account and region were not crawled completely."""
        return sum(
            1
            for e in self.iter_edges()
            if self.resolve(e.destination, e.source[0]) is None
            and self.target(e.destination, e.source[0])[:2] not in complete
        )

    def hits(self, complete: set[Target], *, dangling: bool, cycle: bool, gap: bool) -> list[CrossHit]:
        """The findings of the three rules: dangling ones in edge order, then the loops, then the gaps.
        Edges are decoded one at a time; what is kept while judging is what a rule may report (the loops'
        graph holds only edges into a node that has an FC destination of its own)."""
        out: list[CrossHit] = []
        gaps: dict[Node, tuple[str, int]] = {}
        sources = KeyFlags()  # hashes of the nodes with an FC destination, for the loops' graph
        for edge in self.iter_edges():
            d = edge.destination
            key = self.target(d, edge.source[0])
            found = self.keys.get(hash(key)) & EXISTS
            if dangling and not found and key[:2] in complete:
                named = f"{key[2]}/{key[3]}" if key[2] else key[3]
                hit: Hit = (_DANGLING, (edge.side, d, named))
                out.append(CrossHit(hit, edge.source[:4], edge.source[4], edge.line))
            if cycle:
                sources.update(hash(edge.source), EXISTS)
            q = d.qualifier or LATEST
            if gap and found and q != LATEST and self._gap((*key, q)):
                gaps.setdefault((*key, q), (f"a destination of {label(edge.source)}", edge.line))
        if cycle:
            out.extend(self._cycles(sources))
        if gap:
            for node, line in self.trigger_qualifiers.items():
                if self._gap(node):
                    gaps.setdefault(node, ("a trigger", line))
            out.extend(
                CrossHit((_GAP, (n[4], where)), n[:4], n[4], line)
                for n, (where, line) in sorted(gaps.items())
            )
        return out

    def _gap(self, node: Node) -> bool:
        """A qualifier of an existing function whose LATEST has a failure destination, without a config
        of its own."""
        flags = self.keys.get(hash(node[:4]))
        return bool(flags & EXISTS and flags & LATEST_FAILURE and not self.keys.get(hash(node)) & QUALIFIED)

    def _cycles(self, sources: KeyFlags) -> list[CrossHit]:
        graph: dict[Node, list[tuple[Node, Edge]]] = {}
        for edge in self.iter_edges():
            target = self.resolve(edge.destination, edge.source[0])
            if target is None or target == edge.source[:4]:
                continue
            node: Node = (*target, edge.destination.qualifier or LATEST)
            if sources.get(hash(node)):  # it has an FC destination of its own: the chain may go on
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
