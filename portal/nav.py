"""The navigation: each page family registers its entries with the roles that may see
them, and the base layout shows a signed-in member only its own role's entries.

    from medledger.portal.nav import NavItem, register
    register(NavItem("/portal/regulator", _l("Overview"), frozenset({Role.REGULATOR})))

Labels are message ids (English), translated when the layout renders them; mark them with
`portal.nav._l` so `pybabel extract` finds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from medledger.sdk.model import Role

__all__ = ["NavItem", "_l", "items_for", "register"]


def _l(message: str) -> str:
    """Mark a message for extraction; it is translated later, at render time."""
    return message


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str  # English message id
    roles: frozenset[Role]
    order: int = 100


_ITEMS: dict[str, NavItem] = {}


def register(*items: NavItem) -> None:
    for item in items:
        _ITEMS[item.path] = item


def items_for(role: Role | None) -> list[NavItem]:
    """The entries `role` may use, in menu order (none when signed out)."""
    if role is None:
        return []
    return sorted((i for i in _ITEMS.values() if role in i.roles), key=lambda i: (i.order, i.path))


def home_for(role: Role) -> str:
    """The first entry of the role's menu: where sign-in lands."""
    items = items_for(role)
    return items[0].path if items else "/portal/verify"
