"""start(flow, trigger) / resume(flow, session, input) -> (session, events). No I/O here."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from . import events as ev
from .model import (
    Action,
    Channel,
    ChannelTransition,
    ChoiceInput,
    CrisisSpec,
    FlowSpec,
    Keyword,
    NoInput,
    PhoneInput,
    Say,
    SendSnippet,
    SetFields,
    SetLanguage,
    Snippet,
    State,
    Target,
    TextInput,
    TimeWindowInput,
    Transition,
    YesNoInput,
)
from .text import format_phone, normalise, parse_phone, phrase_pattern, spoken_digits, time_window

# Placeholders a prompt may use; filled from the session and the flow's params.
PLACEHOLDERS = (
    "name",
    "callback_number",
    "callback_number_digits",
    "contact_digits",
    "best_time",
    "for_whom",
    "voicemail_ok",
    "text_ok",
    "admissions",
    "admissions_digits",
    "program",
)


class Session(BaseModel):
    """One person's conversation on one channel."""

    flow: str
    channel: Channel
    language: str
    contact: str  # E.164 of the person, or "" when unknown (hidden caller ID)
    state: str
    attempts: int = 0
    fields: dict[str, str | bool | None] = {}
    topics: list[str] = []
    last_snippet: str | None = None
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Trigger:
    """How a conversation starts: someone texts or calls."""

    channel: Channel
    contact: str
    now: datetime
    language: str | None = None
    returning: bool = False  # we talked before but the session expired


@dataclass(frozen=True)
class UserInput:
    """What the person sent: typed text, keypad digits, a speech transcript, or silence."""

    text: str = ""
    digits: str = ""
    speech: str = ""
    timed_out: bool = False


class CrisisMatcher:
    """Finds crisis language; a false alarm is acceptable, a miss is not."""

    def __init__(self, spec: CrisisSpec) -> None:
        self.patterns: list[tuple[str, str, re.Pattern[str]]] = []
        for category, by_language in spec.categories.items():
            for language, phrases in by_language.items():
                pattern = phrase_pattern(phrases)
                if pattern is not None:
                    self.patterns.append((category, language, pattern))

    def match(self, text: str, prefer: str | None = None) -> tuple[str, str] | None:
        """(category, language) of the first phrase found, trying `prefer`'s phrases first."""
        norm = normalise(text)
        if not norm:
            return None
        for category, language, pattern in sorted(self.patterns, key=lambda p: p[1] != prefer):
            if pattern.search(norm):
                return category, language
        return None

    def category(self, text: str) -> str | None:
        """The first crisis category the text matches, or None."""
        found = self.match(text)
        return found[0] if found else None


@dataclass(frozen=True)
class Flow:
    """A validated flow with its snippets, crisis phrases and host parameters."""

    spec: FlowSpec
    snippets: dict[str, Snippet]
    crisis: CrisisMatcher
    params: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id


def start(
    flow: Flow, trigger: Trigger, first: UserInput | None = None
) -> tuple[Session, list[ev.Event]]:
    """Open a session; `first` is the message that opened it (SMS), if any."""
    language = trigger.language or flow.spec.languages[0]
    session = Session(
        flow=flow.id,
        channel=trigger.channel,
        language=language,
        contact=trigger.contact,
        state=flow.spec.start,
        started_at=trigger.now,
        updated_at=trigger.now,
    )
    run = _Run(flow, session)
    if first is not None and run.crisis(first):
        return run.finish(trigger.now)
    keyword = run.keyword(first) if first is not None else None
    if keyword is not None:
        for action in keyword.actions:  # "Hola" is welcomed in Spanish
            if isinstance(action, SetLanguage):
                session.language = action.set_language
    if keyword is None or not _silences_welcome(keyword.actions):
        run.say("welcome_back" if trigger.returning else "welcome")
    if keyword is not None:
        run.transition(Transition(actions=keyword.actions, next=keyword.next))
        if keyword.next is None and not _silences_welcome(keyword.actions):
            run.enter(flow.spec.start, quiet=bool(keyword.actions))
    else:
        run.enter(flow.spec.start)
    return run.finish(trigger.now)


def resume(
    flow: Flow, session: Session, inp: UserInput, now: datetime
) -> tuple[Session, list[ev.Event]]:
    """Move a session on by one input."""
    run = _Run(flow, session.model_copy(deep=True))
    if run.crisis(inp):
        if run.session.channel == "voice":
            run.enter(run.session.state)
        return run.finish(now)
    keyword = run.keyword(inp)
    if keyword is not None:
        run.transition(Transition(actions=keyword.actions, next=keyword.next))
        return run.finish(now)
    run.handle(inp)
    return run.finish(now)


