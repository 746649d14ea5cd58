"""start(flow, trigger) / resume(flow, session, input) -> (session, events). No I/O here."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from pydantic import BaseModel

from . import events as ev
from .language.answers import Answers
from .language.understand import Language, Reading
from .language.when import TimeWindow, parse_when, window_for_label
from .model import (
    Action,
    Channel,
    ChannelTransition,
    ChoiceInput,
    FlowSpec,
    ForWhomInput,
    Intent,
    Medium,
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
    flow_channel,
)
from .text import (
    find_phone,
    for_channel,
    format_phone,
    parse_phone,
    phrase_pattern,
    plain,
    spoken_digits,
)

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
    "option_a",  # the two intents "Did you mean ... or ...?" offers
    "option_b",
)


class Session(BaseModel):
    """One person's conversation on one channel (sms, voice or whatsapp)."""

    flow: str
    channel: Medium
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
    """How a conversation starts: someone texts (SMS or WhatsApp) or calls."""

    channel: Medium
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
    confidence: float | None = None  # how sure the speech recogniser was of `speech`, 0 to 1


@dataclass(frozen=True)
class Flow:
    """A validated flow with its snippets, its language layer and host parameters."""

    spec: FlowSpec
    snippets: dict[str, Snippet]
    language: Language
    answers: Answers
    params: dict[str, str] = field(default_factory=dict)
    timezone: tzinfo = UTC  # the center's: "tonight after 6" is read in it

    @property
    def id(self) -> str:
        return self.spec.id

    def intent(self, intent_id: str | None, channel: Channel = "sms") -> Intent | None:
        """What the flow does for an intent on a channel, if it does anything."""
        for intent in self.spec.intents:
            if intent.id == intent_id and channel in intent.channels:
                return intent
        return None


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
    run = _Run(flow, session, trigger.now)
    reading = run.read(first) if first is not None else None
    if reading is not None and run.crisis(reading):
        return run.finish()
    intent = run.intent_of(reading) if reading is not None else None
    if reading is not None and trigger.language is None:
        # The first message sets the language: "Hola", or a question asked in Spanish.
        spoken = reading.keyword[1] if reading.keyword else reading.language
        if spoken in flow.spec.languages and spoken != session.language:
            session.language = spoken
            run.events.append(ev.LanguageChanged(spoken))
    if intent is None or not _silences_welcome(intent.actions):
        run.say("welcome_back" if trigger.returning else "welcome")
    if intent is not None:
        run.do_intent(intent, reading)
        if intent.next is None and not _silences_welcome(intent.actions):
            run.enter(flow.spec.start, quiet=bool(intent.actions))
    elif reading is not None and reading.clarify:
        run.enter(flow.spec.start, quiet=True)
        run.ask_which(reading.clarify)
    else:
        run.enter(flow.spec.start)
    return run.finish()


def resume(
    flow: Flow, session: Session, inp: UserInput, now: datetime
) -> tuple[Session, list[ev.Event]]:
    """Move a session on by one input."""
    run = _Run(flow, _copy(session), now)
    reading = run.read(inp)
    if reading is not None and run.crisis(reading):
        if run.session.channel == "voice":
            run.enter(run.session.state)
        return run.finish()
    if reading is not None and reading.keyword is not None:
        intent = flow.intent(reading.keyword[0], flow_channel(run.session.channel))
        if intent is not None:
            run.do_intent(intent, reading)
            return run.finish()
    run.handle(inp, reading)
    return run.finish()


def signal(
    flow: Flow, session: Session, name: str, now: datetime
) -> tuple[Session, list[ev.Event]]:
    """Move a session on by something the host reports, such as a failed transfer."""
    run = _Run(flow, _copy(session), now)
    run.transition(flow.spec.signals[name])
    return run.finish()


def prompt_events(flow: Flow, session: Session) -> list[ev.Event]:
    """What entering the session's current state says (for rendering every state)."""
    run = _Run(flow, _copy(session), session.updated_at)
    run.enter(session.state)
    return run.events


