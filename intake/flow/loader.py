"""Read flows/*.yaml with their snippets and crisis phrases; refuse anything inconsistent."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .engine import (
    PLACEHOLDERS,
    Flow,
    Session,
    placeholders,
    resolve_target,
    template_values,
)
from .language.answers import Answers
from .language.classifier import SETTINGS, LinearModel
from .language.understand import Language
from .model import (
    CHANNELS,
    Action,
    ChannelText,
    ChannelTransition,
    ChoiceInput,
    CrisisSpec,
    FlowSpec,
    LanguageSpec,
    Localized,
    Say,
    SendSnippet,
    SetLanguage,
    Snippet,
    Target,
    Transition,
    YesNoInput,
)
from .segments import segment_count
from .text import for_channel

MAX_SMS_SEGMENTS = 2  # SMS only: a WhatsApp message is one message whatever its length
# WhatsApp has no segments, but a reply still reads on a phone: the same YAML text, with its
# *bold* and "- " marks, stays this short.
WHATSAPP_MAX_CHARS = 480
REQUIRED_MESSAGES = ("welcome", "welcome_back", "crisis", "error")
# Longest values a placeholder can take, so segment checks hold for every session.
WORST_CASE_FIELDS: dict[str, str | bool | None] = {
    "name": "W" * 40,
    "callback_number": "+17273917001",
    "best_time": "W" * 60,
    "for_whom": "other",
    "voicemail_ok": False,
    "text_ok": False,
}
WORST_CASE_OPTION = "W" * 12  # the longest intent label "Did you mean" may offer
TRAIN_TIMEOUT_SECONDS = 300


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so YES, NO, Y, N and ON stay words."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> Any:
    """Parse flow YAML the way the loader does (YES and NO stay words)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


class FlowError(Exception):
    """One or more problems, each 'file:state:field: message'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def default_params(admissions_e164: str, program: str) -> dict[str, str]:
    """Values every prompt may use besides the session's own."""
    from .text import format_phone, spoken_digits

    return {
        "admissions": format_phone(admissions_e164),
        "admissions_digits": spoken_digits(admissions_e164),
        "program": program,
    }


def load_flows(
    directory: Path,
    params: dict[str, str],
    timezone: tzinfo = UTC,
    train: bool = True,
    cache: Path | None = None,
) -> dict[str, Flow]:
    """Every flow in `directory`, validated; raises FlowError listing all problems.

    `train`: fit the intent classifier (the web app); without it, rules only (workers, checks).
    `cache`: a folder where a trained classifier is kept for the next start with the same data.
    """
    problems: list[str] = []
    snippets = _load_snippets(directory / "content", problems)
    crisis = _load_crisis(directory / "safety" / "crisis.yaml", problems)
    language_spec = _parse(directory / "language" / "intents.yaml", LanguageSpec, problems)
    examples = _load_all_examples(directory / "language", problems)
    flows: dict[str, Flow] = {}
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problems.append(f"{directory}: no flow files (*.yaml)")
    for path in files:
        spec = _parse(path, FlowSpec, problems)
        if spec is None or crisis is None or language_spec is None or examples is None:
            continue
        lang_problems = list(check_language(spec, language_spec, crisis, examples))
        problems.extend(f"{_rel(directory / 'language')}/{m}" for m in lang_problems)
        if lang_problems:
            continue
        extra = [
            (w, lang) for key, words in spec.vocab.items() for w in words for lang in spec.languages
        ]
        language = Language(language_spec, crisis, spec.languages, examples, extra_words=extra)
        answers = Answers({k: list(v) for k, v in spec.vocab.items()}, language.normaliser)
        flow = Flow(
            spec=spec,
            snippets=snippets,
            language=language,
            answers=answers,
            params=params,
            timezone=timezone,
        )
        problems.extend(f"{_rel(path)}:{where}: {msg}" for where, msg in check_flow(flow))
        if spec.id in flows:
            problems.append(f"{_rel(path)}:-:id: flow id {spec.id!r} is used twice")
        flows[spec.id] = flow
    if crisis is not None:
        for flow in flows.values():
            for category, by_language in crisis.categories.items():
                for lang in flow.spec.languages:
                    if not by_language.get(lang):
                        problems.append(
                            f"{_rel(directory / 'safety' / 'crisis.yaml')}:{category}:{lang}: "
                            f"no crisis phrases for language {lang!r} (flow {flow.id!r})"
                        )
    if problems:
        raise FlowError(problems)
    if train:
        for flow in flows.values():
            texts, labels = flow.language.training_data(examples or {})
            flow.language.model = train_model(texts, labels, cache)
    return flows


