"""When to call: a person's free-text "best time" (English or Spanish) as a time window."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

import dateparser  # type: ignore[import-untyped, unused-ignore]
from rapidfuzz import process
from rapidfuzz.distance import OSA

Label = Literal["now", "morning", "afternoon", "evening", "any"]

WINDOWS: dict[str, tuple[time, time]] = {
    "morning": (time(9), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(21)),
}


@dataclass(frozen=True)
class TimeWindow:
    """A window to call in; start and end are aware datetimes in the person's time zone."""

    label: Label | None
    start: datetime | None
    end: datetime | None


DAY = (9 * 60, 21 * 60)  # a day with no window named: the hours we call in
HOUR = 60
MIDNIGHT = 24 * 60


def _window(label: Label) -> tuple[Label, int, int]:
    start, end = WINDOWS[label]
    return label, start.hour * 60 + start.minute, end.hour * 60 + end.minute


# Named parts of a day: (label, start, end) in minutes after midnight.
_PARTS: dict[str, tuple[Label, int, int]] = {
    "morning": _window("morning"),
    "afternoon": _window("afternoon"),
    "evening": _window("evening"),
    "night": _window("evening"),
    "afterwork": _window("evening"),
    "lunch": ("afternoon", 12 * 60, 13 * 60),
    "afterlunch": ("afternoon", 13 * 60, 17 * 60),
}

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

# Texting, typos and Spanish single words -> the word the phrases below look for.
_TYPOS = {
    **dict.fromkeys(
        "tmrw tmr tmrow tmro tmw tmrrw tomoz tomoro tomorow 2morrow 2moro 2morow 2mrw 2mro"
        " 2mrow 2moz".split(),
        "tomorrow",
    ),
    **dict.fromkeys("tonite 2nite 2night 2nyt tonit tnite tnight 2nit".split(), "tonight"),
    **dict.fromkeys("nite nites nights".split(), "night"),
    **dict.fromkeys("aftr afta aftar".split(), "after"),
    **dict.fromkeys("b4 bfore bfor befor b4e".split(), "before"),
    **dict.fromkeys("btwn betwn".split(), "between"),
    **dict.fromkeys("morn mornin morng mrng mornings".split(), "morning"),
    **dict.fromkeys("arvo aftn afternoons".split(), "afternoon"),
    **dict.fromkeys("evn evng evenin evenings".split(), "evening"),
    **dict.fromkeys("wkend wknd weekends finde".split(), "weekend"),
    **dict.fromkeys("til till untill untl hasta".split(), "until"),
    **dict.fromkeys("lunchtime lunchbreak almuerzo".split(), "lunch"),
    **dict.fromkeys("mon mondays lunes".split(), "monday"),
    **dict.fromkeys("tue tues tuesdays martes".split(), "tuesday"),
    **dict.fromkeys("wed weds wednesdays wensday wendsday miercoles".split(), "wednesday"),
    **dict.fromkeys("thu thur thurs thursdays jueves".split(), "thursday"),
    **dict.fromkeys("fri fridays viernes".split(), "friday"),
    **dict.fromkeys("saturdays sabado".split(), "saturday"),
    **dict.fromkeys("sundays domingo".split(), "sunday"),
    **dict.fromkeys("mnn manan maniana".split(), "manana"),
    **dict.fromkeys("dsp dps dsps desp despue depues despues".split(), "after"),
    **dict.fromkeys("aora ahorita orita ahoritita".split(), "ahora"),
    **dict.fromkeys("proximo proxima siguiente nxt".split(), "next"),
    "oy": "today",
    "24/7": "anytime",
    "hoy": "today",
    "noch": "noche",
    "nighttime": "night",
    "nightime": "night",
    "xla": "por la",
    "xlas": "por las",
    "porla": "por la",
    "enla": "en la",
    "alas": "a las",
    "entre": "between",
    "desde": "from",
    "semana": "week",
    "thru": "to",
    "mediodia": "noon",
    "midday": "noon",
    "medianoche": "midnight",
    "pronto": "soon",
    "anytime": "any time",
    "whenevr": "whenever",
    "hrs": "hours",
    "hr": "hours",
    "horas": "hours",
    "minuto": "minutes",
    "mins": "minutes",
    "min": "minutes",
    "minutos": "minutes",
}
# Words that matter as they are; anything else is tried for stretching and typos.
_KNOWN = set(
    """
    now asap right away straight immediately soon once any time whenever ever all day hour hours
    flexible today tonight tomorrow morning afternoon evening night noon midnight lunch work after
    before between from until at around about by in an a and to or next this week weekend am pm
    oclock half past quarter minute minutes later not cant
    manana tarde noche ahora ya mismo cuando sea cualquier momento igual importa medio trabajo las
    la por en de el y hoy fin que viene media cuarto
    """.split()
) | set(_WEEKDAYS)
# Longer words a typo may aim at (same first letter, one or two edits away).
_FUZZY = sorted(
    set(_WEEKDAYS)
    | {"tomorrow", "morning", "afternoon", "evening", "tonight", "weekend", "between"}
    | {"midnight", "whenever", "minutes", "manana", "mediodia", "miercoles", "despues"}
)
# Real words one edit from a target.
_NOT_TYPOS = {"mourning", "sundae", "sundry", "manzana"}