def _copy(session: Session) -> Session:
    """A copy the step may change: its two containers copied; what they hold (strings, flags)
    and every other field never change in place, so a deep copy would only cost time."""
    return session.model_copy(
        update={"fields": dict(session.fields), "topics": list(session.topics)}
    )


def read(flow: Flow, text: str, language: str | None = None) -> Reading:
    """What the language layer makes of a message (crisis, intent), outside a conversation."""
    return flow.language.read(text, language or flow.spec.languages[0])


def opts_in(flow: Flow, reading: Reading) -> bool:
    """Whether a message is a clear request to get texts again (START)."""
    intent = flow.intent(reading.keyword[0]) if reading.keyword else None
    return intent is not None and "opt_in" in intent.actions


def _silences_welcome(actions: list[Action]) -> bool:
    return any(a in ("opt_out", "opt_in") for a in actions)


class _Run:
    """One step of the engine: mutates a copy of the session and collects events."""

    def __init__(self, flow: Flow, session: Session, now: datetime) -> None:
        self.flow = flow
        self.spec = flow.spec
        self.session = session
        self.now = now
        self.events: list[ev.Event] = []
        self.extra: dict[str, str] = {}  # placeholders for this step only ("Did you mean")
        self.reading: Reading | None = None  # what the person said this step, once read

    def finish(self) -> tuple[Session, list[ev.Event]]:
        self.session.updated_at = self.now
        return self.session, self.events

    # --- saying things -------------------------------------------------

    @property
    def kind(self) -> Channel:
        """The flow channel whose texts and branches this conversation follows."""
        return flow_channel(self.session.channel)

    def emit_text(self, text: str) -> None:
        text = for_channel(text, self.session.channel)
        if self.kind == "sms":
            self.events.append(ev.MessageSent(text))
        else:
            self.events.append(ev.PromptSpoken(text))

    def localise(self, texts: dict[Channel, dict[str, str]]) -> str | None:
        by_language = texts.get(self.kind)
        if not by_language:
            return None
        return render(by_language[self.session.language], self.values())

    def say(self, message_id: str) -> None:
        text = self.localise(self.spec.messages[message_id])
        if text is not None:
            self.emit_text(text)

    def values(self) -> dict[str, str]:
        return template_values(self.flow, self.session) | self.extra

    # --- recognising ---------------------------------------------------

    def read(self, inp: UserInput) -> Reading | None:
        """The language layer's reading of typed text or a transcript; None for keys or silence."""
        said = inp.text or inp.speech
        if not said.strip():
            return None
        answering = not isinstance(self.state().input, (ChoiceInput, NoInput))
        reading = self.flow.language.read(said, self.session.language, answering=answering)
        if inp.speech and inp.confidence is not None:
            if inp.confidence < self.flow.language.spec.speech_confidence:
                # A doubtful transcript: act on crisis words, never guess anything else.
                reading = Reading(
                    plain=reading.plain, words="", language=None, crisis=reading.crisis
                )
        self.reading = reading
        return reading

    def crisis(self, reading: Reading) -> bool:
        if reading.crisis is None:
            return False
        category, language = reading.crisis
        if language != self.session.language and language in self.spec.languages:
            # Someone in crisis gets the answer in the language they wrote it in.
            self.session.language = language
            self.events.append(ev.LanguageChanged(language))
        request = callback_request(self.session, kind="crisis", category=category)
        self.events.append(ev.CrisisDetected(category=category, request=request))
        self.say("crisis")
        return True

    def intent_of(self, reading: Reading | None) -> Intent | None:
        """The flow's intent for what the person said, when the language layer is sure."""
        if reading is None:
            return None
        return self.flow.intent(reading.intent, self.kind)

    def do_intent(self, intent: Intent, reading: Reading | None) -> None:
        if (
            intent.follow_language
            and reading is not None
            and reading.keyword is not None
            and reading.keyword[1] != self.session.language
            and reading.keyword[1] in self.spec.languages
        ):
            self.session.language = reading.keyword[1]
            self.events.append(ev.LanguageChanged(self.session.language))
        self.transition(Transition(actions=intent.actions, next=intent.next))

    def ask_which(self, options: tuple[str, ...]) -> None:
        """Low confidence is never a dead end: offer the two likeliest intents."""
        words = self.flow.language.spec.intents
        key = "label" if self.kind == "sms" else "spoken"
        lang = self.session.language
        names = [getattr(words[o], key).get(lang) or o for o in options[:2]]
        self.extra = {"option_a": names[0], "option_b": names[1]}
        self.say("clarify")
        self.extra = {}
        self.request_input(self.state())

    # --- moving --------------------------------------------------------

    def state(self) -> State:
        return self.spec.states[self.session.state]

    def enter(self, state_id: str, quiet: bool = False) -> None:
        for _ in range(len(self.spec.states)):
            state = self.spec.states[state_id]
            if state.when_no_contact and not parse_phone(self.session.contact):
                state_id, state = state.when_no_contact, self.spec.states[state.when_no_contact]
            known = self.known(state)
            if known is None:
                break
            state_id = known  # never ask for what the person already said
        self.session.state = state_id
        self.session.attempts = 0
        if not quiet:
            text = self.localise(state.prompt)
            if text is not None:
                self.emit_text(text)
        self.request_input(state)

    def known(self, state: State) -> str | None:
        """The next state when this one asks for a detail the session already has."""
        spec = state.input
        field_name = getattr(spec, "save_as", None)
        if not field_name or field_name not in self.session.fields:
            return None
        if isinstance(spec, YesNoInput):
            answer = self.session.fields[field_name]
            branch = pick_transition(spec.yes if answer else spec.no, self.kind)
            return resolve_target(branch.next if branch else spec.next, self.kind)
        return resolve_target(getattr(spec, "next", None), self.kind)

    def request_input(self, state: State) -> None:
        if isinstance(state.input, NoInput) or self.session.channel != "voice":
            return
        self.events.append(
            _input_requested(self.flow, self.session.state, state, self.session.language)
        )

    def transition(self, t: ChannelTransition) -> None:
        chosen = pick_transition(t, self.kind)
        if chosen is None:
            return
        for action in chosen.actions:
            self.act(action)
        target = resolve_target(chosen.next, self.kind)
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
            if s.language != action.set_language:
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
        elif action == "take_details":
            if self.reading is not None:
                self.take_details(self.reading, asked=None)
        elif action == "opt_out":
            self.events.append(ev.OptedOut())
        elif action == "opt_in":
            self.events.append(ev.OptedIn())
        elif action == "transfer":
            self.events.append(ev.TransferRequested())
        elif action == "end":
            self.events.append(ev.SessionEnded())

    def take_details(self, reading: Reading, asked: str | None) -> None:
        """Keep every callback detail a message gives, so that nobody is asked for it again."""
        f = self.session.fields
        text = reading.original
        if "name" not in f and asked != "name":
            name = self.flow.answers.name(text)
            if name:
                f["name"] = _clip(name, 40)
        if "best_time" not in f and asked != "best_time":
            window = parse_when(text, self.now, self.flow.timezone)
            if window is not None:  # said in passing: shown as its window, not the sentence
                self.keep_window(self.window_words(window) or _clip(text, 60), window)
        if "for_whom" not in f and asked != "for_whom":
            whom = self.flow.answers.for_whom(reading.words)
            if whom is not None:
                f["for_whom"], f["for_whom_detail"] = whom
        if "callback_number" not in f and asked != "callback_number":
            number = find_phone(text)
            if number:
                f["callback_number"] = number

    def window_words(self, window: TimeWindow) -> str | None:
        """'today 6 PM to 9 PM': a window in words, in the session's language."""
        return window_words(self.flow, self.session.language, self.now, window)

    def keep_window(self, words: str, window: TimeWindow) -> None:
        f = self.session.fields
        f["best_time"] = words
        f["best_time_window"] = window.label
        f["best_time_start"] = window.start.isoformat() if window.start else None
        f["best_time_end"] = window.end.isoformat() if window.end else None

    def send_snippet(self, snippet_id: str) -> None:
        snippet = self.flow.snippets[snippet_id]
        texts = snippet.sms if self.kind == "sms" else snippet.voice
        text = for_channel(
            render(texts[self.session.language], self.values()), self.session.channel
        )
        self.events.append(ev.SnippetSent(snippet_id=snippet_id, text=text))
        if snippet_id not in self.session.topics:
            self.session.topics.append(snippet_id)
        self.session.last_snippet = snippet_id

    # --- the state's input ---------------------------------------------

    def handle(self, inp: UserInput, reading: Reading | None) -> None:
        state = self.state()
        if inp.timed_out and state.on_timeout is not None:
            self.transition(state.on_timeout)
            return
        outcome = None if inp.timed_out else self.interpret(state, inp, reading)
        if outcome is not None:
            self.transition(outcome)
            return
        # Not an answer to the question: maybe the person asked for something else. While we
        # collect callback details only a phrase they wrote counts, never a classifier guess.
        asking_data = not isinstance(state.input, ChoiceInput)
        trusted = reading is not None and (not asking_data or reading.source == "phrase")
        intent = self.intent_of(reading) if trusted else None
        if intent is not None:
            self.do_intent(intent, reading)
            return
        if trusted and reading is not None and reading.clarify and not asking_data:
            self.ask_which(reading.clarify)
            return
        self.fail(state)

    def interpret(self, state: State, inp: UserInput, reading: Reading | None) -> Transition | None:
        spec = state.input
        typed = inp.text or inp.speech
        if reading is not None and not reading.words and inp.speech:
            return None  # a transcript too doubtful to act on
        if isinstance(spec, ChoiceInput):
            return self.choose(spec, inp, reading)
        if reading is not None and not isinstance(spec, NoInput):
            self.take_details(reading, asked=getattr(spec, "save_as", None))
        if isinstance(spec, TextInput):
            if reading is None:
                return None
            norm = reading.words
            skip = self.flow.answers.skip
            if spec.skippable and (norm in skip or reading.plain in skip):
                self.session.fields[spec.save_as] = None
            else:
                name = self.flow.answers.name(typed, asked=True) or _short_answer(typed)
                self.session.fields[spec.save_as] = _clip(name, spec.max_length)
            return Transition(next=spec.next)
        if isinstance(spec, PhoneInput):
            number = None
            if spec.accept_contact and self.yes_no(inp, reading) is True:
                number = parse_phone(self.session.contact)
            elif inp.digits:
                number = parse_phone(inp.digits.rstrip("#"))
            elif typed:
                number = parse_phone(typed) or find_phone(typed)
            if number is None:
                return None
            self.session.fields[spec.save_as] = number
            return Transition(next=spec.next)
        if isinstance(spec, YesNoInput):
            answer = self.yes_no(inp, reading)
            if answer is None:
                return None
            if spec.save_as:
                self.session.fields[spec.save_as] = answer
            branch = pick_transition(spec.yes if answer else spec.no, self.kind)
            return branch if branch is not None else Transition(next=spec.next)
        if isinstance(spec, ForWhomInput):
            whom: tuple[str, str | None] | None = None
            if inp.digits:
                whom = {"1": ("self", None), "2": ("other", None)}.get(inp.digits)
            elif reading is not None:
                whom = self.flow.answers.for_whom(reading.words, asked=True)
            if whom is None:
                return None
            self.session.fields[spec.save_as] = whom[0]
            self.session.fields[spec.detail_as] = whom[1]
            return Transition(next=spec.next)
        if isinstance(spec, TimeWindowInput):
            if inp.digits:
                label = spec.digits.get(inp.digits)
                if label is None:
                    return None
                self.keep_window(
                    self.label(f"window_{label}"),
                    window_for_label(label, self.now, self.flow.timezone),
                )
                return Transition(next=spec.next)
            if reading is None:
                return None
            window = parse_when(typed, self.now, self.flow.timezone)
            if window is not None:
                self.keep_window(_clip(typed, 60), window)
            else:  # kept as said: staff read it, and nobody is asked twice
                self.session.fields[spec.save_as] = _clip(typed, 60)
                self.session.fields[spec.window_field] = None
            return Transition(next=spec.next)
        return None  # NoInput: nothing is expected

    def choose(
        self, spec: ChoiceInput, inp: UserInput, reading: Reading | None
    ) -> Transition | None:
        for choice in spec.choices:
            if inp.digits and choice.digits is not None and inp.digits == choice.digits:
                return Transition(actions=choice.actions, next=choice.next)
        if reading is None or not reading.words:
            return None
        for choice in spec.choices:
            words = self.flow.language.normaliser.forms(tuple(choice.words))
            if reading.words in words or reading.plain in words:
                return Transition(actions=choice.actions, next=choice.next)
        if inp.speech:
            said = []
            for choice in spec.choices:
                phrases = tuple(p for ps in choice.speech.values() for p in ps)
                pattern = _pattern(phrases)
                if pattern is not None and pattern.search(reading.plain):
                    said.append(choice)
            if len(said) == 1:  # two at once ("anxiety or depression"): the intents decide
                return Transition(actions=said[0].actions, next=said[0].next)
        return None

    def yes_no(self, inp: UserInput, reading: Reading | None) -> bool | None:
        if inp.digits:
            return {"1": True, "2": False}.get(inp.digits)
        if reading is None or not reading.words:
            return None
        return self.flow.answers.yes_or_no(reading.words)

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


