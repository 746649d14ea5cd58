"""What a flow file may say, as pydantic models (JSON Schema: `intake flows schema`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Channel = Literal["sms", "voice"]
CHANNELS: tuple[Channel, ...] = ("sms", "voice")
# Where a conversation happens: WhatsApp is a text channel that speaks the flow's `sms` texts
# (rendered with its formatting: see text.for_channel).
Medium = Literal["sms", "voice", "whatsapp"]


def flow_channel(medium: Medium) -> Channel:
    """Which of the flow's channels a conversation on `medium` follows."""
    return "voice" if medium == "voice" else "sms"


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
    "take_details",  # keep the name, time, number and for whom the message already gives
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


class ForWhomInput(Strict):
    type: Literal["for_whom"]
    save_as: str  # self or other
    detail_as: str  # who, in their words: "brother"
    next: Target


class NoInput(Strict):
    type: Literal["none"]


Input = Annotated[
    ChoiceInput | TextInput | PhoneInput | YesNoInput | TimeWindowInput | ForWhomInput | NoInput,
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


class Intent(Strict):
    """What the flow does when a person means this intent, in any state."""

    id: str  # an intent of flows/language/intents.yaml
    actions: list[Action] = []
    next: Target | None = None
    # Said with another language's keyword ("HOLA", "AYUDA"): go on in that language.
    follow_language: bool = False
    channels: list[Channel] = ["sms", "voice"]  # where it applies: opting out is for texts


class FlowSpec(Strict):
    id: str
    languages: list[str] = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    start: str
    # yes/no/skip: answers; self/other/relations: who a callback is for ("my brother")
    vocab: dict[Literal["yes", "no", "skip", "self", "other", "relations"], list[str]]
    labels: dict[str, Localized] = {}  # words used to fill prompt placeholders
    messages: dict[str, ChannelText] = {}
    intents: list[Intent] = []
    on_max_attempts: ChannelTransition
    # what the host reports back (e.g. transfer_unavailable, dial_failed)
    signals: dict[str, ChannelTransition] = {}
    states: dict[str, State]


class Snippet(Strict):
    title: Localized
    sms: Localized
    voice: Localized = {}


# language code -> words or phrases
Words = dict[str, list[str]]


class IntentWords(Strict):
    """How people say one intent (flows/language/intents.yaml)."""

    label: Localized = {}  # the word to reply, offered in "Did you mean ...?"
    spoken: Localized = {}  # the same, said to a caller
    keywords: Words = {}  # the whole message means this intent
    phrases: Words = {}  # found inside a sentence; `*` ends a word with any suffix
    unless: Words = {}  # a phrase right after one of these does not count ("dont stop")
    crisis: str | None = None  # a crisis category of flows/safety/crisis.yaml
    classify: bool = True  # False: rules only, never guessed by the classifier (opt-outs)
    # ...unless the message also names one of these ("texts", "mensajes"): then the classifier
    # may pick it at `guarded_confidence`, so "pls no more of these msgs" still opts out
    guess_with: Words = {}
    priority: int = 0  # found beside other intents, the higher wins ("call me about detox")
    # found with one of `together_with`, these words mean this intent: "addicted" + anxiety
    together: Words = {}
    together_with: list[str] = []


class LanguageSpec(Strict):
    """The language layer's data: intents, texting shorthand and thresholds."""

    shorthand: dict[str, dict[str, str]] = {}  # language -> {"u": "you"}
    intents: dict[str, IntentWords]
    none_intent: str = "none"  # the classifier's class for messages no intent fits
    fuzzy_min_length: int = Field(default=5, ge=3)  # never fuzzy on shorter words
    typo_max_uses: int = Field(default=10, ge=2)  # a word the examples use this often is a word
    # rule words typos are never corrected to: too near common words ("house": "mouse", "rouse")
    exact_words: list[str] = []
    confidence: float = Field(default=0.55, gt=0, le=1)  # below it, ask "Did you mean"
    phrase_weight: float = Field(default=0.3, ge=0, le=1)  # a phrase found, per word (up to 3)
    margin: float = Field(default=0.15, ge=0, le=1)  # closer than this: "Did you mean"
    either_words: list[str] = ["or"]  # two intents named either side: "Did you mean"
    crisis_confidence: float = Field(default=0.5, gt=0, le=1)  # the classifier's crisis bar
    mention_confidence: float = Field(default=0.2, gt=0, le=1)  # the bar beside a mention
    context_confidence: float = Field(default=0.6, gt=0, le=1)  # a mention of the past
    negated_confidence: float = Field(default=0.8, gt=0, le=1)  # "im not suicidal"
    reassured_confidence: float = Field(default=0.99, gt=0, le=1)  # denied, life affirmed
    reassured_words: int = Field(default=3, ge=1)  # said beside a plain denial, at least
    category_confidence: float = Field(default=0.5, gt=0, le=1)  # the classifier names it
    guarded_confidence: float = Field(default=0.7, gt=0, le=1)  # a `guess_with` intent
    speech_confidence: float = Field(default=0.3, ge=0, le=1)  # Twilio's transcript Confidence


class CrisisSpec(Strict):
    # category -> language -> phrases; `*` at the end of a word matches any ending
    categories: dict[str, dict[str, list[str]]]
    # the same, for words that are a crisis only when the classifier leans that way too
    mentions: dict[str, dict[str, list[str]]] = {}
    # language -> words that, up to three words before a crisis phrase, make it a mention
    negations: dict[str, list[str]] = {}
    # category (or "all") -> language -> phrases that make that category's phrases mentions
    calm: dict[str, dict[str, list[str]]] = {}
    # categories whose calm context rules out the classifier's guess; another category's only
    # raises its bar ("my dog" beside "kicked my dog and said im next")
    calm_veto: list[str] = []
    # language -> phrases of the past or of general questions: mentions get no lower bar
    context: dict[str, list[str]] = {}
    # language -> phrases saying harm was meant ("on purpose"): calm contexts no longer count
    deliberate: dict[str, list[str]] = {}
    # language -> the negations of a plain denial ("never"; not "no tengo": "no reason to live")
    denial_negations: dict[str, list[str]] = {}
    # language -> words allowed between a negation and the phrase in a plain denial ("not
    # going to", "would never"): "no aguanto, me quiero morir" denies nothing
    denial_words: dict[str, list[str]] = {}
    # language -> words that make a denial uncertain anywhere in the message ("probably", "but")
    hedges: dict[str, list[str]] = {}
    # language -> the same, only right next to the denial ("not tonight", "hoy no")
    hedges_near: dict[str, list[str]] = {}
    # language -> words saying it happens now ("tonight", "ahorita"): talk of the past beside
    # them is doubt, not the reassurance that needs the classifier's highest bar
    present: dict[str, list[str]] = {}

    @model_validator(mode="after")
    def _veto_names_categories(self) -> CrisisSpec:
        unknown = sorted(set(self.calm_veto) - set(self.categories))
        if unknown:
            raise ValueError(f"calm_veto names no crisis category: {', '.join(unknown)}")
        return self


def flow_json_schema() -> dict[str, Any]:
    """JSON Schema for flow files; `$defs` also holds the language files' schemas."""
    schema = FlowSpec.model_json_schema()
    defs = schema.setdefault("$defs", {})
    for model in (LanguageSpec, CrisisSpec, Snippet):
        sub = model.model_json_schema()
        defs.update(sub.pop("$defs", {}))
        defs[model.__name__] = sub
    defs["Examples"] = {
        "description": "flows/language/examples.yaml: intent -> language -> example utterances",
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    }
    return schema