_NUMBERS = {
    **{w: n for n, w in enumerate("one two three four five six seven eight nine ten".split(), 1)},
    **{
        w: n
        for n, w in enumerate("uno dos tres cuatro cinco seis siete ocho nueve diez".split(), 1)
    },
    "una": 1,
    "eleven": 11,
    "once": 11,
    "twelve": 12,
    "doce": 12,
    "fifteen": 15,
    "quince": 15,
    "twenty": 20,
    "veinte": 20,
    "thirty": 30,
    "treinta": 30,
    "forty": 40,
    "cuarenta": 40,
    "fifty": 50,
    "cincuenta": 50,
}
# A number word is a number only next to one of these ("at five", "five pm"), not in "no one".
_NUMBER_BEFORE = {
    "at", "after", "before", "around", "about", "until", "by", "between", "and", "to", "from",
    "in", "past", "las", "la", "en", "y", "a", "de",
}  # fmt: skip
_NUMBER_AFTER = {
    "am", "pm", "oclock", "o", "hours", "hora", "minutes", "y", "and", "tonight", "morning",
    "afternoon", "evening", "night", "thirty", "fifteen", "forty", "treinta", "quince",
}  # fmt: skip


def _w(pattern: str) -> re.Pattern[str]:
    """A pattern matched on whole words of the canonical text."""
    return re.compile(r"(?<![\w:/])(?:" + pattern + r")(?![\w:/])")


def _lead(pattern: str) -> re.Pattern[str]:
    """A pattern starting at a word; it ends on its own (a space or a lookahead)."""
    return re.compile(r"(?<![\w:/])(?:" + pattern + r")")


# On the lower-cased text, before it is split into words.
_RAW = [
    (re.compile(r"['’‘`´]"), ""),
    (re.compile(r"@"), " at "),
    (re.compile(r"&"), " and "),
    (re.compile(r"\b([ap])\.\s?m\b\.?"), r"\1m"),
    (re.compile(r"(\d)\s*([ap])\s?m\b"), r"\1 \2m"),
    (re.compile(r"(\d)([ap])\b"), r"\1 \2m"),
    (re.compile(r"(\d)\s?ish\b"), r"\1"),
    (re.compile(r"(\d)(h|hs|hrs|hr|min|mins)\b"), r"\1 \2"),
    (re.compile(r"(\d)\.(\d\d)(?!\d)"), r"\1:\2"),
    (re.compile(r"(?:(?<=\d)|(?<=[ap]m))\s*[-–—~]+\s*(?=\d)"), " to "),
]
_TOKEN = re.compile(r"\d{1,2}:\d\d|\d+(?:/\d+){1,2}|[a-z0-9]+")
_STRETCHED = re.compile(r"([a-z])\1{2,}")
_DOUBLED = re.compile(r"([a-z])\1+")

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|ene|febrero|marzo|abril|abr|mayo|junio"
    r"|julio|agosto|ago|septiembre|setiembre|octubre|noviembre|diciembre|dic"
)
_DATE = _w(
    rf"(?:el )?(?:\d{{1,2}}(?:st|nd|rd|th)? (?:(?:of |de )?(?:{_MONTHS})|(?:of |de )may)"
    rf"|(?:{_MONTHS}|may) \d{{1,2}}(?:st|nd|rd|th)?"
    r"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/\d{2,4})?)"
)

