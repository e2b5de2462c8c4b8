"""Password hashing (argon2id, OWASP parameters) and the password policy."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 8
MAX_LENGTH = 128

# argon2id with 19 MiB, t=2, p=1: OWASP's password storage minimum.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the login matches no account, so a wrong login takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash('propsaas-timing-equaliser')


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = (Path(__file__).with_name('common_passwords.txt')).read_text(encoding='utf-8')
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith('#'))


def _is_run(password: str) -> bool:
    """One repeated character, or a straight run like 12345678 / abcdefgh / 87654321."""
    if len(set(password)) == 1:
        return True
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:], strict=False)}
    return len(steps) == 1 and steps <= {1, -1}


def password_problem(password: str, *, login_names: tuple[str, ...] = ()):
    """Why this password is refused (a lazy sentence in the user's language), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _l('密码至少需要 %(n)s 个字符', n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l('密码不能超过 %(n)s 个字符', n=MAX_LENGTH)
    lowered = password.lower()
    if lowered in _common_passwords() or _is_run(password):
        return _l('这个密码太常见，容易被猜到，请换一个')
    if any(name and name.lower() in lowered for name in login_names):
        return _l('密码不能包含登录用的手机号或邮箱')
    return None
