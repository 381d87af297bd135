"""The interface languages: English and Filipino, per user and by the browser's Accept-Language.

Django ships no Filipino locale, so flowdesk registers its language info here (``fil``, with the
older code ``tl`` as an alias: a browser asking for ``tl`` gets Filipino), its formats in
``flowdesk.formats.fil`` and its catalogue in ``flowdesk/locale/fil``. Which language a request
gets: the signed-in user's own choice (``User.language``), else the language cookie (the
switcher), else Accept-Language, else English (Django's ``LocaleMiddleware`` does the last
three; ``UserLanguageMiddleware`` the first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext_noop, ngettext_lazy
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

FILIPINO = {"bidi": False, "code": "fil", "name": "Filipino", "name_local": "Filipino"}

#: The files whose texts the project catalogue (``flowdesk/locale``) holds, as globs under
#: ``src/flowdesk``; every other app keeps its own catalogue (``<app>/locale``). scripts/messages
#: extracts from these, tests/test_i18n.py checks that each text is translated.
PROJECT_CATALOGUE_SOURCES = (
    "core/i18n.py",
    "core/nul.py",
    "accounts/*.py",
    "accounts/templates/**/*.*",
    "studio/*.py",
    "studio/templates/**/*.html",
    "web/auth.py",
    "web/templates/web/base.html",
    "web/templates/web/login.html",
    "tickets/delivery.py",
)

#: Django's own texts on flowdesk's pages: Django ships no Filipino catalogue, so the project
#: catalogue translates them; listed here so that an extraction keeps them.
DJANGO_TEXTS = (
    gettext_noop("January"),
    gettext_noop("February"),
    gettext_noop("March"),
    gettext_noop("April"),
    gettext_noop("May"),
    gettext_noop("June"),
    gettext_noop("July"),
    gettext_noop("August"),
    gettext_noop("September"),
    gettext_noop("October"),
    gettext_noop("November"),
    gettext_noop("December"),
    gettext_noop("Monday"),
    gettext_noop("Tuesday"),
    gettext_noop("Wednesday"),
    gettext_noop("Thursday"),
    gettext_noop("Friday"),
    gettext_noop("Saturday"),
    gettext_noop("Sunday"),
    gettext_noop("English"),
    gettext_noop("Filipino"),
    gettext_noop("This field is required."),
    gettext_noop("Enter a valid email address."),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        8,
    ),
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        8,
    ),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    # The three below write the apostrophe as Django does (U+2019): the msgid must be Django's.
    gettext_noop(
        "Your password can’t be too similar "  # noqa: RUF001
        "to your other personal information."
    ),
    gettext_noop("This password is too common."),
    gettext_noop("Your password can’t be a commonly used password."),  # noqa: RUF001
    gettext_noop("This password is entirely numeric."),
    gettext_noop("Your password can’t be entirely numeric."),  # noqa: RUF001
)


def register_languages() -> None:
    """Filipino in Django's table of languages (idempotent; the core app's ``ready``)."""
    LANG_INFO.setdefault("fil", FILIPINO)
    LANG_INFO.setdefault("tl", {"fallback": ["fil"]})
    LANG_INFO.setdefault("tl-ph", {"fallback": ["fil"]})  # a region Django would not strip here


def supported(code: str | None) -> str | None:
    """``code`` as one of settings.LANGUAGES (``tl`` -> ``fil``, ``en-US`` -> ``en``), or None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code.strip().lower().replace("_", "-"))
    except LookupError:
        return None


class UserLanguageMiddleware:
    """After authentication: a signed-in user's chosen language wins over cookie and browser."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = supported(getattr(user, "language", "")) if user is not None else None
        if chosen and user is not None and user.is_authenticated:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen and user is not None and user.is_authenticated:
            response.headers.setdefault("Content-Language", chosen)
        return response


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The switcher: Django's ``set_language`` (cookie, redirect to ``next``), and for a
    signed-in user the choice is kept on their account, so it follows them to other browsers
    and into the e-mails flowdesk sends them."""
    response = django_set_language(request)
    code = supported(request.POST.get("language"))
    user = getattr(request, "user", None)
    if code and user is not None and user.is_authenticated:
        from flowdesk.accounts.services import do_set_language

        do_set_language(user, code)
    return response


def language_of(user: Any, fallback: str | None = None) -> str:
    """The language flowdesk speaks to ``user`` when no request is there to ask (an e-mail):
    their own choice, else ``fallback`` (the language of the request that caused the mail,
    when there is one), else the site's default (settings.LANGUAGE_CODE)."""
    return (
        supported(getattr(user, "language", "") or "")
        or supported(fallback)
        or supported(settings.LANGUAGE_CODE)
        or "en"
    )


@contextmanager
def in_language_of(user: Any, fallback: str | None = None) -> Iterator[str]:
    """Render in ``user``'s language (``language_of``) inside the block, then restore the
    language that was active. For the fixed text of mails: subjects, greetings, footers; the
    content people wrote (a reply, a ticket's subject) is never translated. ``user`` may be
    None (a visitor without an account: ``fallback``, else the default language). Yields the
    code."""
    code = language_of(user, fallback)
    with translation.override(code):
        yield code


def language_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]