_IN_THE = r"(?:(?:por|en|de|a|durante|x) )?(?:la|las) "
# On the canonical words, in order: each rewrites a phrase into the words the parser reads.
_PHRASES = [
    (
        _w(
            r"good (?:morning|afternoon|evening|night|day)|buen(?:os|as)? (?:dias?|tardes?|noches?)"
            r"|last night|yesterday|ayer|anoche"
        ),
        "",
    ),
    (
        _w(
            r"not (?:right )?now|(?:cant|cannot|can not|busy|unable to) (?:\w+ ){0,2}(?:right )?now"
            r"|ahora no|no ahora|no (?:puedo|podemos) (?:\w+ ){0,2}ahora|ocupad[oa]s? ahora"
        ),
        "notnow",
    ),
    (re.compile(r"^\s*(?:ya|ya mismo|ya (?:por favor|porfa|pls|please))\s*$"), "now"),
    (re.compile(r"^\s*(?:any|either|whatever|idc|cualquiera|lo que sea|cualquier)\s*$"), "anytime"),
    (_w(r"dentro de"), "in"),
    (
        _w(
            r"as soon as (?:possible|poss|you can|u can)|soon as (?:possible|you can|u can)|asap"
            r"|a s a p|right away|straight away|immediately|at once|right now|rn|soon"
            r"|ahora(?: mismo)?"
            r"|in a (?:few )?(?:minute|minutes|sec|second)"
            r"|lo (?:antes|mas pronto|mas rapido|mas temprano) posible"
            r"|cuanto antes|ya mismo|enseguida|en seguida|de inmediato|inmediatamente"
            r"|en cuanto (?:puedan|pueda)|en (?:un momento|unos minutes|este momento)"
        ),
        "now",
    ),
    (
        _w(
            r"any ?time(?: works| is fine| is good| is ok| ok)?|when ?ever(?: works| is fine)?"
            r"|all day|any hour|any day|(?:it )?(?:doesnt|does not|dont) matter|no preference"
            r"|(?:i )?dont (?:care|mind)|(?:im |i am )?flexible|cuando sea|(?:a )?cualquier hora"
            r"|(?:en |a )?cualquier (?:momento|dia)|(?:me )?da igual|no importa|todo el dia"
            r"|cuando (?:quieran|puedan|gusten|quieras|puedas|pueda|quiera)|a la hora que sea"
        ),
        "anytime",
    ),
    (_w(r"antes"), "before"),
    (_w(r"not before|no before"), "after"),
    (_w(r"not after|no after"), "before"),
    (_w(r"first thing"), "morning"),
    # The Spanish prompt offers "manana" next to "tarde" and "noche": alone, it is both.
    (re.compile(r"^\s*manana(?: (?:porfa|por favor|pls|gracias))?\s*$"), "tomorrow morning"),
    (_w(r"pasado manana|(?:the )?day after tomorrow"), "dayaftertomorrow"),
    (_w(rf"esta manana|{_IN_THE}mananas?|mananas|temprano|(?:in )?the am"), "morning"),
    (_w(r"manana"), "tomorrow"),
    (_w(r"tonight|esta noche|today (?:en |por )?la noche"), "today night"),
    (_w(rf"{_IN_THE}noches?|noches?|at night"), "night"),
    (_w(r"mas tarde|later|luego|al rato|en un rato|in a bit|in a while"), "later"),
    (_w(rf"{_IN_THE}tardes?|tardes?|(?:in )?the pm"), "afternoon"),
    (_w(r"(?:in|during|on|at) the (morning|afternoon|evening|night)"), r"\1"),
    (
        _w(
            r"after (?:i (?:get|am|m|finish) (?:off |out of |done with |done at )?)?work"
            r"|after (?:my )?(?:shift|job)|after (?:del |de )?(?:trabajo|trabajar)"
            r"|(?:when|once) i (?:get|am|m) (?:off|out)(?: of)?(?: work)?"
            r"|(?:saliendo|al salir) del trabajo"
        ),
        "afterwork",
    ),
    (_w(r"after (?:del |de |la )?(?:lunch|comer|comida)"), "afterlunch"),
    (
        _w(
            r"(?:at |during |on my |on |around |a la )?(?:hora (?:del |de )?(?:lunch|comer|comida)"
            r"|lunch (?:time|break)|lunch)"
        ),
        "lunch",
    ),
    (_w(r"medio dia|mid day"), "noon"),
    (_w(r"fin de week"), "weekend"),
    (_w(r"(\w+) que viene"), r"next \1"),
    (
        _w(r"(?:in |en |dentro de )(?:a |an |1 )?(?:half an? hour|half hour|media hora)"),
        "in 30 minutes",
    ),
    (_w(r"(\d+|an?) (hours|hour|minutes|minute) from now"), r"in \1 \2"),
    (_w(r"half past (\d{1,2})"), r"\1:30"),
    (_w(r"quarter past (\d{1,2})"), r"\1:15"),
    (_w(r"(\d{1,2}) y media"), r"\1:30"),
    (_w(r"(\d{1,2}) y cuarto"), r"\1:15"),
    (_w(r"(\d{1,2}) (?:o clock|oclock)"), r"\1:00"),
    (_w(r"(\d{1,2}) ([0-5]\d)"), r"\1:\2"),
    (_lead(r"(after|before|from|until|between) (?:de |del |las |la |el )+"), r"\1 "),
    (_lead(r"a partir (?:de )?(?:las |la )?"), "after "),
    (re.compile(r"(?<=\d) (?:y|and) (?:las |la )?(?=\d)"), " and "),
    (re.compile(r"(?<=[\dm]) a (?:las |la )?(?=\d)"), " to "),
    # Spanish "de" and "las" before a number are often no time: "de 15 años", "las dos cosas".
    (_lead(r"de (?:las |la )?(?=\S+(?: [ap]m)? to \d)"), "from "),
    (_lead(r"(?:(?:como|tipo) (?:a )?|a eso de |alrededor de |a )(?:las|la) (?=\d)"), "at "),
    (
        _lead(r"(?:at )?(?:around|about|approximately|approx|roughly|near) (?=\d|noon|midnight)"),
        "at ",
    ),
    (_lead(r"(?:by|no later than) (?=\d|noon|midnight)"), "before "),
]