def signal(
    flow: Flow, session: Session, name: str, now: datetime
) -> tuple[Session, list[ev.Event]]:
    """Move a session on by something the host reports, such as a failed transfer."""
    run = _Run(flow, session.model_copy(deep=True))
    run.transition(flow.spec.signals[name])
    return run.finish(now)


def prompt_events(flow: Flow, session: Session) -> list[ev.Event]:
    """What entering the session's current state says (for rendering every state)."""
    run = _Run(flow, session.model_copy(deep=True))
    run.enter(session.state)
    return run.events


def match_keyword(flow: Flow, text: str) -> Keyword | None:
    """The keyword a typed message is: the whole message, or a phrase found in it."""
    norm = normalise(text)
    if not norm:
        return None
    for keyword in flow.spec.keywords:
        if norm in _normalised(tuple(keyword.words)):
            return keyword
    for keyword in flow.spec.keywords:
        pattern = _pattern(tuple(keyword.phrases))
        if pattern is not None and pattern.search(norm):
            return keyword
    return None


def _silences_welcome(actions: list[Action]) -> bool:
    return any(a in ("opt_out", "opt_in") for a in actions)


class _Run:
    """One step of the engine: mutates a copy of the session and collects events."""

    def __init__(self, flow: Flow, session: Session) -> None:
        self.flow = flow
        self.spec = flow.spec
        self.session = session
        self.events: list[ev.Event] = []

    def finish(self, now: datetime) -> tuple[Session, list[ev.Event]]:
        self.session.updated_at = now
        return self.session, self.events

    # --- saying things -------------------------------------------------

    def emit_text(self, text: str) -> None:
        if self.session.channel == "sms":
            self.events.append(ev.MessageSent(text))
        else:
            self.events.append(ev.PromptSpoken(text))

    def localise(self, texts: dict[Channel, dict[str, str]]) -> str | None:
        by_language = texts.get(self.session.channel)
        if not by_language:
            return None
        return render(by_language[self.session.language], self.values())

    def say(self, message_id: str) -> None:
        text = self.localise(self.spec.messages[message_id])
        if text is not None:
            self.emit_text(text)

    def values(self) -> dict[str, str]:
        return template_values(self.flow, self.session)

    # --- recognising ---------------------------------------------------

    def crisis(self, inp: UserInput) -> bool:
        prefer = self.session.language
        found = self.flow.crisis.match(inp.text, prefer) or self.flow.crisis.match(
            inp.speech, prefer
        )
        if found is None:
            return False
        category, language = found
        if language != self.session.language and language in self.spec.languages:
            # Someone in crisis gets the answer in the language they wrote it in.
            self.session.language = language
            self.events.append(ev.LanguageChanged(language))
        request = callback_request(self.session, kind="crisis")
        self.events.append(ev.CrisisDetected(category=category, request=request))
        self.say("crisis")
        return True

    def keyword(self, inp: UserInput) -> Keyword | None:
        return match_keyword(self.flow, inp.text)

    # --- moving --------------------------------------------------------

    def state(self) -> State:
        return self.spec.states[self.session.state]

    def enter(self, state_id: str, quiet: bool = False) -> None:
        state = self.spec.states[state_id]
        if state.when_no_contact and not parse_phone(self.session.contact):
            state_id, state = state.when_no_contact, self.spec.states[state.when_no_contact]
        self.session.state = state_id
        self.session.attempts = 0
        if not quiet:
            text = self.localise(state.prompt)
            if text is not None:
                self.emit_text(text)
        self.request_input(state)

    def request_input(self, state: State) -> None:
        if isinstance(state.input, NoInput) or self.session.channel != "voice":
            return
        self.events.append(_input_requested(self.session.state, state, self.session.language))

    def transition(self, t: ChannelTransition) -> None:
        chosen = pick_transition(t, self.session.channel)
        if chosen is None:
            return
        for action in chosen.actions:
            self.act(action)
        target = resolve_target(chosen.next, self.session.channel)
        if target is not None:
            self.enter(target, quiet=chosen.quiet)
        elif self.session.channel == "voice" and not _ends(chosen.actions):
            self.request_input(self.state())

    def act(self, action: Action) -> None:
        s = self.session
        if isinstance(action, SendSnippet):
            self.send_snippet(action.send_snippet)
        elif isinstance(action, SetFields):
            s.fields.update(action.set)
        elif isinstance(action, Say):
            self.say(action.say)
        elif isinstance(action, SetLanguage):
            s.language = action.set_language
            self.events.append(ev.LanguageChanged(action.set_language))
        elif action == "repeat_snippet":
            if s.last_snippet:
                self.send_snippet(s.last_snippet)
        elif action == "use_contact":
            s.fields["callback_number"] = parse_phone(s.contact)
        elif action == "switch_language":
            langs = self.spec.languages
            s.language = langs[1] if s.language == langs[0] and len(langs) > 1 else langs[0]
            self.events.append(ev.LanguageChanged(s.language))
        elif action == "request_callback":
            self.events.append(ev.CallbackRequested(callback_request(s, kind="callback")))
        elif action == "reset_callback":
            s.fields.clear()
        elif action == "opt_out":
            self.events.append(ev.OptedOut())
        elif action == "opt_in":
            self.events.append(ev.OptedIn())
        elif action == "transfer":
            self.events.append(ev.TransferRequested())
        elif action == "end":
            self.events.append(ev.SessionEnded())

    def send_snippet(self, snippet_id: str) -> None:
        snippet = self.flow.snippets[snippet_id]
        texts = snippet.sms if self.session.channel == "sms" else snippet.voice
        text = render(texts[self.session.language], self.values())
        self.events.append(ev.SnippetSent(snippet_id=snippet_id, text=text))
        if snippet_id not in self.session.topics:
            self.session.topics.append(snippet_id)
        self.session.last_snippet = snippet_id

    # --- the state's input ---------------------------------------------

    def handle(self, inp: UserInput) -> None:
        state = self.state()
        if inp.timed_out and state.on_timeout is not None:
            self.transition(state.on_timeout)
            return
        outcome = None if inp.timed_out else self.interpret(state, inp)
        if outcome is None:
            self.fail(state)
        else:
            self.transition(outcome)

    def interpret(self, state: State, inp: UserInput) -> Transition | None:
        spec = state.input
        typed = inp.text or inp.speech
        if isinstance(spec, ChoiceInput):
            return self.choose(spec, inp)
        if isinstance(spec, TextInput):
            norm = normalise(typed)
            if spec.skippable and norm in _normalised(tuple(self.spec.vocab.get("skip", []))):
                self.session.fields[spec.save_as] = None
            elif norm:
                self.session.fields[spec.save_as] = _clip(typed, spec.max_length)
            else:
                return None
            return Transition(next=spec.next)
        if isinstance(spec, PhoneInput):
            number = None
            if spec.accept_contact and self.yes_no(inp) is True:
                number = parse_phone(self.session.contact)
            elif inp.digits:
                number = parse_phone(inp.digits.rstrip("#"))
            elif typed:
                number = parse_phone(typed)
            if number is None:
                return None
            self.session.fields[spec.save_as] = number
            return Transition(next=spec.next)
        if isinstance(spec, YesNoInput):
            answer = self.yes_no(inp)
            if answer is None:
                return None
            if spec.save_as:
                self.session.fields[spec.save_as] = answer
            branch = pick_transition(spec.yes if answer else spec.no, self.session.channel)
            return branch if branch is not None else Transition(next=spec.next)
        if isinstance(spec, TimeWindowInput):
            if inp.digits:
                window = spec.digits.get(inp.digits)
                if window is None:
                    return None
                self.session.fields[spec.save_as] = self.label(f"window_{window}")
                self.session.fields[spec.window_field] = window
                return Transition(next=spec.next)
            if not normalise(typed):
                return None
            self.session.fields[spec.save_as] = _clip(typed, 60)
            self.session.fields[spec.window_field] = time_window(typed, self.spec.windows)
            return Transition(next=spec.next)
        return None  # NoInput: nothing is expected

    def choose(self, spec: ChoiceInput, inp: UserInput) -> Transition | None:
        for choice in spec.choices:
            if inp.digits and choice.digits is not None and inp.digits == choice.digits:
                return Transition(actions=choice.actions, next=choice.next)
        norm = normalise(inp.text or inp.speech)
        if not norm:
            return None
        for choice in spec.choices:
            if norm in _normalised(tuple(choice.words)):
                return Transition(actions=choice.actions, next=choice.next)
        if inp.speech:
            for choice in spec.choices:
                phrases = tuple(p for ps in choice.speech.values() for p in ps)
                pattern = _pattern(phrases)
                if pattern is not None and pattern.search(norm):
                    return Transition(actions=choice.actions, next=choice.next)
        return None

    def yes_no(self, inp: UserInput) -> bool | None:
        if inp.digits:
            return {"1": True, "2": False}.get(inp.digits)
        norm = normalise(inp.text or inp.speech)
        yes = _normalised(tuple(self.spec.vocab.get("yes", [])))
        no = _normalised(tuple(self.spec.vocab.get("no", [])))
        if norm in yes:
            return True
        if norm in no:
            return False
        if inp.speech:  # transcripts add words: "yes please", "no thank you"
            words = set(norm.split())
            if words & yes and not words & no:
                return True
            if words & no and not words & yes:
                return False
        return None

    def fail(self, state: State) -> None:
        self.session.attempts += 1
        if self.session.attempts >= state.max_attempts:
            self.transition(state.on_max_attempts or self.spec.on_max_attempts)
            return
        text = self.localise(state.reprompt) if state.reprompt else None
        if text is None:
            text = self.localise(self.spec.messages.get("reprompt", {}))
            prompt = self.localise(state.prompt)
            if text is not None and prompt is not None:
                text = f"{text} {prompt}"
        if text is not None:
            self.emit_text(text)
        self.request_input(state)

    def label(self, key: str) -> str:
        labels = self.spec.labels.get(key)
        return labels[self.session.language] if labels else key


