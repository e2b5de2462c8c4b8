"""Announcement bodies: a small safe subset of HTML, sanitised with nh3 (ammonia) on the way in.

Paragraphs, line breaks, bold/italic/underline, headings h3-h4, lists, quotes, tables and links (http, https,
mailto, tel; opened with rel="noopener noreferrer nofollow"). Scripts, styles, event handlers, iframes, images
and ``javascript:`` links are removed: pictures travel as attachments, which are re-encoded.
"""
from __future__ import annotations

import html
import re

import nh3

TAGS = {'p', 'br', 'strong', 'b', 'em', 'i', 'u', 'h3', 'h4', 'ul', 'ol', 'li', 'blockquote',
        'table', 'thead', 'tbody', 'tr', 'th', 'td', 'a', 'hr'}
ATTRIBUTES = {'a': {'href', 'title'}, 'td': {'colspan', 'rowspan'}, 'th': {'colspan', 'rowspan'}}
URL_SCHEMES = {'http', 'https', 'mailto', 'tel'}
MAX_BODY = 50_000

_BLOCK_END = re.compile(r'</(p|h3|h4|li|tr|blockquote)>|<br\s*/?>|<hr\s*/?>', re.I)
_TAG = re.compile(r'<[^>]+>')
_LOOKS_HTML = re.compile(r'</?[a-zA-Z][^>]*>')
_BLANKS = re.compile(r'\n{3,}')


def sanitize(body: str) -> str:
    """The stored form of a body: safe HTML. Plain text (no tags) keeps its line breaks as paragraphs."""
    body = (body or '').replace('\r\n', '\n').strip()
    if not _LOOKS_HTML.search(body):
        body = ''.join(f'<p>{html.escape(line)}</p>' for line in body.split('\n') if line.strip())
    return nh3.clean(body, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel='noopener noreferrer nofollow', strip_comments=True).strip()


def to_text(body_html: str) -> str:
    """Plain text of a sanitised body, for e-mail and search: block ends become line breaks."""
    text = _BLOCK_END.sub('\n', body_html or '')
    text = html.unescape(_TAG.sub('', text))
    return _BLANKS.sub('\n\n', text).strip()