_RELATIVE = _w(r"(?:in|en) (\d{1,3}|an?|una?) (hours|hour|hora|h|minutes|minute)")
_DAY = _w(
    r"dayaftertomorrow|tomorrow|today|onthedate|next week|(?:next )?weekend"
    r"|(?:on|next|this) (?:sat|sun)|(?:sat|sun)(?= (?:morning|afternoon|evening|night))"
    rf"|(?:next )?(?:{'|'.join(_WEEKDAYS)})"
)
_PART = _w("|".join(_PARTS))


# "after 6 months" is not a time of day.
_NOT_CLOCK = (
    r"(?! (?:hours|hora|h|minutes|months?|mos?|years?|yrs?|days?|weeks?|wks?|meses|mes|anos?"
    r"|dias?|week|semanas?|times|veces)\b)"
)


def _clock(n: int) -> str:
    hour = rf"(?P<h{n}>\d{{1,2}})(?::(?P<m{n}>\d\d))?(?: (?P<s{n}>[ap]m))?{_NOT_CLOCK}"
    return rf"(?:{hour}|(?P<w{n}>noon|midnight))"


_RANGE = _w(
    rf"(?:(?P<kw>between|from|after) )?{_clock(1)}"
    rf" (?:and|to|until|(?:but |and )?before) {_clock(2)}"
)
_AFTER = _w(rf"(?:after|from) {_clock(1)}")
_BEFORE = _w(rf"(?:before|until) {_clock(1)}")
_AT = _w(rf"at {_clock(1)}")
_LOOSE = _w(_clock(1))
# "5 tomorrow", "tomorrow 5", "6 tonight": a bare number next to a day or a part of one.
_DAY_BEFORE = re.compile(r"(?:today|tomorrow|day) $")
_PART_AFTER = re.compile(r"^ (?:today|tomorrow|morning|afternoon|evening|night)\b")
_NOW = _w("now")
_ANYTIME = _w("anytime")
# Words that may stand around a bare number that is the whole answer ("5", "like 5 pls").
_FILLER = set(
    "call me please pls plz ok okay maybe like probably is best good fine works work the id prefer "
    "por favor porfa llamame llamenme mejor es bien a las la sobre".split()
)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _fix(word: str) -> str:
    """The word a texted, stretched or mistyped word stands for ('2nite', 'tonighttt')."""
    if word in _KNOWN or not word.isalpha():
        return _TYPOS.get(word, word)
    candidates = [word, _STRETCHED.sub(r"\1\1", word), _STRETCHED.sub(r"\1", word)]
    for candidate in [*candidates, _DOUBLED.sub(r"\1", word)]:
        if candidate in _KNOWN or candidate in _TYPOS:
            return _TYPOS.get(candidate, candidate)
    if len(word) >= 6 and word not in _NOT_TYPOS:
        found = process.extractOne(
            candidates[1], _FUZZY, scorer=OSA.distance, score_cutoff=1 if len(word) < 8 else 2
        )
        if found and found[0][0] == word[0]:
            return _TYPOS.get(found[0], found[0])
    return word