def check_language(
    spec: FlowSpec,
    words: LanguageSpec,
    crisis: CrisisSpec,
    examples: dict[str, dict[str, list[str]]],
) -> Iterator[str]:
    """Yield 'file:intent:field: message' where the flow and its language files disagree."""
    langs = spec.languages
    where = "intents.yaml"
    for intent in spec.intents:
        if intent.id not in words.intents:
            yield f"{where}:{intent.id}:-: the flow uses intent {intent.id!r}, not defined here"
        elif words.intents[intent.id].crisis:
            yield f"intents.yaml:{intent.id}:-: crisis intents are answered before any flow intent"
    used = {i.id for i in spec.intents} | {words.none_intent}
    if words.none_intent not in words.intents:
        yield f"intents.yaml:{words.none_intent}:-: the none intent is missing"
    categories = set(crisis.categories)
    named = {w.crisis for w in words.intents.values() if w.crisis}
    for category in sorted(categories - named):
        yield f"intents.yaml:-:-: crisis category {category!r} has no intent"
    for intent_id, w in words.intents.items():
        if w.crisis and w.crisis not in categories:
            yield f"intents.yaml:{intent_id}:crisis: unknown crisis category {w.crisis!r}"
        if not w.crisis and intent_id not in used:
            yield f"intents.yaml:{intent_id}:-: intent is defined but the flow never uses it"
        for field in ("keywords", "phrases", "unless"):
            for lang in getattr(w, field):
                if lang not in langs:
                    yield f"{where}:{intent_id}:{field}.{lang}: language {lang!r} is not in {langs}"
        if not w.crisis and intent_id != words.none_intent:
            for field in ("label", "spoken"):
                for lang in langs:
                    if not getattr(w, field).get(lang, "").strip():
                        yield f"{where}:{intent_id}:{field}.{lang}: missing translation"
        if w.classify and intent_id in used | {k for k, v in words.intents.items() if v.crisis}:
            for lang in langs:
                if len(examples.get(intent_id, {}).get(lang, [])) < 3:
                    yield (
                        f"examples.yaml:{intent_id}:{lang}: at least 3 examples are needed "
                        f"to learn intent {intent_id!r} in {lang!r}"
                    )
    for intent_id, by_language in examples.items():
        if intent_id not in words.intents:
            yield f"examples.yaml:{intent_id}:-: unknown intent {intent_id!r}"
        for lang in by_language:
            if lang not in langs:
                yield f"examples.yaml:{intent_id}:{lang}: language {lang!r} is not one of {langs}"
    for lang in words.shorthand:
        if lang not in langs:
            yield f"intents.yaml:-:shorthand.{lang}: language {lang!r} is not one of {langs}"


_MODELS: dict[str, LinearModel] = {}


def train_model(texts: list[str], labels: list[str], cache: Path | None = None) -> LinearModel:
    """Fit the intent classifier in a child process (scikit-learn stays out of this one).

    The same data gives the same model, so it is kept in this process and, with `cache`, in
    a file named by the data's hash: a restart reads it instead of training again.
    """
    # The key is hashed example by example: one 2 MB string of them all, and its bytes, would
    # raise every worker's peak, and so its resident size, for nothing when the cache has it.
    digest = hashlib.sha256(json.dumps(SETTINGS, sort_keys=True).encode() + b"\n")
    for text, label in zip(texts, labels, strict=True):
        digest.update(json.dumps([text, label]).encode() + b"\n")
    key = digest.hexdigest()
    if key in _MODELS:  # the same data in the same process: the same model
        return _MODELS[key]
    path = cache / f"intents-{key[:32]}.bin" if cache is not None else None
    model = _read_model(path) if path is not None else None
    if model is None:
        data = _fit_in_child(json.dumps({"texts": texts, "labels": labels}, sort_keys=True))
        model = LinearModel.from_bytes(data)
        if path is not None:
            _write_model(path, data)
    _MODELS[key] = model
    return model


