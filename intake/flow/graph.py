"""The conversation of a flow as a graph, written as Mermaid or Graphviz DOT text (no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import (
    Action,
    ChannelTransition,
    ChoiceInput,
    FlowSpec,
    NoInput,
    State,
    Target,
    Transition,
    YesNoInput,
)

# Not the state ids' `s_` prefix, and never Mermaid's reserved `end`.
START, ANY, CRISIS, END, TRANSFER = "n_start", "n_any", "n_crisis", "n_end", "n_transfer"
TASK_ACTION = "request_callback"


@dataclass
class Node:
    id: str  # safe in Mermaid and DOT: letters, digits and _
    label: str
    kind: str  # state, start, any, crisis, end, transfer
    queues_task: bool = False


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    # (from, to) -> labels, in the order the flow file gives them
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def edge(self, src: str, dst: str, label: str) -> None:
        labels = self.edges.setdefault((src, dst), [])
        if label and label not in labels:
            labels.append(label)


def node_id(state_id: str) -> str:
    """A state's node id: `s_` and the id with anything but letters, digits and _ replaced."""
    return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", state_id)


def build(spec: FlowSpec) -> Graph:
    """Every state, what moves between them (choices, keys, answers, intents) and where tasks are
    queued; the crisis check and the keywords that work in any state are nodes of their own."""
    g = Graph()
    g.nodes[START] = Node(START, f"start ({', '.join(spec.channels)})", "start")
    g.nodes[ANY] = Node(ANY, "any state: keywords and phrases", "any")
    g.nodes[CRISIS] = Node(
        CRISIS,
        "crisis language, checked first in every state: 988/911 reply, urgent task",
        "crisis",
        queues_task=True,
    )
    for state_id, state in spec.states.items():
        nid = node_id(state_id)
        g.nodes[nid] = Node(nid, f"{state_id} ({state.input.type})", "state")
    g.edge(START, node_id(spec.start), "")
    g.edge(ANY, CRISIS, "crisis")
    # A text goes on where it was; a call hears the same question again.
    g.edge(CRISIS, ANY, "then the same state")

    for intent in spec.intents:
        where = ""
        if not set(intent.channels) >= set(spec.channels):
            where = f" ({', '.join(intent.channels)})"
        _transition(g, ANY, Transition(actions=intent.actions, next=intent.next), intent.id + where)
    _channel_transition(g, ANY, spec.on_max_attempts, "max attempts")
    for name, signal in spec.signals.items():
        _channel_transition(g, TRANSFER, signal, name)

    for state_id, state in spec.states.items():
        _state(g, node_id(state_id), state)
    return g


def _state(g: Graph, src: str, state: State) -> None:
    if state.when_no_contact:
        g.edge(src, node_id(state.when_no_contact), "no caller number")
    _channel_transition(g, src, state.on_max_attempts, "max attempts")
    _channel_transition(g, src, state.on_timeout, "silence")
    inp = state.input
    if isinstance(inp, ChoiceInput):
        for choice in inp.choices:
            label = choice.id + (f" [{choice.digits}]" if choice.digits else "")
            _transition(g, src, Transition(actions=choice.actions, next=choice.next), label)
    elif isinstance(inp, YesNoInput):
        if inp.next is not None:
            _target(g, src, inp.next, "answer", [])
        for word, t in (("yes [1]", inp.yes), ("no [2]", inp.no)):
            _channel_transition(g, src, t, word)
    elif not isinstance(inp, NoInput):
        _target(g, src, inp.next, "answer", [])


def _channel_transition(g: Graph, src: str, t: ChannelTransition | None, label: str) -> None:
    if t is None:
        return
    if isinstance(t, Transition):
        _transition(g, src, t, label)
        return
    for channel, tr in t.items():
        _transition(g, src, tr, f"{channel}: {label}")


def _transition(g: Graph, src: str, t: Transition, label: str) -> None:
    _target(g, src, t.next, label, t.actions)


def _target(g: Graph, src: str, target: Target | None, label: str, actions: list[Action]) -> None:
    """Edges for one transition: to its next state(s), to the end or a transfer, or a loop."""
    if TASK_ACTION in actions:
        label += ", queues task"
        g.nodes[src].queues_task = True
    if "end" in actions:
        g.nodes.setdefault(END, Node(END, "end of call", "end"))
        g.edge(src, END, label)
        return
    if "transfer" in actions:
        g.nodes.setdefault(TRANSFER, Node(TRANSFER, "transfer to admissions", "transfer"))
        g.edge(src, TRANSFER, label)
        return
    if target is None:
        g.edge(src, src, label)  # stays, e.g. a snippet repeated or an opt-out confirmed
    elif isinstance(target, str):
        g.edge(src, node_id(target), label)
    else:
        for channel, state_id in target.items():
            g.edge(src, node_id(state_id), f"{channel}: {label}")


SHAPES_MERMAID = {
    "state": ('["', '"]'),
    "start": ('(("', '"))'),
    "any": ('{{"', '"}}'),
    "crisis": ('[/"', '"/]'),
    "end": ('(("', '"))'),
    "transfer": ('[["', '"]]'),
}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(g: Graph) -> str:
    """Mermaid flowchart text: task-queueing states and the crisis check are styled apart."""
    lines = ["flowchart TD"]
    for node in g.nodes.values():
        left, right = SHAPES_MERMAID[node.kind]
        lines.append(f"    {node.id}{left}{_mermaid_text(node.label)}{right}")
    for (src, dst), labels in g.edges.items():
        if labels:
            lines.append(f'    {src} -->|"{_mermaid_text(", ".join(labels))}"| {dst}')
        else:
            lines.append(f"    {src} --> {dst}")
    lines.append("    classDef task fill:#fff3cd,stroke:#b8860b,stroke-width:2px")
    lines.append("    classDef crisis fill:#f8d7da,stroke:#b02a37,stroke-width:2px")
    tasks = [n.id for n in g.nodes.values() if n.queues_task and n.kind != "crisis"]
    if tasks:
        lines.append(f"    class {','.join(tasks)} task")
    lines.append(f"    class {CRISIS} crisis")
    return "\n".join(lines) + "\n"


SHAPES_DOT = {
    "state": "box",
    "start": "circle",
    "any": "hexagon",
    "crisis": "octagon",
    "end": "doublecircle",
    "transfer": "box3d",
}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(g: Graph) -> str:
    """Graphviz DOT text for `dot -Tsvg`, styled like the Mermaid chart."""
    lines = [
        "digraph flow {",
        '    graph [rankdir=TB, fontname="Helvetica"];',
        '    node [fontname="Helvetica", style="rounded,filled", fillcolor="#ffffff"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in g.nodes.values():
        attrs = [f"label={_dot_text(node.label)}", f"shape={SHAPES_DOT[node.kind]}"]
        if node.kind == "crisis":
            attrs.append('fillcolor="#f8d7da", color="#b02a37", penwidth=2')
        elif node.queues_task:
            attrs.append('fillcolor="#fff3cd", color="#b8860b", penwidth=2')
        lines.append(f"    {node.id} [{', '.join(attrs)}];")
    for (src, dst), labels in g.edges.items():
        label = f" [label={_dot_text(', '.join(labels))}]" if labels else ""
        lines.append(f"    {src} -> {dst}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