def _numbers(words: list[str]) -> list[str]:
    """Number words as digits where they read as a time or a count: 'at six thirty' -> 6 30."""
    out: list[str] = []
    for i, word in enumerate(words):
        number = _NUMBERS.get(word)
        before = out[-1] if out else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        if number is None or (word == "once" and before not in ("las", "la")):
            out.append(word)
            continue
        near_time = before in _NUMBER_BEFORE or before.isdigit() or after in _NUMBER_AFTER
        if not near_time and len(words) > 1:
            out.append(word)
            continue
        if out and out[-1] in ("20", "30", "40", "50") and number < 10:
            out[-1] = str(int(out[-1]) + number)  # "forty five"
        else:
            out.append(str(number))
    return out


def _canonical(text: str) -> str:
    plain = _plain(text)
    for pattern, repl in _RAW:
        plain = pattern.sub(repl, plain)
    words: list[str] = []
    for token in _TOKEN.findall(plain):
        words.extend(_fix(token).split())
    return " ".join(_numbers(words))


def _rewrite(text: str) -> str:
    for pattern, repl in _PHRASES:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def _find_date(text: str, today: date) -> tuple[str, date | None]:
    """An explicit date ('dec 3', '5 de diciembre', '12/3') swapped for a marker word."""
    match = _DATE.search(text)
    if not match:
        return text, None
    found = dateparser.parse(
        match.group().removeprefix("el "),
        languages=["en", "es"],
        settings={
            # From yesterday, so that "preferring the future" still allows today.
            "RELATIVE_BASE": datetime.combine(today - timedelta(days=1), time()),
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "MDY",
        },
    )
    if not isinstance(found, datetime):
        return text, None
    return text[: match.start()] + "onthedate" + text[match.end() :], found.date()


