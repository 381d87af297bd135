"""The plain-text quote splitter on client formats the shared fixtures do not cover."""

from __future__ import annotations

import pytest

from flowdesk.mail.quotes import split_text, thread


@pytest.mark.parametrize(
    ("text", "reply", "quoted_start"),
    [
        (  # Outlook, French
            "Merci !\n\nDe : Support <support@flowdesk.test>\nEnvoyé : lundi 13 octobre 2025"
            " 09:00\nÀ : Jean <jean@example.fr>\nObjet : Votre demande\n\nBonjour Jean",
            "Merci !",
            "De : Support",
        ),
        (  # Outlook, Spanish
            "Gracias.\n\nDe: Support <support@flowdesk.test>\nEnviado el: lunes\n"
            "Para: Ana <ana@example.es>\nAsunto: Su solicitud\n\nHola Ana",
            "Gracias.",
            "De: Support",
        ),
        (  # Gmail forward
            "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Bob <b@x.org>\n"
            "Date: Mon, Oct 13, 2025\nSubject: Broken\n\nIt is broken.",
            "FYI, see below.",
            "---------- Forwarded message",
        ),
        (  # German attribution, Thunderbird
            "Passt, danke.\n\nAm 13.10.2025 um 09:00 schrieb Support:\n> Bitte neu starten.\n",
            "Passt, danke.",
            "Am 13.10.2025 um 09:00 schrieb Support:",
        ),
        (  # Spanish attribution wrapped over two lines
            "Listo.\n\nEl lun, 13 oct 2025 a las 9:00, Support (<support@flowdesk.test>)\n"
            "escribió:\n> Reinicie el equipo.\n",
            "Listo.",
            "El lun, 13 oct 2025",
        ),
    ],
)
def test_client_formats(text: str, reply: str, quoted_start: str) -> None:
    split = split_text(text)
    assert split.reply == reply
    assert split.quoted.startswith(quoted_start)


def test_interleaved_answers_stay_in_the_reply() -> None:
    text = (
        "On Mon, Oct 13, 2025 at 9:00 AM Support wrote:\n> Which version?\n\n4.2\n\n"
        "> And the OS?\n\nLinux\n"
    )
    split = split_text(text)
    assert split.reply == text.strip()
    assert split.quoted == ""


def test_sentences_starting_with_on_are_not_attributions() -> None:
    text = "On Monday I restarted it.\nOn Tuesday it broke again:\n\nthe log says nothing"
    assert split_text(text).reply == text


def test_lossless_and_thread() -> None:
    text = (
        "Third\n\nOn Tue, Oct 14, 2025 at 10:00 AM B <b@x.org> wrote:\n> Second\n>\n"
        "> On Mon, Oct 13, 2025 at 9:00 AM A <a@x.org> wrote:\n>> First\n"
    )
    split = split_text(text)
    assert "".join(f.text for f in split.fragments) == text
    assert thread(text) == ["Third", "Second", "First"]
