"""One interface for online payment providers (WeChat Pay v3, Alipay, the built-in sandbox).

An adapter is built per request or job from the project's own merchant settings (``PaymentProviderSetting.config``)
and never talks to another project's merchant. The flow it serves (``billing.online``):

1. ``checkout(order, urls)``: the resident's browser is sent to the provider (a redirect URL) or shown a QR code.
2. The provider calls back ``/pay/notify/<provider>`` on the project's host, asynchronously. ``verify(request)``
   checks the signature with the provider's key, the timestamp's freshness where the provider signs one, decrypts
   what is encrypted, and returns a ``Notice`` — or raises ``Refused`` with the reason, and nothing changes.
   ``billing.online`` then checks merchant, currency and amount against the order and credits it once.
3. ``answer(ok)`` is the HTTP response the provider expects (it retries until it reads success).

Automatic payment (代扣) where the provider supports it (``supports_autopay``): ``mandate_checkout`` sends the
resident to sign an agreement, whose signed notice (``Notice.kind == 'mandate'``) arrives at the same notify URL;
``charge`` asks the provider to take a bill's amount under the agreement (the outcome arrives as a payment notice);
``cancel_mandate`` ends it at the provider.

Adapters raise ``ProviderError`` (with a message a person understands) when the provider cannot be reached or
refuses a request; they never commit and never touch the database.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

#: a notice signed longer ago than this is stale (a replay), whatever its signature
MAX_NOTICE_AGE_SECONDS = 300


class Refused(Exception):
    """A notification that is not to be believed: bad signature, stale timestamp, unknown merchant ... The reason
    is logged (in English) for the operator; the provider gets a failure answer."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ProviderError(Exception):
    """The provider could not be reached or refused a request; ``message`` is shown to the user."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Field:
    """One merchant setting, as the settings page asks for it. Secrets are write-only: never shown back."""

    name: str
    label: object                  # lazy string
    secret: bool = False
    multiline: bool = False        # a PEM key or certificate
    required: bool = True
    help: object = ''


@dataclass(frozen=True)
class Urls:
    """Where the provider calls back (asynchronous, signed) and where the browser comes back after paying."""

    notify: str
    back: str


@dataclass(frozen=True)
class Checkout:
    """What the resident's browser does next: go to ``redirect_url``, or show ``qr_text`` as a QR code to scan
    with the provider's app (WeChat Pay on a desktop)."""

    redirect_url: str | None = None
    qr_text: str | None = None


@dataclass(frozen=True)
class Notice:
    """A verified notification. ``kind`` 'payment': the order ``order_number`` was paid (``succeeded``) or failed;
    'mandate': the agreement ``order_number`` (our mandate number) was signed (``succeeded``) or ended;
    'pending': a genuine notice that the payer has not finished yet (Alipay's WAIT_BUYER_PAY, WeChat Pay's USERPAYING,
    an agreement stored but not in force): understood, answered with success, and the order or mandate stays pending
    (``succeeded`` is False and means nothing here: the payer is still paying, the order has not failed)."""

    kind: str
    order_number: str
    succeeded: bool
    merchant_id: str
    txn_id: str | None = None           # the provider's transaction id (payments)
    amount_fen: int | None = None       # what the provider says was paid, in fen
    currency: str | None = None
    paid_at: datetime | None = None
    agreement_no: str | None = None     # the provider's agreement id (mandates)
    failure_reason: str | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ChargeResult:
    """The provider's first answer to a 代扣 charge: accepted (the outcome follows as a payment notice) or
    declined at once with a reason."""

    accepted: bool
    reason: str | None = None


class Provider:
    """Base class of the adapters. ``config`` is the project's merchant settings (``fields`` name them)."""

    name: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]] = ()
    supports_autopay: ClassVar[bool] = False

    def __init__(self, config: Mapping, *, tenant_id: int):
        self.config = dict(config or {})
        self.tenant_id = tenant_id

    @property
    def autopay_ready(self) -> bool:
        """Whether this project's merchant account can 代扣 now (the class supports it, the settings allow it)."""
        return self.supports_autopay

    @property
    def merchant_id(self) -> str:
        """The merchant (商户号 / app id) a genuine notice for this project names."""
        raise NotImplementedError

    def checkout(self, order, urls: Urls, *, subject: str, client_ip: str = '', mobile: bool = True) -> Checkout:
        """Start paying ``order`` (a ``PaymentOrder``: number, amount_fen, currency, expires_at); ``subject`` is what
        the resident sees in the provider's app ('阳光花园 物业费 2026-12')."""
        raise NotImplementedError

    def verify(self, headers: Mapping[str, str], body: bytes, form: Mapping[str, str]) -> Notice:
        """Check and read one notification; ``Refused`` when it is not genuine or not fresh."""
        raise NotImplementedError

    def answer(self, ok: bool) -> tuple[bytes | str, int, dict]:
        """The HTTP answer the provider expects: success stops its retries; failure makes it try again later."""
        raise NotImplementedError

    # --- 代扣 (only where supports_autopay) ---

    def mandate_checkout(self, mandate, urls: Urls, *, subject: str) -> Checkout:
        """Send the resident to sign an agreement for ``mandate`` (an ``AutopayMandate``: number, room_id)."""
        raise NotImplementedError

    def charge(self, mandate, order, urls: Urls, *, subject: str) -> ChargeResult:
        """Take ``order.amount_fen`` under the signed ``mandate`` (``agreement_no`` set)."""
        raise NotImplementedError

    def cancel_mandate(self, mandate) -> None:
        raise NotImplementedError
