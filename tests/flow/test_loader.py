"""Flow validation: every mistake names file, state and field; nothing half-valid loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from intake.flow.loader import FlowError, default_params, load_flows, read_yaml
from intake.flow.segments import segment_count

ROOT = Path(__file__).resolve().parents[2]
PARAMS = default_params("+17273917001", "Helpline")


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", target)
    return target


def edit(path: Path, change: Callable[[Any], None]) -> None:
    data = read_yaml(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    with pytest.raises(FlowError) as info:
        load_flows(directory, PARAMS)
    return info.value.problems


def helpline(flows: Path) -> Path:
    return flows / "helpline.yaml"


def test_it_loads_the_real_flows() -> None:
    flows = load_flows(ROOT / "flows", PARAMS)
    assert set(flows) == {"helpline"}
    assert {
        "opioids",
        "effects",
        "depression",
        "anxiety",
        "treatment",
        "dual",
        "admissions",
    } <= set(flows["helpline"].snippets)


def test_it_names_an_unknown_target_state(flows_copy: Path) -> None:
    edit(
        helpline(flows_copy), lambda d: d["states"]["callback_name"]["input"].update(next="nowhere")
    )
    found = problems(flows_copy)
    assert any(
        p.endswith("flows/helpline.yaml:callback_name:input.next: unknown target state 'nowhere'")
        for p in found
    )
    # and what only callback_name led to is now unreachable, named as such
    assert any(
        p.endswith("helpline.yaml:callback_number:-: unreachable: no transition leads here")
        for p in found
    )


def test_it_names_an_unknown_snippet(flows_copy: Path) -> None:
    def change(d: Any) -> None:
        d["intents"][-1]["actions"] = [{"send_snippet": "heroin_facts"}]

    edit(helpline(flows_copy), change)
    last = len(read_yaml(helpline(flows_copy).read_text(encoding="utf-8"))["intents"]) - 1
    [problem] = problems(flows_copy)
    assert problem.endswith(
        f"helpline.yaml:-:intents.{last}.actions.0: unknown snippet 'heroin_facts'"
    )


def test_it_names_a_missing_translation(flows_copy: Path) -> None:
    edit(helpline(flows_copy), lambda d: d["states"]["callback_time"]["prompt"]["sms"].pop("es"))
    [problem] = problems(flows_copy)
    assert problem.endswith(
        "helpline.yaml:callback_time:prompt.sms.es: missing translation for 'es'"
    )


def test_it_names_a_snippet_without_a_translation(flows_copy: Path) -> None:
    edit(flows_copy / "content" / "snippets.yaml", lambda d: d["anxiety"]["sms"].pop("es"))
    [problem] = problems(flows_copy)
    assert problem.endswith("snippet anxiety:sms.es: missing translation for 'es'")


def test_it_names_an_unreachable_state(flows_copy: Path) -> None:
    def change(d: Any) -> None:
        d["states"]["orphan"] = {"input": {"type": "choice", "choices": []}}

    edit(helpline(flows_copy), change)
    [problem] = problems(flows_copy)
    assert problem.endswith("helpline.yaml:orphan:-: unreachable: no transition leads here")


def test_it_refuses_an_sms_prompt_longer_than_two_segments(flows_copy: Path) -> None:
    edit(
        helpline(flows_copy), lambda d: d["states"]["menu"]["prompt"]["sms"].update(en="word " * 62)
    )
    [problem] = problems(flows_copy)
    assert "helpline.yaml:menu:prompt.sms.en: SMS text needs 3 segments" in problem


def test_it_counts_placeholders_at_their_longest(flows_copy: Path) -> None:
    # 270 characters plus a 40-character name is more than 306.
    text = "x" * 270 + " {name}"
    edit(helpline(flows_copy), lambda d: d["states"]["menu"]["prompt"]["sms"].update(en=text))
    [problem] = problems(flows_copy)
    assert "menu:prompt.sms.en: SMS text needs 3 segments" in problem


def test_it_names_an_unknown_placeholder(flows_copy: Path) -> None:
    edit(helpline(flows_copy), lambda d: d["messages"]["help"]["sms"].update(en="Hi {first_name}"))
    [problem] = problems(flows_copy)
    assert "-:messages.help.sms.en: unknown placeholder {first_name}" in problem


def test_it_names_schema_errors_by_state_and_field(flows_copy: Path) -> None:
    edit(helpline(flows_copy), lambda d: d["states"]["callback_for"].update(max_attempts=0))
    [problem] = problems(flows_copy)
    assert (
        "helpline.yaml:callback_for:max_attempts: Input should be greater than or equal to 1"
        in problem
    )


def test_it_reports_broken_yaml_with_its_line(flows_copy: Path) -> None:
    helpline(flows_copy).write_text("id: helpline\nstates: [\n", encoding="utf-8")
    [problem] = problems(flows_copy)
    assert "helpline.yaml:line" in problem and "invalid YAML" in problem


def test_it_keeps_yes_and_no_as_words() -> None:
    flow = load_flows(ROOT / "flows", PARAMS)["helpline"]
    assert "YES" in flow.spec.vocab["yes"] and "NO" in flow.spec.vocab["no"]


def test_every_sms_snippet_fits_two_segments_and_says_what_to_reply() -> None:
    flow = load_flows(ROOT / "flows", PARAMS)["helpline"]
    for snippet_id, snippet in flow.snippets.items():
        for lang, text in snippet.sms.items():
            rendered = text.format_map(PARAMS)
            assert segment_count(rendered) <= 2, (snippet_id, lang)
            assert (
                ("MENU" in rendered[-80:])
                or ("CALL" in rendered[-80:])
                or ("LLAMAR" in rendered[-80:])
            ), (snippet_id, lang)


def test_the_cli_check_exits_non_zero_on_an_invalid_flow(
    flows_copy: Path, settings_env: dict[str, str]
) -> None:
    edit(helpline(flows_copy), lambda d: d["states"]["menu"]["input"].update(type="dance"))
    env = settings_env | {"FLOWS_DIR": str(flows_copy)}
    result = subprocess.run(
        [sys.executable, "-m", "intake.cli", "flows", "check"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "helpline.yaml:menu:input" in result.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "intake.cli", "flows", "check"],
        env=settings_env | {"FLOWS_DIR": str(ROOT / "flows")},
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "flows ok" in ok.stdout


def test_the_app_refuses_to_start_on_an_invalid_flow(flows_copy: Path, settings: Any) -> None:
    from dataclasses import replace

    from intake import create_app

    edit(
        helpline(flows_copy), lambda d: d["states"]["callback_name"]["input"].update(next="nowhere")
    )
    with pytest.raises(FlowError, match="callback_name:input.next"):
        create_app(replace(settings, flows_dir=flows_copy))


def test_the_schema_is_exported_as_json_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "intake.cli", "flows", "schema"], capture_output=True, text=True
    )
    assert result.returncode == 0
    import json

    schema = json.loads(result.stdout)
    assert schema["title"] == "FlowSpec" and "states" in schema["properties"]
    defs = schema["$defs"]
    assert {"LanguageSpec", "IntentWords", "CrisisSpec", "Examples", "Intent"} <= set(defs)
    assert "intents" in defs["LanguageSpec"]["properties"]


def language(flows: Path, name: str = "intents.yaml") -> Path:
    return flows / "language" / name


def test_it_names_an_intent_the_flow_uses_but_nobody_defined(flows_copy: Path) -> None:
    edit(helpline(flows_copy), lambda d: d["intents"].append({"id": "weather", "next": "menu"}))
    [problem] = problems(flows_copy)
    assert problem.endswith(
        "intents.yaml:weather:-: the flow uses intent 'weather', not defined here"
    )


def test_it_names_examples_of_an_unknown_intent(flows_copy: Path) -> None:
    edit(language(flows_copy, "examples.yaml"), lambda d: d.update(weather={"en": ["sunny?"]}))
    [problem] = problems(flows_copy)
    assert problem.endswith("examples.yaml:weather:-: unknown intent 'weather'")


def test_it_asks_for_examples_of_every_intent_it_learns(flows_copy: Path) -> None:
    for path in language(flows_copy).parent.glob("examples*.yaml"):
        edit(path, lambda d: d.get("anxiety", {}).pop("es", None))
    [problem] = problems(flows_copy)
    assert "examples.yaml:anxiety:es: at least 3 examples are needed" in problem


def test_it_names_a_missing_label_translation(flows_copy: Path) -> None:
    edit(language(flows_copy), lambda d: d["intents"]["anxiety"]["label"].pop("es"))
    [problem] = problems(flows_copy)
    assert problem.endswith("intents.yaml:anxiety:label.es: missing translation")


def test_it_names_a_crisis_category_without_an_intent(flows_copy: Path) -> None:
    edit(language(flows_copy), lambda d: d["intents"].pop("crisis_danger"))
    found = problems(flows_copy)
    expected = "intents.yaml:-:-: crisis category 'danger' has no intent"
    assert any(p.endswith(expected) for p in found)


def test_it_names_schema_errors_in_the_intents_file(flows_copy: Path) -> None:
    edit(language(flows_copy), lambda d: d["intents"]["stop"].update(classify="sometimes"))
    [problem] = problems(flows_copy)
    assert "intents.yaml:-:intents.stop.classify" in problem


def test_it_keeps_the_trained_classifier_for_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.flow import loader

    monkeypatch.setattr(loader, "_MODELS", {})  # as a new process would be
    first = load_flows(ROOT / "flows", PARAMS, cache=tmp_path)["helpline"]
    assert len(list(tmp_path.glob("intents-*.bin"))) == 1

    def no_training(payload: str) -> None:
        raise AssertionError("trained again although the cache had the model")

    monkeypatch.setattr(loader, "_MODELS", {})
    monkeypatch.setattr(loader, "_fit_in_child", no_training)
    again = load_flows(ROOT / "flows", PARAMS, cache=tmp_path)["helpline"]
    text = "can someone call me about detox tonight"
    assert again.language.read(text, "en").ranked == first.language.read(text, "en").ranked


def test_it_trains_again_when_the_cached_classifier_is_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.flow import loader

    monkeypatch.setattr(loader, "_MODELS", {})
    load_flows(ROOT / "flows", PARAMS, cache=tmp_path)
    (cached,) = tmp_path.glob("intents-*.bin")
    cached.write_bytes(cached.read_bytes()[:1000])  # cut short, as a full disk might
    monkeypatch.setattr(loader, "_MODELS", {})
    flow = load_flows(ROOT / "flows", PARAMS, cache=tmp_path)["helpline"]
    assert flow.language.read("tell me about depression", "en").intent == "depression"
    assert loader.LinearModel.from_bytes(cached.read_bytes())  # rewritten whole


def test_it_names_a_calm_veto_that_is_no_crisis_category(flows_copy: Path) -> None:
    edit(flows_copy / "safety" / "crisis.yaml", lambda d: d.update(calm_veto=["self-harm"]))
    assert any("calm_veto names no crisis category: self-harm" in p for p in problems(flows_copy))


def test_it_trains_again_when_the_training_settings_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.flow import loader

    monkeypatch.setattr(loader, "_MODELS", {})
    load_flows(ROOT / "flows", PARAMS, cache=tmp_path)
    (cached,) = tmp_path.glob("intents-*.bin")
    fits: list[str] = []

    def fit(payload: str) -> bytes:
        fits.append(payload)
        return cached.read_bytes()

    monkeypatch.setattr(loader, "_MODELS", {})
    monkeypatch.setattr(loader, "_fit_in_child", fit)
    monkeypatch.setattr(loader, "SETTINGS", {**loader.SETTINGS, "min_df": 2})
    load_flows(ROOT / "flows", PARAMS, cache=tmp_path)
    assert len(fits) == 1  # the cached model was trained with other settings
    assert len(list(tmp_path.glob("intents-*.bin"))) == 2