def callback_request(
    session: Session, kind: str, category: str | None = None
) -> ev.CallbackRequest:
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
        best_time_start=None if crisis else _when(f.get("best_time_start")),
        best_time_end=None if crisis else _when(f.get("best_time_end")),
        for_whom_detail=_str(f.get("for_whom_detail")),
        crisis_category=category if crisis else None,
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
        "option_a": "",
        "option_b": "",
    }
    values.update(flow.params)
    return values


def window_words(flow: Flow, language: str, now: datetime, window: TimeWindow) -> str | None:
    """'today 6 PM to 9 PM': a parsed window in our words, in `language`; never the person's."""

    def label(key: str) -> str:
        labels = flow.spec.labels.get(key)
        return labels[language] if labels else key

    if window.label in ("now", "any") or window.start is None:
        return label(f"window_{window.label}") if window.label else None
    tz = flow.timezone
    start, today = window.start.astimezone(tz), now.astimezone(tz).date()
    days = (start.date() - today).days
    day = (
        label("today")
        if days <= 0
        else label("tomorrow")
        if days == 1
        else label(f"weekday_{start.weekday()}")
    )
    if window.end is None:
        return f"{day} {label('from')} {_clock(start)}"
    return f"{day} {_clock(start)} {label('to')} {_clock(window.end.astimezone(tz))}"


