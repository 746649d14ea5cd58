"""SMS segment counting: GSM-7 160/153, UCS-2 70/67, extension characters cost two."""

from __future__ import annotations

import pytest

from intake.flow.segments import is_gsm7, segment_count


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets: each € is escape + char
        ("€" * 81, 2),
        ("ñandú" + "a" * 65, 1),  # ú is not GSM-7: UCS-2, 70 fits
        ("ú" + "a" * 70, 2),
        ("ú" + "a" * 133, 2),
        ("ú" + "a" * 134, 3),
        ("’" + "a" * 69, 1),  # a curly apostrophe forces UCS-2
        ("😀" * 35, 1),  # astral characters take two UTF-16 units
        ("😀" * 36, 2),
    ],
)
def test_it_counts_segments(text: str, segments: int) -> None:
    assert segment_count(text) == segments


def test_it_knows_spanish_letters_in_gsm7() -> None:
    assert is_gsm7("¿Qué? ¡Sí! Ñoño, pingüino") is False  # í is not GSM-7
    assert is_gsm7("¿Que? ¡Si! Ñoño, pingüino, café")
