"""The translation catalogs are complete, compiled, and cover every string in the source.

Chinese msgids are the source language; each catalog under propsaas/translations/<locale> must translate all
of them. When one of these tests fails after you added or changed a string, run ``scripts/i18n``, translate
the new entries in the .po, then run ``scripts/i18n compile`` and commit the .po and .mo (see docs/i18n.md).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages import mofile, pofile
from babel.messages.frontend import CommandLineInterface
from babel.support import Translations

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / 'propsaas' / 'translations'
SCRIPT = ROOT / 'scripts' / 'i18n'
CATALOGS = sorted(TRANSLATIONS.glob('*/LC_MESSAGES/messages.po'))
HINT = 'run scripts/i18n, translate the new entries in the .po, then scripts/i18n compile (see docs/i18n.md)'

# %(name)s, %(n)d, %s, %.2f ... ; '%%' is a literal percent sign, not a placeholder.
PLACEHOLDER = re.compile(r'%(?:\([^)]*\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]')


def _locale(po_path: Path) -> str:
    return po_path.parent.parent.name


def _read_po(po_path: Path):
    with po_path.open('rb') as fh:
        return pofile.read_po(fh, abort_invalid=True)


def _messages(catalog):
    return [message for message in catalog if message.id]  # skip the header entry


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _label(message) -> str:
    msgid = _as_tuple(message.id)[0]
    return f'{msgid!r}' + (f' (context {message.context!r})' if message.context else '')


def _placeholders(text: str) -> tuple[set[str], list[str]]:
    """Named placeholders as a set (a translation may repeat or reorder them), positional ones in order."""
    found = [p for p in PLACEHOLDER.findall(text) if p != '%%']
    return {p for p in found if p.startswith('%(')}, [p for p in found if not p.startswith('%(')]


def _show(placeholders: tuple[set[str], list[str]]) -> str:
    named, positional = placeholders
    return ', '.join(sorted(named) + positional) or 'none'


def _translated(catalog) -> dict:
    """(msgid, context) -> msgstr for every message a .mo would carry, header excluded."""
    return {(message.id, message.context): message.string for message in catalog if message.id}


def test_there_is_an_english_catalog():
    assert TRANSLATIONS / 'en' / 'LC_MESSAGES' / 'messages.po' in CATALOGS


@pytest.mark.parametrize('po_path', CATALOGS, ids=_locale)
def test_every_message_is_translated_and_not_fuzzy(po_path):
    catalog = _read_po(po_path)
    where = po_path.relative_to(ROOT)
    assert not catalog.fuzzy, f'{where}: the header is marked fuzzy, so pybabel compile would skip the catalog'
    untranslated = [_label(m) for m in _messages(catalog) if not all(s.strip() for s in _as_tuple(m.string))]
    fuzzy = [_label(m) for m in _messages(catalog) if m.fuzzy]
    assert not untranslated, f'{where}: untranslated messages: {", ".join(untranslated)}; {HINT}'
    assert not fuzzy, f'{where}: fuzzy messages (check the translation, then drop "#, fuzzy"): {", ".join(fuzzy)}'


@pytest.mark.parametrize('po_path', CATALOGS, ids=_locale)
def test_committed_mo_matches_po(po_path):
    mo_path = po_path.with_suffix('.mo')
    assert mo_path.exists(), f'{mo_path} is missing; run scripts/i18n compile and commit it'
    compiled = io.BytesIO()
    mofile.write_mo(compiled, _read_po(po_path))
    compiled.seek(0)
    expected = _translated(mofile.read_mo(compiled))
    with mo_path.open('rb') as fh:
        committed = _translated(mofile.read_mo(fh))
    differs = sorted(repr(_as_tuple(key[0])[0]) for key in expected.keys() | committed.keys()
                     if expected.get(key) != committed.get(key))
    assert not differs, (f'{mo_path.relative_to(ROOT)} is out of date with its .po (differs on {", ".join(differs)}); '
                         'run scripts/i18n compile and commit the .mo')


def _keywords() -> list[str]:
    """The -k keywords scripts/i18n passes to pybabel extract, so the test extracts exactly as it does."""
    keywords = re.findall(r'(?<![\w-])-k\s+(\S+)', SCRIPT.read_text())
    assert keywords, f'no "-k KEYWORD" found in {SCRIPT}'
    return keywords


def test_source_strings_are_all_in_the_catalogs(tmp_path):
    pot = tmp_path / 'messages.pot'
    argv = ['pybabel', '-q', 'extract', '-F', str(ROOT / 'babel.cfg'), '-o', str(pot), '--no-location']
    for keyword in _keywords():
        argv += ['-k', keyword]
    CommandLineInterface().run([*argv, str(ROOT)])
    with pot.open('rb') as fh:
        extracted = _messages(pofile.read_po(fh))
    assert len(extracted) > 50, f'only {len(extracted)} messages extracted; is babel.cfg still right?'

    for po_path in CATALOGS:
        catalog = _read_po(po_path)
        missing = [_label(m) for m in extracted if catalog.get(m.id, m.context) is None]
        assert not missing, (f'{len(missing)} source string(s) missing from {po_path.relative_to(ROOT)}: '
                             f'{", ".join(missing)}; {HINT}')


@pytest.mark.parametrize('po_path', CATALOGS, ids=_locale)
def test_placeholders_survive_translation(po_path):
    problems = []
    for message in _messages(_read_po(po_path)):
        ids, strings = _as_tuple(message.id), _as_tuple(message.string)
        wanted = _placeholders(ids[-1])  # the plural msgid names every placeholder
        for string in strings:
            if string and _placeholders(string) != wanted:
                got = _placeholders(string)
                problems.append(f'{_label(message)} -> {string!r}: '
                                f'msgid has {_show(wanted)}, translation has {_show(got)}')
    assert not problems, f'{po_path.relative_to(ROOT)}: placeholders differ:\n' + '\n'.join(problems)


def test_compiled_english_catalog_loads():
    """What Flask-Babel does at runtime: load the .mo for 'en' from BABEL_TRANSLATION_DIRECTORIES."""
    translations = Translations.load(str(TRANSLATIONS), ['en'])
    assert translations.gettext('工作台') == 'Dashboard'
    welcome = translations.gettext('欢迎，%(name)s！密码已设置。') % {'name': 'Li'}
    assert welcome == 'Welcome, Li! Your password has been set.'
