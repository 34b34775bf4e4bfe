"""Portal users: a username and a password (scrypt, via `cryptography`), each bound to a
member address whose key the platform keeps in custody (`api.chain.vault`), with a role
inside that organisation (`domain.auth.StaffRole`: clerk, qa or manager; a user made
without one is a manager, as every user was before roles).

The table `portal_users` lives in the API's own database (`domain.store.api_store`). Create
users with `create_user(services, ...)` or `medledger portal add-user`; the member's
custodial key is what the portal signs with, so add it to the vault too
(`custodial_key=` here, or `POST /v1/auth/custodial-accounts`).
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from sqlalchemy import Engine

from medledger.domain.auth import StaffRole
from medledger.domain.chain import vault
from medledger.domain.custodial_keys import CustodyVault
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store.portal_users import UserRow, add_user_row, user_row, users_of
from medledger.sdk.errors import MedLedgerError

__all__ = [
    "PortalUser",
    "UserError",
    "add_user",
    "authenticate",
    "create_user",
    "find_user",
    "organisation_users",
]

USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 200
MAX_DISPLAY_NAME = 100
MAX_USERS_PER_ORGANISATION = 500
# scrypt cost: 2^15 × 8 × 1 takes ~50 ms and 32 MiB, OWASP's recommended minimum.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class UserError(MedLedgerError, ValueError):
    """A user cannot be created as asked; `code` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True, slots=True)
class PortalUser:
    username: str
    address: str
    display_name: str
    role: StaffRole = StaffRole.MANAGER
    created_by: str | None = None


def create_user(
    services: Services,
    *,
    username: str,
    password: str,
    address: str,
    display_name: str = "",
    custodial_key: LocalAccount | None = None,
    role: StaffRole | str = StaffRole.MANAGER,
    created_by: str | None = None,
) -> PortalUser:
    """A new portal user for the member at `address`; with `custodial_key`, that key is
    also taken into the platform's custody (unless it already is)."""
    return add_user(
        api_store(services).engine,
        vault(services) if custodial_key is not None else None,
        username=username,
        password=password,
        address=address,
        display_name=display_name,
        custodial_key=custodial_key,
        role=role,
        created_by=created_by,
    )


def _kdf(salt: bytes) -> Scrypt:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _kdf(salt).derive(password.encode())
    b64 = base64.urlsafe_b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        kdf = Scrypt(salt=base64.urlsafe_b64decode(salt), length=32, n=int(n), r=int(r), p=int(p))
        expected = base64.urlsafe_b64decode(digest)
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(kdf.derive(password.encode()), expected)


def add_user(
    engine: Engine,
    keys: CustodyVault | None,
    *,
    username: str,
    password: str,
    address: str,
    display_name: str = "",
    custodial_key: LocalAccount | None = None,
    role: StaffRole | str = StaffRole.MANAGER,
    created_by: str | None = None,
) -> PortalUser:
    """`create_user` on an explicit database (`ApiStore.engine`) and key vault, for tools
    that run without the API's services (the CLI)."""
    if not USERNAME.match(username):
        raise UserError(
            "invalid_username", f"username {username!r}: 3-64 letters, digits, '.', '_' or '-'"
        )
    if len(password) < MIN_PASSWORD:
        raise UserError("weak_password", f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError("invalid_request", f"a password has at most {MAX_PASSWORD} characters")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise UserError("invalid_request", f"a name has at most {MAX_DISPLAY_NAME} characters")
    try:
        role = StaffRole(role)
    except ValueError as exc:
        raise UserError("invalid_role", f"role {role!r}: clerk, qa or manager") from exc
    if not is_address(address):
        raise UserError("invalid_address", f"{address!r} is not a 20-byte hex address")
    address = to_checksum_address(address)
    if custodial_key is not None:
        if to_checksum_address(custodial_key.address) != address:
            raise UserError(
                "key_mismatch", f"the custodial key is for {custodial_key.address}, not {address}"
            )
        assert keys is not None, "a custodial key needs the vault"
        if keys.get(address) is None:
            keys.put(custodial_key)
    if len(users_of(engine, address, limit=MAX_USERS_PER_ORGANISATION)) >= (
        MAX_USERS_PER_ORGANISATION
    ):
        raise UserError("user_limit", f"at most {MAX_USERS_PER_ORGANISATION} users a member")
    name = display_name.strip() or username
    row = UserRow(username, address, name, hash_password(password), str(role), created_by)
    if not add_user_row(engine, row, now=int(time.time())):
        raise UserError("username_taken", f"a portal user {username!r} already exists")
    return PortalUser(username, address, name, role, created_by)


def _user(row: UserRow) -> PortalUser:
    return PortalUser(
        row.username, row.address, row.display_name, StaffRole(row.role), row.created_by
    )


def organisation_users(services: Services, address: str) -> list[PortalUser]:
    """The users of the member at `address`, by username."""
    engine = api_store(services).engine
    return [_user(r) for r in users_of(engine, to_checksum_address(address))]


def find_user(services: Services, username: str) -> tuple[PortalUser, str] | None:
    """The user and its stored password hash."""
    row = user_row(api_store(services).engine, username)
    if row is None:
        return None
    return _user(row), row.password_hash


_DUMMY_HASH = hash_password(os.urandom(8).hex())


def authenticate(services: Services, username: str, password: str) -> PortalUser | None:
    """The user if the password matches; a wrong username costs the same scrypt time."""
    found = find_user(services, username)
    if found is None:
        check_password(password, _DUMMY_HASH)
        return None
    user, stored = found
    return user if check_password(password, stored) else None