def _days(text: str, today: date, on: date | None) -> list[tuple[date, date]]:
    """Candidate days, first to last: (first, last) day of each; the first still open wins."""
    one = timedelta(days=1)
    if on is not None:
        return [(on, on), (on + one, on + one)]
    match = _DAY.search(text)
    word = match.group() if match else "today"
    if word in ("today", "tomorrow", "dayaftertomorrow"):
        day = today + {"today": 0, "tomorrow": 1, "dayaftertomorrow": 2}[word] * one
        return [(day, day), (day + one, day + one)]
    weekday = today.weekday()
    if word == "next week":
        monday = today + (7 - weekday) * one
        return [(monday, monday + 4 * one)]
    if word.endswith("weekend"):
        saturday = today + ((5 - weekday) % 7 if weekday != 6 else -1) * one
        sunday = saturday + one
        return [(saturday, sunday), (sunday, sunday), (saturday + 7 * one, sunday + 7 * one)]
    name = word.split()[-1]
    index = next(i for i, day_name in enumerate(_WEEKDAYS) if day_name.startswith(name))
    day = today + ((index - weekday) % 7) * one
    if word.startswith("next") and day == today:
        day += 7 * one
    return [(day, day), (day + 7 * one, day + 7 * one)]


def _resolve(
    hour: str | None, minute: str | None, suffix: str | None, word: str | None, part: str | None
) -> int | None:
    """Minutes after midnight for one clock time; bare 1-7 is p.m., a part of day decides."""
    if word:
        return 12 * 60 if word == "noon" else MIDNIGHT
    assert hour is not None
    h, m = int(hour), int(minute or 0)
    if m > 59 or h > 24:
        return None
    if suffix:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if suffix == "pm" else 0)
        return (h or 24) * 60 + m
    if h in (0, 24):
        return MIDNIGHT + m
    if h == 12 and part in ("night", "evening"):
        return MIDNIGHT + m
    if h < 12 and part in ("afternoon", "evening", "night", "afterwork", "afterlunch"):
        h += 12
    elif h <= 7 and part != "morning":
        h += 12
    return h * 60 + m


def _groups(match: re.Match[str], n: int) -> tuple[str | None, str | None, str | None, str | None]:
    return match.group(f"h{n}"), match.group(f"m{n}"), match.group(f"s{n}"), match.group(f"w{n}")


def _range(match: re.Match[str], part: str | None) -> tuple[int, int] | None:
    """'between 2 and 4', '10-2pm', 'de 2 a 4': an a.m./p.m. said once counts for both ends."""
    h1, m1, s1, w1 = _groups(match, 1)
    h2, m2, s2, w2 = _groups(match, 2)
    if s2 and not s1 and h1:
        start = _resolve(h1, m1, s2, w1, part)
        end = _resolve(h2, m2, s2, w2, part)
        if start is not None and end is not None and start >= end:
            start = _resolve(h1, m1, "am" if s2 == "pm" else "pm", w1, part)
    elif s1 and not s2 and h2:
        start = _resolve(h1, m1, s1, w1, part)
        end = _resolve(h2, m2, s1, w2, part)
        if start is not None and end is not None and end <= start:
            end = _resolve(h2, m2, "am" if s1 == "pm" else "pm", w2, part)
    else:
        start = _resolve(h1, m1, s1, w1, part)
        end = _resolve(h2, m2, s2, w2, part)
        if start is not None and end is not None and end <= start and end < 12 * 60:
            end += 12 * 60
    if start is None or end is None or end <= start:
        return None
    return start, end


def _said_clearly(match: re.Match[str], text: str) -> bool:
    """A time without 'at' or 'after' counts only if it is plainly a time ('6:30', '5pm')."""
    if match.group("m1") or match.group("s1") or match.group("w1"):
        return True
    if _PART_AFTER.search(text[match.end() :]) or _DAY_BEFORE.search(text[: match.start()]):
        return True
    rest = (text[: match.start()] + " " + text[match.end() :]).split()
    return all(word in _FILLER for word in rest)