def pick_transition(t: ChannelTransition | None, channel: Channel) -> Transition | None:
    if t is None or isinstance(t, Transition):
        return t
    return t.get(channel)


def resolve_target(target: Target | None, channel: Channel) -> str | None:
    if target is None or isinstance(target, str):
        return target
    return target.get(channel)


def callback_request(session: Session, kind: str) -> ev.CallbackRequest:
    """The task a session asks for: its collected fields, or what we know now in a crisis."""
    f = session.fields
    crisis = kind == "crisis"
    return ev.CallbackRequest(
        kind="crisis" if crisis else "callback",
        priority="urgent" if crisis else "normal",
        channel=session.channel,
        language=session.language,
        from_number=session.contact,
        callback_number=_str(f.get("callback_number"))
        or (session.contact or None if crisis else None),
        name=_str(f.get("name")),
        best_time=_str(f.get("best_time")) or ("now" if crisis else None),
        best_time_window=_str(f.get("best_time_window")) or ("now" if crisis else None),
        for_whom=_str(f.get("for_whom")),
        voicemail_ok=_bool(f.get("voicemail_ok")),
        text_ok=_bool(f.get("text_ok")),
        topics=tuple(session.topics),
    )


def template_values(flow: Flow, session: Session) -> dict[str, str]:
    """Placeholder values for prompts, in the session's language."""
    lang = session.language
    labels = flow.spec.labels

    def label(key: str) -> str:
        return labels[key][lang] if key in labels else key

    def yes_no(value: Any) -> str:
        return (
            label("yes") if value is True else label("no") if value is False else label("unknown")
        )

    f = session.fields
    callback = _str(f.get("callback_number"))
    values = {
        "name": _str(f.get("name")) or label("no_name"),
        "callback_number": format_phone(callback) if callback else "",
        "callback_number_digits": spoken_digits(callback) if callback else "",
        "contact_digits": spoken_digits(session.contact) if session.contact else "",
        "best_time": _str(f.get("best_time")) or label("unknown"),
        "for_whom": label(f"for_{f['for_whom']}") if f.get("for_whom") else label("unknown"),
        "voicemail_ok": yes_no(f.get("voicemail_ok")),
        "text_ok": yes_no(f.get("text_ok")),
    }
    values.update(flow.params)
    return values


