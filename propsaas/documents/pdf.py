"""PDFs: the one WeasyPrint renderer every feature uses (bills, receipts, print packs).

    renderer = PdfRenderer()                        # once per job: fonts and the shared stylesheet set up here
    pdf = renderer.write(html)                      # bytes of one document
    document = renderer.render(html)                # a laid-out document; document.copy(pages).write_pdf() splits

Setting up the CJK font (Noto Sans CJK SC, Debian's ``fonts-noto-cjk``) and the stylesheet dominates small
documents, so a job builds one ``PdfRenderer`` and renders many pages per layout pass (DESIGN.md "Documents").

What a document may load (SECURITY.md item 20), through ``RestrictedFetcher``:

- ``data:`` URIs (QR codes are inline SVG data URIs);
- the app's static folder: the base URL of every document is the static folder itself, so ``pdf/bill.css`` or
  ``<img src="img/logo.png">`` resolve there; ``file://`` URLs are accepted only when their real path (symlinks
  resolved) is inside it;
- the CURRENT tenant's stored files (``storage.tenant_root``): ``tenant-file:logos/seal.png`` names a storage key
  (checked by ``storage.path_for``), and a ``file://`` URL whose real path is inside the tenant's folder is served
  too. Another tenant's folder, ``..`` tricks and symlinks pointing out are refused;
- nothing else: no http(s), no ftp, no other ``file://`` path. A refusal is logged (``propsaas.documents.pdf``) and
  the resource left out; the document still renders.

Rendering has a time limit (``PDF_TIME_LIMIT`` seconds, default 120): on the main thread (the RQ worker, inline jobs,
a request served by a single-threaded server) a ``SIGALRM`` timer interrupts it; elsewhere the limit is checked
between layout and writing. A document over ``PDF_MAX_PAGES`` pages (default 5,000) is refused. Both raise
``RenderError`` with a message staff understand.
"""
from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from flask import current_app
from flask_babel import lazy_gettext as _l
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .. import storage
from ..errors import DomainError
from ..tenancy.context import current_tenant_id

log = logging.getLogger(__name__)

TENANT_SCHEME = 'tenant-file'
STYLESHEET = 'pdf/documents.css'
_MIME = {'.css': 'text/css', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.svg': 'image/svg+xml',
         '.gif': 'image/gif', '.webp': 'image/webp', '.otf': 'font/otf', '.ttf': 'font/ttf', '.woff': 'font/woff',
         '.woff2': 'font/woff2'}


class RenderError(DomainError):
    """A document that could not be rendered (too slow, too long)."""


class RenderTimeout(RenderError):
    pass


class FetchRefused(ValueError):
    """A resource a document may not load; WeasyPrint logs it and leaves the resource out."""


