"""The Chinese catalogue covers every console message and the compiled .mo matches it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOGUE = WEB / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def catalogue():  # noqa: ANN201
    with open(CATALOGUE / "messages.po", "rb") as fh:
        return read_po(fh, locale="zh_CN")


def test_every_console_message_has_a_chinese_translation() -> None:
    po = catalogue()
    missing = []
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), METHODS, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        entry = po.get(message if isinstance(message, str) else message[0])
        if entry is None or not (
            entry.string[0] if isinstance(entry.string, tuple) else entry.string
        ):
            missing.append(msgid)
    assert missing == [], "run pybabel extract/update and translate: " + ", ".join(
        sorted(set(missing))
    )


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with open(CATALOGUE / "messages.mo", "rb") as fh:
        compiled = Translations(fh)
    for message in catalogue():
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            assert compiled.ngettext(message.id[0], message.id[1], 1) == message.string[0], (
                message.id
            )
        else:
            assert compiled.gettext(message.id) == message.string, (
                f"{message.id!r}: recompile with `pybabel compile -d web/translations`"
            )
