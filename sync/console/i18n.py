"""Chinese and English for the console, from Babel catalogs.

The catalogs are the .po files under sync/console/locale/; they are compiled to the binary .mo
form in memory when the console starts (babel.messages), so no build step and no compiled file
can go stale. The language of a request is the one the user picked (kept in the session), else
the best match of the browser's Accept-Language, else English.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import io
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = ("en", "zh")
DEFAULT = "en"
CATALOGS = Path(__file__).parent / "locale"

_ENGLISH = gettext.NullTranslations()
_current: contextvars.ContextVar[gettext.NullTranslations | None] = contextvars.ContextVar(
    "crm2_console_translations", default=None)


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    po = CATALOGS / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def negotiate(accept_language: str | None) -> str:
    """The supported language the browser prefers most ('zh-CN,zh;q=0.9,en;q=0.8' -> 'zh')."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, i, tag.strip()))
    for _, _, tag in sorted(ranked):
        try:
            language = Locale.parse(tag.replace("-", "_")).language
        except (ValueError, UnknownLocaleError):
            language = tag.split("-")[0].lower()
        if language in LOCALES:
            return language
    return DEFAULT


def activate(lang: str) -> None:
    _current.set(translations(lang if lang in LOCALES else DEFAULT))


def gettext_(message: str) -> str:
    if not message:  # gettext("") is the catalog's header, never what a page means to show
        return message
    return (_current.get() or _ENGLISH).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return (_current.get() or _ENGLISH).ngettext(singular, plural, n)