def static_root() -> Path:
    return Path(current_app.static_folder).resolve()


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class RestrictedFetcher(URLFetcher):
    """Serves ``data:`` URIs, the static folder and the current tenant's stored files; refuses everything else."""

    def __init__(self, static: Path, tenant_id: int | None):
        super().__init__(allowed_protocols=('data', 'file', TENANT_SCHEME))
        self.static = static
        self.tenant_id = tenant_id
        self.tenant = storage.tenant_root(tenant_id).resolve() if tenant_id is not None else None

    def fetch(self, url, headers=None):
        scheme = urlsplit(url).scheme.lower()
        if scheme == 'data':
            return super().fetch(url, headers)
        if scheme == TENANT_SCHEME:
            return self._serve(self._tenant_path(url), url)
        if scheme == 'file':
            return self._serve(self._file_path(url), url)
        self._refuse(url, 'scheme not allowed')

    def _refuse(self, url: str, why: str):
        log.warning('PDF resource refused (%s): %s [tenant %s]', why, url[:300], self.tenant_id)
        raise FetchRefused(f'{why}: {url[:300]}')

    def _tenant_path(self, url: str) -> Path:
        if self.tenant_id is None:
            self._refuse(url, 'no tenant')
        key = unquote(url.split(':', 1)[1]).lstrip('/')
        try:
            path = storage.path_for(key)  # checks the key and keeps it inside the current tenant's folder
        except ValueError:
            self._refuse(url, 'bad storage key')
        if current_tenant_id() != self.tenant_id:
            self._refuse(url, 'tenant changed')
        return path

    def _file_path(self, url: str) -> Path:
        parts = urlsplit(url)
        if parts.netloc not in ('', 'localhost'):
            self._refuse(url, 'remote file host')
        path = Path(url2pathname(parts.path)).resolve()  # symlinks resolved: one pointing out lands outside
        if _inside(path, self.static) or (self.tenant is not None and _inside(path, self.tenant)):
            return path
        self._refuse(url, 'outside the allowed folders')

    def _serve(self, path: Path, url: str) -> URLFetcherResponse:
        real = path.resolve()
        if not (_inside(real, self.static) or (self.tenant is not None and _inside(real, self.tenant))):
            self._refuse(url, 'outside the allowed folders')
        if not real.is_file():
            self._refuse(url, 'no such file')
        content_type = _MIME.get(real.suffix.lower(), 'application/octet-stream')
        return URLFetcherResponse(real.as_uri(), real.read_bytes(), {'Content-Type': content_type})


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` with RenderTimeout (SIGALRM on the main thread; elsewhere the caller
    checks ``deadline`` between phases)."""
    on_main = threading.current_thread() is threading.main_thread() and hasattr(signal, 'setitimer')
    if not on_main or seconds <= 0:
        yield
        return

    def expired(signum, frame):
        if _in_finalizer(frame):
            # An exception raised inside a garbage-collector callback or an object's __del__ (WeasyPrint's
            # FontConfiguration has one) is swallowed (reported as unraisable), so the limit would go unnoticed
            # until the next phase: ring again a millisecond later instead.
            signal.setitimer(signal.ITIMER_REAL, 0.001)
            return
        raise RenderTimeout(_l('生成PDF超过了 %(seconds)s 秒的时间限制，请缩小范围后重试', seconds=_seconds(seconds)))

    previous = signal.signal(signal.SIGALRM, expired)
    remaining, _interval = signal.getitimer(signal.ITIMER_REAL)  # an outer timer (a job's) is put back after
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if remaining:
            signal.setitimer(signal.ITIMER_REAL, max(remaining - (time.monotonic() - started), 0.001))


def _in_finalizer(frame) -> bool:
    codes = {getattr(callback, '__code__', None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in codes or frame.f_code.co_name == '__del__':
            return True
        frame = frame.f_back
    return False


def _seconds(value: float) -> str:
    return f'{value:g}'


class PdfRenderer:
    """Fonts and the shared stylesheet, built once and reused for every document of a job.

    ``time_limit`` (seconds) and ``max_pages`` default to the app's PDF_TIME_LIMIT and PDF_MAX_PAGES. Must be
    built and used inside the tenant whose files the documents may load (a job's or a request's).
    """

    def __init__(self, *, time_limit: float | None = None, max_pages: int | None = None,
                 stylesheet: str = STYLESHEET):
        config = current_app.config
        self.time_limit = float(time_limit if time_limit is not None else config['PDF_TIME_LIMIT'])
        self.max_pages = int(max_pages if max_pages is not None else config['PDF_MAX_PAGES'])
        self.static = static_root()
        self.base_url = self.static.as_uri() + '/'
        self.fetcher = RestrictedFetcher(self.static, current_tenant_id())
        self.font_config = FontConfiguration()
        self.stylesheets = [CSS(filename=str(self.static / stylesheet), base_url=self.base_url,
                                url_fetcher=self.fetcher, font_config=self.font_config)]
        self._images: dict = {}

    def render(self, html: str):
        """Lay out ``html`` (a whole document) and return the WeasyPrint Document; RenderError when too slow or too
        long."""
        started = time.monotonic()
        with time_limit(self.time_limit):
            document = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher).render(
                font_config=self.font_config, stylesheets=self.stylesheets, cache=self._images)
        self._check(started, len(document.pages))
        return document

    def write(self, html: str) -> bytes:
        """``html`` rendered to PDF bytes."""
        started = time.monotonic()
        document = self.render(html)
        return self.write_document(document, started)

    def write_document(self, document, started: float | None = None) -> bytes:
        """A rendered document (or ``document.copy(pages)``) as PDF bytes, within the time limit."""
        started = time.monotonic() if started is None else started
        with time_limit(max(self.time_limit - (time.monotonic() - started), 0.001)):
            data = document.write_pdf()
        self._check(started, 0)
        return data

    def _check(self, started: float, pages: int) -> None:
        if time.monotonic() - started > self.time_limit:
            raise RenderTimeout(_l('生成PDF超过了 %(seconds)s 秒的时间限制，请缩小范围后重试',
                                   seconds=_seconds(self.time_limit)))
        if pages > self.max_pages:
            raise RenderError(_l('PDF 有 %(pages)s 页，超过了 %(limit)s 页的上限，请按楼栋分开生成',
                                 pages=pages, limit=self.max_pages))


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an inline SVG data URI (nothing fetched)."""
    import segno

    return segno.make(text, error='m').svg_data_uri(scale=4, border=2)