def render(template: str, values: dict[str, str]) -> str:
    return template.format_map(values).strip()


def placeholders(template: str) -> list[str]:
    """Names a template refers to (for validation)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def _input_requested(flow: Flow, state_id: str, state: State, language: str) -> ev.InputRequested:
    spec = state.input
    hints: list[str] = []
    finish, num = "", None
    if isinstance(spec, ChoiceInput):
        for choice in spec.choices:
            hints.extend(choice.speech.get(language, []))
        # Anything the flow understands anywhere may be said here too.
        words = flow.language.spec.intents
        for intent in flow.spec.intents:
            spoken = words[intent.id].spoken.get(language) if intent.id in words else None
            if spoken and spoken not in hints:
                hints.append(spoken)
        keys = [c.digits for c in spec.choices if c.digits]
        if keys and all(len(k) == 1 for k in keys):
            num = 1
    elif isinstance(spec, PhoneInput):
        finish = "#"
    elif isinstance(spec, (YesNoInput, TimeWindowInput, ForWhomInput)):
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


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _clock(moment: datetime) -> str:
    """6 PM, 6:30 PM, 12 PM."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour}:{moment.minute:02d} {suffix}" if moment.minute else f"{hour} {suffix}"


def _short_answer(text: str) -> str:
    """What to keep as a name when no "my name is" says it: the part before a comma."""
    head = re.split(r"[,.;!?]", text, maxsplit=1)[0]
    return head if head.strip() else text


_PATTERNS: dict[tuple[str, ...], re.Pattern[str] | None] = {}


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    if phrases not in _PATTERNS:
        _PATTERNS[phrases] = phrase_pattern([plain(p) for p in phrases])
    return _PATTERNS[phrases]
