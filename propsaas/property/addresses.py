"""Room addresses as people type them: '3-2-1201', '3栋2单元1201', '3号楼2单元1201室', '1201'. Pure functions."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_BUILDING = r'(?P<building>[0-9A-Za-z]+)\s*(?:栋|幢|号楼|号|座|楼)'
_UNIT = r'(?P<unit>[0-9A-Za-z]+)\s*单元'
_NUMBER = r'(?P<number>[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)\s*(?:室|号|房)?'
_CHINESE = re.compile(rf'^(?:{_BUILDING})?\s*(?:{_UNIT})?\s*{_NUMBER}$')
_DASHED = re.compile(r'^(?P<building>[0-9A-Za-z]+)-(?:(?P<unit>[0-9A-Za-z]+)-)?(?P<number>[0-9A-Za-z]+)$')


@dataclass(frozen=True)
class RoomAddress:
    """Parts of an address, each without its suffix ('3', '2', '1201'); None where the text didn't say."""

    building: str | None
    unit: str | None
    number: str

    @property
    def code(self) -> str | None:
        """The canonical room code when building (and unit, if any) are known: '3-2-1201' or '3-1201'."""
        if self.building is None:
            return None
        return room_code(self.building, self.unit, self.number)


def clean(text: str) -> str:
    """Full-width to half-width (NFKC), no spaces, dashes unified: what Excel and WPS users type varies."""
    text = unicodedata.normalize('NFKC', str(text or '')).strip()
    text = re.sub(r'[\s　]+', '', text)
    return re.sub(r'[‐‑‒–—―－_/]', '-', text)


def strip_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    name = clean(name)
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def building_key(name: str) -> str:
    """'1栋', '1号楼', '1幢', '1' -> '1'."""
    return strip_suffix(name, ('号楼', '栋', '幢', '座', '号', '楼')).upper()


def unit_key(name: str | None) -> str | None:
    """'2单元', '2' -> '2'; None or '' -> None."""
    return strip_suffix(name, ('单元',)).upper() or None if name else None


def room_code(building: str, unit: str | None, number: str) -> str:
    """The canonical code stored on Room.code and matched by search and import."""
    parts = [building_key(building), unit_key(unit), strip_suffix(number, ('室', '房', '号')).upper()]
    return '-'.join(p for p in parts if p)


def parse_room_address(text: str) -> RoomAddress | None:
    """Read an address in any of the usual forms; None when it isn't one."""
    text = clean(text)
    if not text:
        return None
    match = _DASHED.match(text) or _CHINESE.match(text)
    if not match:
        return None
    parts = match.groupdict()
    number = strip_suffix(parts['number'], ('室', '房', '号')).upper()
    building = building_key(parts['building']) if parts.get('building') else None
    unit = unit_key(parts['unit']) if parts.get('unit') else None
    return RoomAddress(building, unit, number)
