"""Past-tense facts the engine returns; the host application turns them into I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Channel = Literal["sms", "voice", "whatsapp"]  # model.Medium


@dataclass(frozen=True)
class Event:
    """Base class: every event has a snake_case `type`."""

    @property
    def type(self) -> str:
        return _TYPES[type(self)]


@dataclass(frozen=True)
class MessageSent(Event):
    """A text to send back by SMS or WhatsApp."""

    text: str


@dataclass(frozen=True)
class PromptSpoken(Event):
    """A text to say to a caller."""

    text: str


@dataclass(frozen=True)
class SnippetSent(Event):
    """An article snippet delivered on the session's channel."""

    snippet_id: str
    text: str


@dataclass(frozen=True)
class InputRequested(Event):
    """The session now waits for input of this kind (voice renders a Gather from it)."""

    state: str
    kind: str
    hints: tuple[str, ...] = ()
    finish_on_key: str = ""
    num_digits: int | None = None


@dataclass(frozen=True)
class CallbackRequest:
    """What staff need to call someone back; becomes a Task."""

    kind: Literal["callback", "crisis"]
    priority: Literal["urgent", "normal"]
    channel: Channel
    language: str
    from_number: str
    callback_number: str | None
    name: str | None
    best_time: str | None
    best_time_window: str | None
    for_whom: str | None
    voicemail_ok: bool | None
    text_ok: bool | None
    topics: tuple[str, ...] = field(default_factory=tuple)
    # The parsed best time: when the person's window opens and closes (aware datetimes).
    best_time_start: datetime | None = None
    best_time_end: datetime | None = None
    for_whom_detail: str | None = None  # who the call is for, in their words: "brother"
    crisis_category: str | None = None  # suicide, self_harm, overdose, danger


@dataclass(frozen=True)
class CallbackRequested(Event):
    """The person confirmed their callback details."""

    request: CallbackRequest


@dataclass(frozen=True)
class CrisisDetected(Event):
    """Crisis language was seen; `category` names the phrase group, never the text."""

    category: str
    request: CallbackRequest


@dataclass(frozen=True)
class OptedOut(Event):
    """The person asked us to stop texting them."""


@dataclass(frozen=True)
class OptedIn(Event):
    """The person asked to receive texts again."""


@dataclass(frozen=True)
class LanguageChanged(Event):
    language: str


@dataclass(frozen=True)
class TransferRequested(Event):
    """The caller asked to speak with admissions now."""


@dataclass(frozen=True)
class SessionEnded(Event):
    """The conversation is over (voice hangs up; SMS starts afresh next time)."""


_TYPES: dict[type[Event], str] = {
    MessageSent: "message_sent",
    PromptSpoken: "prompt_spoken",
    SnippetSent: "snippet_sent",
    InputRequested: "input_requested",
    CallbackRequested: "callback_requested",
    CrisisDetected: "crisis_detected",
    OptedOut: "opted_out",
    OptedIn: "opted_in",
    LanguageChanged: "language_changed",
    TransferRequested: "transfer_requested",
    SessionEnded: "session_ended",
}