def render(template: str, values: dict[str, str]) -> str:
    return template.format_map(values).strip()


def placeholders(template: str) -> list[str]:
    """Names a template refers to (for validation)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def _input_requested(state_id: str, state: State, language: str) -> ev.InputRequested:
    spec = state.input
    hints: list[str] = []
    finish, num = "", None
    if isinstance(spec, ChoiceInput):
        for choice in spec.choices:
            hints.extend(choice.speech.get(language, []))
        keys = [c.digits for c in spec.choices if c.digits]
        if keys and all(len(k) == 1 for k in keys):
            num = 1
    elif isinstance(spec, PhoneInput):
        finish = "#"
    elif isinstance(spec, (YesNoInput, TimeWindowInput)):
        num = 1
    return ev.InputRequested(
        state=state_id, kind=spec.type, hints=tuple(hints), finish_on_key=finish, num_digits=num
    )


def _ends(actions: list[Action]) -> bool:
    return any(a in ("end", "transfer") for a in actions)


def _clip(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


_NORMALISED: dict[tuple[str, ...], frozenset[str]] = {}
_PATTERNS: dict[tuple[str, ...], re.Pattern[str] | None] = {}


def _normalised(words: tuple[str, ...]) -> frozenset[str]:
    cached = _NORMALISED.get(words)
    if cached is None:
        cached = _NORMALISED[words] = frozenset(normalise(w) for w in words)
    return cached


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    if phrases not in _PATTERNS:
        _PATTERNS[phrases] = phrase_pattern(list(phrases))
    return _PATTERNS[phrases]