def _fit_in_child(payload: str) -> bytes:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "intake.flow.language.train"],
            input=payload.encode(),
            capture_output=True,
            env=env,
            timeout=TRAIN_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FlowError([f"flows/language:-:-: training the intent classifier failed: {e}"]) from e
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        last = (stderr.splitlines() or ["no output"])[-1]
        raise FlowError([f"flows/language:-:-: training the intent classifier failed: {last}"])
    return done.stdout


def _read_model(path: Path) -> LinearModel | None:
    """The cached model, or None when there is none or it cannot be read (then: train)."""
    try:
        with path.open("rb") as file:
            return LinearModel.from_file(file)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_model(path: Path, data: bytes) -> None:
    """Keep the model for the next start; a folder that refuses only costs that start time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # whole or not at all: a reader never sees half a file
    except OSError:
        pass


def check_flow(flow: Flow) -> Iterator[tuple[str, str]]:
    """Yield (state:field, message) for everything wrong with a parsed flow."""
    spec = flow.spec
    langs = spec.languages

    def texts(where: str, value: ChannelText) -> Iterator[tuple[str, str]]:
        for channel, by_language in value.items():
            if channel not in spec.channels:
                yield (
                    where,
                    f"channel {channel!r} is not one of the flow's channels {spec.channels}",
                )
            yield from localized(f"{where}.{channel}", by_language, sms=channel == "sms")

    def localized(where: str, value: Localized, sms: bool = False) -> Iterator[tuple[str, str]]:
        for lang in langs:
            if not value.get(lang, "").strip():
                yield f"{where}.{lang}", f"missing translation for {lang!r}"
        for lang, text in value.items():
            if lang not in langs:
                yield f"{where}.{lang}", f"language {lang!r} is not one of {langs}"
                continue
            unknown = [p for p in placeholders(text) if p not in PLACEHOLDERS]
            if unknown:
                yield (
                    f"{where}.{lang}",
                    f"unknown placeholder {{{unknown[0]}}}; use one of {PLACEHOLDERS}",
                )
            elif sms:
                marked = _worst_case(flow, lang, text)
                rendered = for_channel(marked, "sms")
                n = segment_count(rendered)
                if n > MAX_SMS_SEGMENTS:
                    problem = f"SMS text needs {n} segments (limit {MAX_SMS_SEGMENTS})"
                    yield f"{where}.{lang}", f"{problem}: {len(rendered)} characters"
                if len(marked) > WHATSAPP_MAX_CHARS:
                    problem = f"WhatsApp text has {len(marked)} characters"
                    yield f"{where}.{lang}", f"{problem} (limit {WHATSAPP_MAX_CHARS})"

    def target(where: str, value: Target | None) -> Iterator[tuple[str, str]]:
        for channel in CHANNELS:
            state = resolve_target(value, channel)
            if state is not None and state not in spec.states:
                yield where, f"unknown target state {state!r}"

    def actions(where: str, items: list[Action]) -> Iterator[tuple[str, str]]:
        for i, action in enumerate(items):
            if isinstance(action, SendSnippet) and action.send_snippet not in flow.snippets:
                yield f"{where}.{i}", f"unknown snippet {action.send_snippet!r}"
            if isinstance(action, Say) and action.say not in spec.messages:
                yield f"{where}.{i}", f"unknown message {action.say!r}"
            if isinstance(action, SetLanguage) and action.set_language not in langs:
                yield f"{where}.{i}", f"unknown language {action.set_language!r}"

    def transition(where: str, t: ChannelTransition | None) -> Iterator[tuple[str, str]]:
        for key, tr in _transitions(t):
            yield from actions(f"{where}{key}.actions", tr.actions)
            yield from target(f"{where}{key}.next", tr.next)

    if spec.start not in spec.states:
        yield "-:start", f"unknown start state {spec.start!r}"
    for name in REQUIRED_MESSAGES:
        if name not in spec.messages:
            yield f"-:messages.{name}", "required message is missing"
    for name, value in spec.messages.items():
        yield from texts(f"-:messages.{name}", value)
    for name, labels in spec.labels.items():
        yield from localized(f"-:labels.{name}", labels)
    yield from transition("-:on_max_attempts", spec.on_max_attempts)
    for name, t in spec.signals.items():
        yield from transition(f"-:signals.{name}", t)
    for i, intent in enumerate(spec.intents):
        yield from actions(f"-:intents.{i}.actions", intent.actions)
        yield from target(f"-:intents.{i}.next", intent.next)
    for state_id, state in spec.states.items():
        yield from target(f"{state_id}:when_no_contact", state.when_no_contact)
        yield from texts(f"{state_id}:prompt", state.prompt)
        yield from texts(f"{state_id}:reprompt", state.reprompt)
        yield from transition(f"{state_id}:on_max_attempts", state.on_max_attempts)
        yield from transition(f"{state_id}:on_timeout", state.on_timeout)
        inp = state.input
        if isinstance(inp, ChoiceInput):
            for i, choice in enumerate(inp.choices):
                yield from actions(f"{state_id}:input.choices.{i}.actions", choice.actions)
                yield from target(f"{state_id}:input.choices.{i}.next", choice.next)
        elif isinstance(inp, YesNoInput):
            yield from transition(f"{state_id}:input.yes", inp.yes)
            yield from transition(f"{state_id}:input.no", inp.no)
            yield from target(f"{state_id}:input.next", inp.next)
            if inp.next is None and (inp.yes is None or inp.no is None):
                yield f"{state_id}:input", "yes_no needs `next` or both `yes` and `no`"
        elif hasattr(inp, "next"):
            yield from target(f"{state_id}:input.next", inp.next)
    for snippet_id, snippet in flow.snippets.items():
        yield from localized(f"snippet {snippet_id}:title", snippet.title)
        yield from localized(f"snippet {snippet_id}:sms", snippet.sms, sms=True)
        if "voice" in spec.channels:
            yield from localized(f"snippet {snippet_id}:voice", snippet.voice)
    for state_id in sorted(set(spec.states) - reachable(spec)):
        yield f"{state_id}:-", "unreachable: no transition leads here"


def reachable(spec: FlowSpec) -> set[str]:
    """States that some path from the start, a keyword or the fallback can reach."""
    roots: list[Target | None] = [spec.start]
    roots += [intent.next for intent in spec.intents]
    roots += [t.next for _, t in _transitions(spec.on_max_attempts)]
    roots += [t.next for s in spec.signals.values() for _, t in _transitions(s)]
    seen: set[str] = set()
    todo = [s for root in roots for s in _targets(root)]
    while todo:
        state_id = todo.pop()
        if state_id in seen or state_id not in spec.states:
            continue
        seen.add(state_id)
        state = spec.states[state_id]
        nexts: list[Target | None] = [state.when_no_contact]
        for t in (state.on_max_attempts, state.on_timeout):
            nexts += [tr.next for _, tr in _transitions(t)]
        inp = state.input
        if isinstance(inp, ChoiceInput):
            nexts += [c.next for c in inp.choices]
        elif isinstance(inp, YesNoInput):
            nexts += [inp.next] + [tr.next for t in (inp.yes, inp.no) for _, tr in _transitions(t)]
        elif hasattr(inp, "next"):
            nexts.append(inp.next)
        todo += [s for n in nexts for s in _targets(n)]
    return seen


def _targets(target: Target | None) -> list[str]:
    if target is None:
        return []
    return [target] if isinstance(target, str) else list(target.values())


def _transitions(t: ChannelTransition | None) -> list[tuple[str, Transition]]:
    if t is None:
        return []
    if isinstance(t, Transition):
        return [("", t)]
    return [(f".{channel}", tr) for channel, tr in t.items()]


def _worst_case(flow: Flow, lang: str, text: str) -> str:
    now = datetime(2000, 1, 1, tzinfo=UTC)
    session = Session(
        flow=flow.id,
        channel="sms",
        language=lang,
        contact="+17273917001",
        state=flow.spec.start,
        fields=dict(WORST_CASE_FIELDS),
        started_at=now,
        updated_at=now,
    )
    values = template_values(flow, session)
    values["option_a"] = values["option_b"] = WORST_CASE_OPTION
    return text.format_map(values).strip()


def _load_snippets(directory: Path, problems: list[str]) -> dict[str, Snippet]:
    snippets: dict[str, Snippet] = {}
    for path in sorted(directory.glob("*.yaml")):
        data = _read(path, problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(f"{_rel(path)}:-:-: expected a mapping of snippet id to snippet")
            continue
        for snippet_id, body in data.items():
            try:
                snippets[str(snippet_id)] = Snippet.model_validate(body)
            except ValidationError as e:
                problems.extend(_pydantic_problems(path, e, prefix=(f"snippet {snippet_id}",)))
    return snippets


def _load_all_examples(
    directory: Path, problems: list[str]
) -> dict[str, dict[str, list[str]]] | None:
    """Every examples*.yaml in the folder, merged: intent -> language -> texts."""
    merged: dict[str, dict[str, list[str]]] = {}
    paths = sorted(directory.glob("examples*.yaml"))
    if not paths:
        problems.append(f"{_rel(directory)}:-:-: no examples*.yaml to train the classifier from")
        return None
    for path in paths:
        found = _load_examples(path, problems)
        if found is None:
            return None
        for intent, by_language in found.items():
            for lang, texts in by_language.items():
                merged.setdefault(intent, {}).setdefault(lang, []).extend(texts)
    return merged


def _load_examples(path: Path, problems: list[str]) -> dict[str, dict[str, list[str]]] | None:
    data = _read(path, problems, plain_strings=True)
    if data is None:
        return None
    ok = isinstance(data, dict) and all(
        isinstance(by_lang, dict)
        and all(
            isinstance(items, list) and all(isinstance(i, str) for i in items)
            for items in by_lang.values()
        )
        for by_lang in data.values()
    )
    if not ok:
        problems.append(f"{_rel(path)}:-:-: expected intent -> language -> list of example texts")
        return None
    return {str(k): {str(lang): list(v) for lang, v in by.items()} for k, by in data.items()}


def _load_crisis(path: Path, problems: list[str]) -> CrisisSpec | None:
    if not path.exists():
        problems.append(f"{_rel(path)}:-:-: crisis phrase list is missing")
        return None
    spec: CrisisSpec | None = _parse(path, CrisisSpec, problems)
    return spec


def _parse(path: Path, model: Any, problems: list[str]) -> Any:
    data = _read(path, problems)
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems.extend(_pydantic_problems(path, e))
        return None


def _read(path: Path, problems: list[str], plain_strings: bool = False) -> Any:
    """Parse a YAML file, or add a problem; `plain_strings`: a long list of quoted texts."""
    try:
        with path.open(encoding="utf-8") as f:
            text = f.read()
        # libyaml is far quicker and lighter on thousands of examples; their texts are quoted,
        # so YAML 1.1 booleans cannot creep in.
        data = yaml.load(text, Loader=_FAST) if plain_strings else read_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else "-"
        problems.append(f"{_rel(path)}:{line}:-: invalid YAML: {getattr(e, 'problem', e)}")
        return None
    except OSError as e:
        problems.append(f"{_rel(path)}:-:-: cannot read: {e.strerror}")
        return None
    if data is None:
        problems.append(f"{_rel(path)}:-:-: file is empty")
    return data


def _pydantic_problems(
    path: Path, error: ValidationError, prefix: tuple[str, ...] = ()
) -> list[str]:
    out = []
    for err in error.errors():
        loc = prefix + tuple(str(p) for p in err["loc"])
        if len(loc) >= 2 and loc[0] == "states":
            state, field = loc[1], ".".join(loc[2:]) or "-"
        elif prefix:
            state, field = loc[0], ".".join(loc[1:]) or "-"
        else:
            state, field = "-", ".".join(loc) or "-"
        out.append(f"{_rel(path)}:{state}:{field}: {err['msg']}")
    return out


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
