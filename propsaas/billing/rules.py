"""Which price applies: a fee item's own rate or amount, overridden by billing rules, the narrowest scope winning.

    book = RuleBook.load(fee_items)          # one statement for every rule of these items
    price = book.price(item, room, date(2026, 12, 1))

For a room the scopes are tried narrowest first — the room itself, its unit, its building, its room type, the whole
project — and within a scope the rule with the latest ``effective_from`` not after the billed month wins. So a rate
change from 2027-01 leaves 2026's bills (and re-runs of them) alone. Parking spaces follow project-wide rules only.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..extensions import db
from .models import RULE_SCOPES, BillingRule, FeeItem

#: narrowest first
_SEARCH = tuple(reversed(RULE_SCOPES))


@dataclass(frozen=True)
class Price:
    #: the deciding rule, None when the item's own price applies
    rule_id: int | None
    #: 'item' for the item's own price, else the rule's scope
    scope: str
    rate: Decimal | None
    amount_fen: int | None
    exempt: bool = False


def _target(rule: BillingRule):
    return {'tenant': None, 'room_type': rule.room_type, 'building': rule.building_id, 'unit': rule.unit_id,
            'room': rule.room_id}[rule.scope]


class RuleBook:
    def __init__(self, rules: list[BillingRule]):
        # (fee item, scope, target) -> rules, latest effective_from first
        self._rules: dict[tuple, list[BillingRule]] = defaultdict(list)
        for rule in sorted(rules, key=lambda r: (r.effective_from, r.id), reverse=True):
            self._rules[(rule.fee_item_id, rule.scope, _target(rule))].append(rule)

    @classmethod
    def load(cls, fee_items: list[FeeItem]) -> RuleBook:
        ids = [item.id for item in fee_items]
        rules = db.session.execute(sa.select(BillingRule).where(BillingRule.fee_item_id.in_(ids))).scalars().all()
        return cls(list(rules))

    def price(self, item: FeeItem, room, month_start: date) -> Price:
        """The price of ``item`` for ``room`` (a Room, or None for a parking space) in the month starting then."""
        targets = {'tenant': None}
        if room is not None:
            targets.update(room=room.id, unit=room.unit_id, building=room.building_id, room_type=room.type)
        for scope in _SEARCH:
            if scope not in targets or (scope != 'tenant' and targets[scope] is None):
                continue
            for rule in self._rules.get((item.id, scope, targets[scope]), ()):
                if rule.effective_from <= month_start:
                    return Price(rule.id, scope, Decimal(rule.rate) if rule.rate is not None else item.rate_decimal,
                                 rule.amount_fen if rule.amount_fen is not None else item.amount_fen, rule.exempt)
        return Price(None, 'item', item.rate_decimal, item.amount_fen)
