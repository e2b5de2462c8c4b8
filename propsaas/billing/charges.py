"""What a bill line is made from: a ``Charge`` per subject (room or parking space) and fee item.

The bill run turns charges into bill lines; area and fixed items are priced in ``runs``, metered and shared items
in ``metering.meter_charges``. Every charge carries its basis, so the bill can say how it was computed.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Charge:
    amount_fen: int
    #: the line's text: '物业服务费（电梯楼） 2026-12'
    description: str
    #: {"rule_id", "scope", "rate", "area_m2", "months", "usage", "formula": "89.50 ㎡ × 2.35 元/㎡·月 × 1 月"}
    basis: dict = field(default_factory=dict)
