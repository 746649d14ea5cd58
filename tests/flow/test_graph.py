"""`intake flows graph`: the conversation of flows/helpline.yaml as Mermaid text and as SVG."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intake.cli import main
from intake.flow.graph import ANY, CRISIS, END, TRANSFER, build, node_id, to_dot, to_mermaid
from intake.flow.loader import default_params, load_flows
from intake.flow.model import FlowSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec() -> FlowSpec:
    flows = load_flows(ROOT / "flows", default_params("+17273917001", "Helpline"), train=False)
    return flows["helpline"].spec


@pytest.fixture(scope="module")
def mermaid(spec: FlowSpec) -> str:
    return to_mermaid(build(spec))


def edges(mermaid: str) -> dict[tuple[str, str], str]:
    """(from, to) -> label, read back from the Mermaid text."""
    found = re.findall(r'^    (\w+) -->(?:\|"([^"]*)"\|)? (\w+)$', mermaid, re.MULTILINE)
    return {(src, dst): label for src, label, dst in found}


MERMAID_LINE = re.compile(
    r"    (?:"
    r'\w+(?:\["|\(\("|\{\{"|\[/"|\[\[")[^"]*(?:"\]|"\)\)|"\}\}|"/\]|"\]\])'  # a node
    r'|\w+ -->(?:\|"[^"]*"\|)? \w+'  # an edge, maybe labelled
    r"|classDef \w+ [\w:#,-]+"
    r"|class \w+(?:,\w+)* \w+"
    r")"
)


def test_it_starts_as_a_mermaid_flowchart_with_safe_node_ids(mermaid: str) -> None:
    lines = mermaid.splitlines()
    assert lines[0] == "flowchart TD"
    assert not re.search(r"^    end\b", mermaid, re.MULTILINE)  # Mermaid's reserved word
    for line in lines[1:]:
        assert MERMAID_LINE.fullmatch(line), line


def test_it_makes_node_ids_safe() -> None:
    assert node_id("callback-number.voice 2") == "s_callback_number_voice_2"


def test_it_shows_every_state(spec: FlowSpec, mermaid: str) -> None:
    for state_id, state in spec.states.items():
        assert f'    {node_id(state_id)}["{state_id} ({state.input.type})"]' in mermaid


def test_it_labels_transitions_with_their_intents_and_keys(mermaid: str) -> None:
    found = edges(mermaid)
    assert "learn [1]" in found[("s_menu", "s_learn")]
    assert "admissions [0]" in found[("s_menu", TRANSFER)]
    assert "opioids [1]" in found[("s_learn", "s_after_snippet")]
    assert "main_menu [0]" in found[("s_learn", "s_menu")]
    assert "repeat [*]" in found[("s_after_snippet", "s_after_snippet")]
    # keywords that work in any state, per channel where they differ
    assert "sms: call" in found[(ANY, "s_callback_name")]
    assert "voice: call" in found[(ANY, "s_callback_number_voice")]
    assert "stop (sms)" in found[(ANY, ANY)]
    assert "depression" in found[(ANY, "s_after_snippet")]
    # answers, and what the voice transport reports back about a transfer
    assert found[("s_callback_time", "s_callback_for")] == "answer"
    assert "no caller number" in found[("s_callback_number", "s_callback_number_entry")]
    assert "transfer_unavailable" in found[(TRANSFER, "s_offer_callback")]
    assert "dial_completed" in found[(TRANSFER, END)]


def test_it_marks_where_tasks_are_queued(mermaid: str) -> None:
    found = edges(mermaid)
    assert "sms: yes [1], queues task" in found[("s_callback_confirm", "s_menu")]
    assert "voice: yes [1], queues task" in found[("s_callback_confirm", END)]
    marked = re.search(r"^    class (\S+) task$", mermaid, re.MULTILINE)
    assert marked is not None and marked.group(1).split(",") == ["s_callback_confirm"]


def test_it_shows_crisis_handling(mermaid: str) -> None:
    node = rf'^    {CRISIS}\[/"crisis language, checked first in every state'
    assert re.search(node, mermaid, re.MULTILINE)
    assert "urgent task" in mermaid
    assert edges(mermaid)[(ANY, CRISIS)] == "crisis"
    assert f"    class {CRISIS} crisis" in mermaid


def test_it_shows_both_channels(mermaid: str) -> None:
    assert '    n_start(("start (sms, voice)"))' in mermaid
    labels = " ".join(edges(mermaid).values())
    assert "sms: " in labels and "voice: " in labels


def test_it_writes_the_same_graph_as_dot(spec: FlowSpec) -> None:
    graph = build(spec)
    dot = to_dot(graph)
    assert dot.startswith("digraph flow {") and dot.rstrip().endswith("}")
    for state_id in spec.states:
        assert f"    {node_id(state_id)} [label=" in dot
    assert len(re.findall(r"^    \w+ -> \w+", dot, re.MULTILINE)) == len(graph.edges)
    assert re.search(r'^    s_callback_confirm \[.*fillcolor="#fff3cd"', dot, re.MULTILINE)


def test_the_command_prints_mermaid_and_writes_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mermaid: str
) -> None:
    assert main(["flows", "graph"]) == 0
    assert capsys.readouterr().out == mermaid
    out = tmp_path / "flow.mmd"
    assert main(["flows", "graph", "--format", "mermaid", "--output", str(out)]) == 0
    assert out.read_text() == mermaid


def test_svg_without_dot_says_to_install_graphviz(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # an empty PATH: no dot on it
    result = subprocess.run(
        [sys.executable, "-m", "intake.cli", "flows", "graph", "--format", "svg"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "install graphviz" in lines[0], result.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_svg_through_dot_shows_every_state(tmp_path: Path, spec: FlowSpec) -> None:
    out = tmp_path / "flow.svg"
    assert main(["flows", "graph", "--format", "svg", "--output", str(out)]) == 0
    svg = out.read_text()
    assert "<svg" in svg
    for state_id in spec.states:
        assert f"{state_id} (" in svg