def _clock_span(text: str, part: str | None) -> tuple[int, int] | None:
    """Start and end minutes of a clock time said in `text`, if any."""
    span = _PARTS.get(part) if part else None
    match = _RANGE.search(text)
    if match:
        clear = match.group("kw") or any(match.group(g) for g in ("m1", "s1", "w1", "m2", "s2"))
        if clear or _said_clearly(match, text):
            found = _range(match, part)
            if found:
                return found
    match = _AFTER.search(text)
    if match:
        start = _resolve(*_groups(match, 1), part)
        if start is not None:
            if span and start < span[2]:
                return start, span[2]
            return start, DAY[1] if start < DAY[1] else start + HOUR
    match = _BEFORE.search(text)
    if match:
        end = _resolve(*_groups(match, 1), part)
        if end is not None:
            if span and span[1] < end:
                return span[1], end
            return (DAY[0] if DAY[0] < end else end - HOUR), end
    match = _AT.search(text)
    if not match:
        match = next((m for m in _LOOSE.finditer(text) if _said_clearly(m, text)), None)
    if match:
        start = _resolve(*_groups(match, 1), part)
        if start is not None:
            return start, start + HOUR
    return None


def _label_at(minutes: int) -> Label | None:
    hour = minutes // 60 % 24
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 23:
        return "evening"
    return None


def _at(day: date, minutes: int, tz: tzinfo) -> datetime:
    day += timedelta(days=minutes // MIDNIGHT)
    minutes %= MIDNIGHT
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)


def _later(now: datetime, tz: tzinfo, delta: timedelta) -> datetime:
    return (now.astimezone(UTC) + delta).astimezone(tz)


def _place(
    days: list[tuple[date, date]], start: int, end: int, whole: bool, now: datetime, tz: tzinfo
) -> tuple[datetime, datetime]:
    """The first candidate day whose window is not over yet."""
    for first, last in days:
        opens, closes = _at(first, start, tz), _at(last if whole else first, end, tz)
        if closes > now:
            break
    return opens, closes


def parse_when(text: str, now: datetime, tz: tzinfo) -> TimeWindow | None:
    """The window a person means by `text` (their local time is `tz`), or None if no time is said."""  # noqa: E501
    local = now.astimezone(tz)
    canonical, on = _find_date(_canonical(text), local.date())
    canonical = _rewrite(canonical)
    relative = _RELATIVE.search(canonical)
    if relative:
        amount = int(relative.group(1)) if relative.group(1).isdigit() else 1
        unit = timedelta(hours=1) if relative.group(2).startswith("h") else timedelta(minutes=1)
        start = _later(local, tz, amount * unit)
        return TimeWindow(_label_at(start.hour * 60), start, _later(start, tz, timedelta(hours=1)))
    part_match = _PART.search(canonical)
    part = part_match.group() if part_match else None
    clock = _clock_span(canonical, part)
    has_day = on is not None or bool(_DAY.search(canonical))
    if clock is None and part is None and not has_day:
        if _NOW.search(canonical):
            return window_for_label("now", now, tz)
        if _ANYTIME.search(canonical):
            return window_for_label("any", now, tz)
        return None
    days = _days(canonical, local.date(), on)
    if clock:
        # The clock's own window ("5 de la tarde" is evening); the part of day for midnight.
        label = _label_at(clock[0]) or (_PARTS[part][0] if part else None)
        start, end = _place(days, *clock, whole=False, now=local, tz=tz)
    elif part:
        label, opens, closes = _PARTS[part]
        start, end = _place(days, opens, closes, whole=False, now=local, tz=tz)
    else:
        label = None
        start, end = _place(days, *DAY, whole=True, now=local, tz=tz)
    return TimeWindow(label, start, end)


def window_for_label(label: str, now: datetime, tz: tzinfo) -> TimeWindow:
    """The next occurrence of a named window (voice keys: morning/afternoon/evening/any/now)."""
    local = now.astimezone(tz)
    if label == "now":
        return TimeWindow("now", local, _later(local, tz, timedelta(hours=1)))
    if label == "any":
        return TimeWindow("any", local, None)
    if label not in WINDOWS:
        raise ValueError(f"unknown time window {label!r}")
    part_label, opens, closes = _PARTS[label]
    today = local.date()
    days = [(today, today), (today + timedelta(days=1), today + timedelta(days=1))]
    start, end = _place(days, opens, closes, whole=False, now=local, tz=tz)
    return TimeWindow(part_label, start, end)
