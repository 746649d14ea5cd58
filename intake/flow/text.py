"""Reading what people type or say: normalising, phrase matching and phone numbers."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import emoji
import phonenumbers

_APOSTROPHES = re.compile(r"['’‘`´]")
_NOT_WORD = re.compile(r"[^a-z0-9*#]+")
# The formatting flow texts may use, as WhatsApp renders it: *bold* and "- " list items.
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_LIST_ITEM = re.compile(r"^[ \t]*- (?=\S)", re.MULTILINE)
WHATSAPP_PREFIX = "whatsapp:"


def plain(text: str) -> str:
    """Lower case, emoji as words, no accents or punctuation: 'Ñó, STOP! 💀' -> 'no stop skull'."""
    if not text.isascii():
        text = emoji.demojize(text, delimiters=(" ", " "))
        text = unicodedata.normalize("NFKD", text.lower())
        text = "".join(c for c in text if not unicodedata.combining(c))
    else:
        text = text.lower()
    text = _APOSTROPHES.sub("", text)  # "can't" -> "cant", "od'd" -> "odd"
    return _NOT_WORD.sub(" ", text).strip()


def phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    """One regex matching any phrase on word boundaries; `*` ends a word with any suffix, and
    a `*` on its own is any one word ("beat * to death").

    The phrases share their beginnings as a letter tree ("kill myself|kill me" becomes
    "kill\\s+m(?:yself|e)"): Python's regex engine tries a plain alternation's branches one by
    one at every word, and the crisis lexicon has thousands (60 times slower). It matches at
    the same places as the plain alternation; where a phrase ends and another goes on from
    there ("kill", "kill myself"), the one that goes on is tried first.
    """
    tree: _Tree = {}
    for phrase in phrases:
        words = plain(phrase).split()  # plain keeps `*`
        if not words:
            continue
        node = tree
        for n, word in enumerate(words):
            if n:
                node = node.setdefault(_SPACE, {})
            if word == "*":
                node = node.setdefault(_WORD, {})
                continue
            for letter in word.rstrip("*"):
                node = node.setdefault(letter, {})
            if word.endswith("*"):
                node = node.setdefault(_SUFFIX, {})
        node[_END] = {}
    if not tree:
        return None
    return re.compile(r"(?<![a-z0-9])" + _branches(tree) + r"(?![a-z0-9])")


_Tree = dict[str, "_Tree"]
# the next word; any ending of this word; any one word; a phrase ends
_SPACE, _SUFFIX, _WORD, _END = " ", "*", "+", ""


def _branches(node: _Tree) -> str:
    """A letter tree node's regex: its letters, the next word, any ending, any one word, and
    last the end of a phrase, so that a phrase that goes on is tried before one that stops
    here."""
    ways = [
        re.escape(k) + _branches(node[k])
        for k in sorted(node)
        if k not in (_SPACE, _SUFFIX, _WORD, _END)
    ]
    if _SPACE in node:
        ways.append(r"\s+" + _branches(node[_SPACE]))
    if _SUFFIX in node:
        ways.append("[a-z0-9]*" + _branches(node[_SUFFIX]))
    if _WORD in node:
        ways.append("[a-z0-9]+" + _branches(node[_WORD]))
    if _END in node:
        ways.append("")
    return ways[0] if len(ways) == 1 else "(?:" + "|".join(ways) + ")"


def for_channel(text: str, channel: str) -> str:
    """A flow text as `channel` shows it: WhatsApp renders *bold* and "- " lists as written;
    SMS (and voice) gets the words without the marks, each list item still on its own line."""
    if channel == "whatsapp":
        return text
    if "*" not in text and "-" not in text:
        return text
    return _LIST_ITEM.sub("", _BOLD.sub(r"\1", text))


def split_sender(raw: str) -> tuple[str, str]:
    """Twilio's From/To split into (channel, address): "whatsapp:+1555..." is WhatsApp,
    anything else SMS ("+1555...", or a non-phone sender kept as it is)."""
    raw = raw.strip()
    if raw[: len(WHATSAPP_PREFIX)].lower() == WHATSAPP_PREFIX:
        return "whatsapp", raw[len(WHATSAPP_PREFIX) :].strip()
    return "sms", raw


@lru_cache(maxsize=4096)  # every webhook parses its From number: the same few, again and again
def parse_phone(text: str, region: str = "US") -> str | None:
    """E.164 for a valid number written any usual way (or a WhatsApp address,
    "whatsapp:+1..."), else None."""
    candidate = split_sender(text)[1]
    if not re.search(r"\d", candidate):
        return None
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_phone(text: str, region: str = "US") -> str | None:
    """E.164 of the first valid number inside a sentence ("call me at 727 391 7001")."""
    if sum(c.isdigit() for c in text) < 7:
        return None
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        if phonenumbers.is_valid_number(match.number):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


@lru_cache(maxsize=4096)  # prompts name the admissions number and the person's on every step
def format_phone(e164: str) -> str:
    """A number as people write it: (727) 391-7001 for US numbers, international otherwise."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def spoken_digits(e164: str) -> str:
    """Digits to read one by one: '+17273917001' -> '7 2 7, 3 9 1, 7 0 0 1'."""
    national = format_phone(e164)
    groups = re.findall(r"\d+", national)
    return ", ".join(" ".join(g) for g in groups)
