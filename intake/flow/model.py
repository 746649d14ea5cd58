"""What a flow file may say, as pydantic models (JSON Schema: `intake flows schema`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["sms", "voice"]
CHANNELS: tuple[Channel, ...] = ("sms", "voice")

# language code -> text
Localized = dict[str, str]
# channel -> language -> text; a channel left out says nothing on that channel
ChannelText = dict[Channel, Localized]
# a state id, or a state id per channel
Target = str | dict[Channel, str]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SendSnippet(Strict):
    send_snippet: str


class SetFields(Strict):
    set: dict[str, str | bool | None]


class Say(Strict):
    say: str


class SetLanguage(Strict):
    set_language: str


SimpleAction = Literal[
    "request_callback",  # emit callback_requested with the session's fields
    "use_contact",  # the callback number is the number they contact us from
    "switch_language",  # to the flow's other language (voice: 9)
    "repeat_snippet",  # send the last snippet again
    "reset_callback",  # forget collected callback fields
    "opt_out",
    "opt_in",
    "transfer",  # voice: connect to admissions
    "end",
]
Action = SimpleAction | SendSnippet | SetFields | Say | SetLanguage


class Transition(Strict):
    actions: list[Action] = []
    next: Target | None = None  # None stays in the state
    quiet: bool = False  # enter `next` without saying its prompt


# one transition for every channel, or one per channel
ChannelTransition = Transition | dict[Channel, Transition]


class Choice(Strict):
    id: str
    words: list[str] = []  # typed matches, any language, compared after normalising
    digits: str | None = None  # voice keypad
    speech: dict[str, list[str]] = {}  # voice phrases per language, also used as hints
    actions: list[Action] = []
    next: Target | None = None


class ChoiceInput(Strict):
    type: Literal["choice"]
    choices: list[Choice]


class TextInput(Strict):
    type: Literal["text"]
    save_as: str
    max_length: int = 40
    skippable: bool = False  # the flow's `skip` words store nothing
    next: Target


class PhoneInput(Strict):
    type: Literal["phone"]
    save_as: str
    accept_contact: bool = False  # a `yes` word means the number they contact us from
    next: Target


class YesNoInput(Strict):
    type: Literal["yes_no"]
    save_as: str | None = None
    next: Target | None = None
    yes: ChannelTransition | None = None
    no: ChannelTransition | None = None


class TimeWindowInput(Strict):
    type: Literal["time_window"]
    save_as: str  # the person's words
    window_field: str  # the normalised window
    digits: dict[str, str] = {}  # voice key -> window
    next: Target


class NoInput(Strict):
    type: Literal["none"]


Input = Annotated[
    ChoiceInput | TextInput | PhoneInput | YesNoInput | TimeWindowInput | NoInput,
    Field(discriminator="type"),
]


class State(Strict):
    when_no_contact: str | None = None  # go straight there if we don't know their number
    prompt: ChannelText = {}
    input: Input
    reprompt: ChannelText = {}  # said after input that does not fit; defaults to the flow's
    max_attempts: int = Field(default=3, ge=1)
    on_max_attempts: ChannelTransition | None = None  # defaults to the flow's
    on_timeout: ChannelTransition | None = None  # voice: silence; defaults to a failed attempt


class Keyword(Strict):
    id: str
    words: list[str] = []  # the whole message, normalised
    phrases: list[str] = []  # found anywhere in the message, on word boundaries
    actions: list[Action] = []
    next: Target | None = None


class FlowSpec(Strict):
    id: str
    languages: list[str] = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    start: str
    vocab: dict[Literal["yes", "no", "skip"], list[str]]
    windows: dict[str, list[str]] = {}  # window -> words meaning it
    labels: dict[str, Localized] = {}  # words used to fill prompt placeholders
    messages: dict[str, ChannelText] = {}
    keywords: list[Keyword] = []
    on_max_attempts: ChannelTransition
    # what the host reports back (e.g. transfer_unavailable, dial_failed)
    signals: dict[str, ChannelTransition] = {}
    states: dict[str, State]


class Snippet(Strict):
    title: Localized
    sms: Localized
    voice: Localized = {}


class CrisisSpec(Strict):
    # category -> language -> phrases; `*` at the end of a word matches any ending
    categories: dict[str, dict[str, list[str]]]


def flow_json_schema() -> dict[str, Any]:
    """JSON Schema for flow files."""
    return FlowSpec.model_json_schema()
