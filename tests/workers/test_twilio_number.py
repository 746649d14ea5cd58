"""`intake twilio configure`: the number's webhooks and fallbacks, through the Twilio emulator."""

from __future__ import annotations

import pytest

from intake.cli import main
from tests.support.twilio_emulator import TwilioEmulator

from .conftest import WorkerEnv

NUMBER = "+17275550199"  # TWILIO_PHONE_NUMBER in the test settings
BASE = "https://intake.example.org"  # PUBLIC_BASE_URL in the test settings
RIGHT = {
    "sms_url": f"{BASE}/sms",
    "sms_method": "POST",
    "sms_fallback_url": f"{BASE}/sms/fallback",
    "sms_fallback_method": "POST",
    "voice_url": f"{BASE}/voice",
    "voice_method": "POST",
    "voice_fallback_url": f"{BASE}/voice/fallback",
    "voice_fallback_method": "POST",
}


def configure(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    status = main(["twilio", "configure"])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_it_points_the_numbers_webhooks_and_fallbacks_at_the_app(
    twilio: TwilioEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio.add_number("+17275550100")  # another number of the account stays as it is
    sid = twilio.add_number(
        NUMBER,
        sms_url="https://old.example.org/sms",
        voice_url="https://handler.twilio.com/twiml/EH0",
        voice_method="GET",
    )

    status, out, err = configure(capsys)

    assert (status, err) == (0, [])
    assert out == [
        f"{NUMBER} ({sid}):",
        f"  sms_url: https://old.example.org/sms -> {BASE}/sms",
        f"  sms_fallback_url: (none) -> {BASE}/sms/fallback",
        f"  voice_url: https://handler.twilio.com/twiml/EH0 -> {BASE}/voice",
        "  voice_method: GET -> POST",
        f"  voice_fallback_url: (none) -> {BASE}/voice/fallback",
        "updated 5 setting(s)",
    ]
    assert twilio.number_updates == [
        {
            "SmsUrl": f"{BASE}/sms",
            "SmsFallbackUrl": f"{BASE}/sms/fallback",
            "VoiceUrl": f"{BASE}/voice",
            "VoiceMethod": "POST",
            "VoiceFallbackUrl": f"{BASE}/voice/fallback",
        }
    ]
    assert {k: twilio.numbers[sid][k] for k in RIGHT} == RIGHT
    others = [n for n in twilio.numbers.values() if n["sid"] != sid]
    assert [n["sms_url"] for n in others] == [""]


def test_it_changes_nothing_when_already_right(
    twilio: TwilioEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio.add_number(NUMBER, **RIGHT)

    status, out, err = configure(capsys)

    assert (status, err) == (0, [])
    assert out == [f"{NUMBER} already points at {BASE}: nothing changed"]
    assert twilio.number_updates == []


def test_it_says_what_to_set_by_hand_for_the_whatsapp_sender(
    twilio: TwilioEmulator, worker_env: WorkerEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: Twilio's API sets no WhatsApp sender's webhooks; the command says how."""
    twilio.add_number(NUMBER, **RIGHT)
    worker_env.set(WHATSAPP_FROM="whatsapp:+14155238886")

    status, out, err = configure(capsys)

    assert (status, err) == (0, [])
    assert out[0] == f"{NUMBER} already points at {BASE}: nothing changed"
    assert out[1].startswith("WhatsApp (whatsapp:+14155238886, WHATSAPP_FROM) cannot be set")
    assert f"  When a message comes in: {BASE}/sms (HTTP POST)" in out
    assert f"  Fallback URL: {BASE}/sms/fallback (HTTP POST)" in out
    assert any("WHATSAPP_TEMPLATE_SID" in line for line in out)
    assert twilio.number_updates == []


def test_it_refuses_a_number_the_account_does_not_have(
    twilio: TwilioEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio.add_number("+17275550100")
    twilio.add_number("+171755501990")  # contains the number: Twilio's filter matches parts

    status, out, err = configure(capsys)

    assert (status, out) == (1, [])
    assert err == [
        f"intake: {NUMBER} (TWILIO_PHONE_NUMBER) is not a number of Twilio account AC{'0' * 32}"
    ]
    assert twilio.number_updates == []


def test_it_refuses_a_public_base_url_that_is_not_https(
    twilio: TwilioEmulator, worker_env: WorkerEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio.add_number(NUMBER)
    worker_env.set(PUBLIC_BASE_URL="http://intake.example.org")

    status, out, err = configure(capsys)

    assert (status, out) == (1, [])
    assert err == [
        "intake: PUBLIC_BASE_URL must be https for Twilio webhooks, got http://intake.example.org"
    ]
    assert twilio.numbers and twilio.number_updates == []
    assert not any("IncomingPhoneNumbers" in str(q) for q in twilio.lookups)


def test_it_refuses_a_number_run_by_a_twiml_app(
    twilio: TwilioEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio.add_number(NUMBER, voice_application_sid="AP" + "1" * 32)

    status, out, err = configure(capsys)

    assert (status, out) == (1, [])
    assert len(err) == 1 and "a TwiML App for voice" in err[0] and "Twilio console" in err[0]
    assert twilio.number_updates == []


def test_it_says_in_one_line_when_twilio_refuses_the_credentials(
    twilio: TwilioEmulator, worker_env: WorkerEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio.add_number(NUMBER)
    worker_env.set(TWILIO_AUTH_TOKEN="not-the-token")

    status, out, err = configure(capsys)

    assert (status, out) == (1, [])
    assert err == ["intake: Twilio refused: http 401, error 20003"]


def test_it_says_in_one_line_when_twilio_is_unreachable(
    worker_env: WorkerEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    worker_env.set(TWILIO_API_BASE_URL="http://127.0.0.1:9")  # nothing listens there

    status, out, err = configure(capsys)

    assert (status, out) == (1, [])
    assert err == ["intake: Twilio is unreachable: ConnectionError"]
