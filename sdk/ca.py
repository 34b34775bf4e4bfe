"""The consortium certificate authority and member-certificate verification.

This module owns the X.509 side of membership: the self-signed consortium root
(:class:`ConsortiumCA`), an optional intermediate CA under it, the member leaf
certificates that bind an organisation, its role and its Ethereum address to a
separate P-256 TLS key, and the checks that turn such a certificate back into a
:class:`MemberIdentity`.

Certificate layout of a member leaf::

    subject   CN=<organisation>, O=<organisation>, OU=<role>
    SAN       URI ethereum:<EIP-55 checksum address>
    basicConstraints CA=false (critical), keyUsage digitalSignature (critical),
    extendedKeyUsage clientAuth, SKI, AKI = issuing CA's SKI

The root has pathLen 1 and an intermediate pathLen 0, so a chain is
root -> member or root -> intermediate -> member.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address

from medledger.sdk.errors import CertificateError
from medledger.sdk.files import write_new_file

__all__ = [
    "CA_CERT_FILENAME",
    "CA_KEY_FILENAME",
    "ETHEREUM_URI_PREFIX",
    "MEMBER_ROLES",
    "ConsortiumCA",
    "MemberIdentity",
    "certificate_from_pem",
    "certificate_to_pem",
    "verify_chain",
    "verify_member",
]

MEMBER_ROLES: Final = ("REGULATOR", "MANUFACTURER", "DISTRIBUTOR", "LOGISTICS", "HOSPITAL")
"""The roles a member certificate may carry in its subject OU."""

ETHEREUM_URI_PREFIX: Final = "ethereum:"
"""Prefix of the SubjectAlternativeName URI that carries the member's address."""

CA_KEY_FILENAME: Final = "ca-key.pem"
CA_CERT_FILENAME: Final = "ca-cert.pem"

_E = TypeVar("_E", bound=x509.ExtensionType)

_ROOT_PATH_LENGTH: Final = 1
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)
"""How far a new certificate's notBefore is back-dated to tolerate clock skew."""
_MAX_NAME_LENGTH: Final = 64
_SUPPORTED_CURVES: Final[dict[str, hashes.SHA256 | hashes.SHA384]] = {
    "secp256r1": hashes.SHA256(),
    "secp384r1": hashes.SHA384(),
}


@dataclass(frozen=True, slots=True)
class MemberIdentity:
    """What a verified member certificate asserts."""

    organisation: str
    role: str
    address: str
    serial_number: int
    not_after: dt.datetime


class ConsortiumCA:
    """A CA certificate together with its private key.

    Use :meth:`create` for a new root, :meth:`issue_intermediate` for a CA under it
    and :meth:`load` to read one saved with :meth:`save`. The constructor checks
    that ``certificate`` is a CA certificate and that ``key`` matches it.
    """

    def __init__(self, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        _require_ca_flags(certificate, what=f"CA certificate {_describe(certificate)}")
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateError("the CA key must be an elliptic-curve private key")
        if key.public_key() != certificate.public_key():
            raise CertificateError(
                f"the CA key does not match the public key of {_describe(certificate)}"
            )
        self.certificate = certificate
        self.key = key

    @property
    def common_name(self) -> str:
        """The CA's subject common name."""
        return _single_attribute(self.certificate, NameOID.COMMON_NAME, "CN")

    @classmethod
    def create(
        cls,
        common_name: str,
        *,
        valid_days: int = 3650,
        key: ec.EllipticCurvePrivateKey | None = None,
        now: dt.datetime | None = None,
    ) -> ConsortiumCA:
        """Create a self-signed consortium root CA (P-256 unless ``key`` says otherwise)."""
        _check_name(common_name, field="common_name")
        _check_valid_days(valid_days)
        key = _new_or_checked_key(key)
        at = _resolve_now(now)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at - _CLOCK_SKEW)
            .not_valid_after(at + dt.timedelta(days=valid_days))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=_ROOT_PATH_LENGTH), critical=True
            )
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
        )
        return cls(builder.sign(key, _hash_for(key)), key)

    def issue_intermediate(
        self,
        common_name: str,
        *,
        valid_days: int = 1825,
        key: ec.EllipticCurvePrivateKey | None = None,
        now: dt.datetime | None = None,
    ) -> ConsortiumCA:
        """Issue an intermediate CA (pathLen 0) signed by this CA and return it."""
        _check_name(common_name, field="common_name")
        _check_valid_days(valid_days)
        path_length = _basic_constraints(self.certificate).path_length
        if path_length is not None and path_length < 1:
            raise CertificateError(
                f"{_describe(self.certificate)} has pathLen {path_length} "
                "and cannot issue another CA"
            )
        key = _new_or_checked_key(key)
        at = _resolve_now(now)
        not_after = self._checked_not_after(at, valid_days)
        builder = (
            self._builder_for(key.public_key(), at, not_after)
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
        )
        return ConsortiumCA(builder.sign(self.key, _hash_for(self.key)), key)

    def issue_member(
        self,
        *,
        organisation: str,
        role: str,
        address: str,
        public_key: ec.EllipticCurvePublicKey,
        valid_days: int = 365,
        now: dt.datetime | None = None,
    ) -> x509.Certificate:
        """Issue a member leaf certificate for ``organisation`` acting as ``role``.

        ``address`` must be an EIP-55 checksum address; ``public_key`` is the
        member's own P-256 TLS key (not its Ethereum key). The certificate may not
        outlive this CA.
        """
        _check_name(organisation, field="organisation")
        _check_role(role)
        _check_address(address)
        _check_member_public_key(public_key)
        _check_valid_days(valid_days)
        at = _resolve_now(now)
        not_after = self._checked_not_after(at, valid_days)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, organisation),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            ]
        )
        builder = (
            self._builder_for(public_key, at, not_after)
            .subject_name(subject)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(ETHEREUM_URI_PREFIX + address)]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_member_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        return builder.sign(self.key, _hash_for(self.key))

    def save(self, directory: Path, *, password: bytes) -> None:
        """Write ``ca-key.pem`` (PKCS#8, encrypted with ``password``, mode 0600) and
        ``ca-cert.pem`` into ``directory``, refusing to overwrite either."""
        directory = Path(directory)
        if not password:
            raise CertificateError("refusing to save the CA key without a password")
        key_path = directory / CA_KEY_FILENAME
        cert_path = directory / CA_CERT_FILENAME
        for path in (key_path, cert_path):
            if path.exists():
                raise CertificateError(f"{path} already exists; refusing to overwrite it")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        _write_new_file(key_path, key_pem, mode=0o600)
        _write_new_file(cert_path, certificate_to_pem(self.certificate).encode(), mode=0o644)

    @classmethod
    def load(cls, directory: Path, *, password: bytes) -> ConsortiumCA:
        """Read a CA written by :meth:`save` from ``directory``."""
        directory = Path(directory)
        key_path = directory / CA_KEY_FILENAME
        cert_path = directory / CA_CERT_FILENAME
        certificate = certificate_from_pem(_read(cert_path), source=str(cert_path))
        try:
            key = serialization.load_pem_private_key(_read(key_path), password=password)
        except TypeError:
            raise CertificateError(
                f"CA key {key_path} is not encrypted; refusing to load it"
            ) from None
        except ValueError as exc:
            if "incorrect password" in str(exc).lower():
                raise CertificateError(f"wrong password for CA key {key_path}") from None
            raise CertificateError(f"CA key {key_path} is not a valid PEM private key") from exc
        except UnsupportedAlgorithm as exc:
            raise CertificateError(f"CA key {key_path} uses an unsupported algorithm") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateError(f"CA key {key_path} is not an elliptic-curve key")
        return cls(certificate, key)

    def _builder_for(
        self, public_key: ec.EllipticCurvePublicKey, at: dt.datetime, not_after: dt.datetime
    ) -> x509.CertificateBuilder:
        issuer_ski = self.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        return (
            x509.CertificateBuilder()
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(max(at - _CLOCK_SKEW, self.certificate.not_valid_before_utc))
            .not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
                critical=False,
            )
        )

    def _checked_not_after(self, at: dt.datetime, valid_days: int) -> dt.datetime:
        _check_window(self.certificate, at, what=f"issuing CA {_describe(self.certificate)}")
        not_after = at + dt.timedelta(days=valid_days)
        ca_not_after = self.certificate.not_valid_after_utc
        if not_after > ca_not_after:
            raise CertificateError(
                f"a certificate valid for {valid_days} days would expire on "
                f"{not_after.isoformat()}, after the issuing CA {_describe(self.certificate)} "
                f"(expires {ca_not_after.isoformat()}); lower valid_days"
            )
        return not_after


def verify_member(
    cert: x509.Certificate, *, ca_cert: x509.Certificate, now: dt.datetime | None = None
) -> MemberIdentity:
    """Check that ``cert`` is a member certificate issued by ``ca_cert`` and valid at
    ``now`` (default: the current time), and return the identity it carries.

    ``ca_cert`` is trusted as given (root or intermediate); it must itself be a CA
    within its validity window.
    """
    at = _resolve_now(now)
    _check_issuing_ca(ca_cert, at)
    _check_signed_by(cert, ca_cert, what=f"member certificate {_describe(cert)}")
    identity = _member_identity(cert, at)
    _rfc5280_check(cert, [], anchor=ca_cert, at=at)
    return identity


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    *,
    root: x509.Certificate,
    now: dt.datetime | None = None,
) -> MemberIdentity:
    """Verify ``leaf`` up to the trusted ``root`` through ``intermediates``.

    Each link is checked (issuer name, signature, validity, CA flag, keyCertSign,
    pathLen), then the leaf is checked as in :func:`verify_member`, and finally the
    whole path goes through cryptography's RFC 5280 client-certificate verifier.
    """
    at = _resolve_now(now)
    _require_self_signed(root)
    path = _build_path(leaf, intermediates, root)
    cas = [*path, root]
    for depth, ca in enumerate(cas):
        # ``depth`` is the number of intermediate CAs between ``ca`` and the leaf.
        what = "root CA" if ca is root else "intermediate CA"
        _check_issuing_ca(ca, at, what=what)
        path_length = _basic_constraints(ca).path_length
        if path_length is not None and depth > path_length:
            raise CertificateError(
                f"{what} {_describe(ca)} has pathLen {path_length} "
                f"but {depth} intermediate CA(s) follow it"
            )
        if ca is not root:
            _check_signed_by(ca, cas[depth + 1], what=f"intermediate CA {_describe(ca)}")
    _check_signed_by(leaf, cas[0], what=f"member certificate {_describe(leaf)}")
    identity = _member_identity(leaf, at)
    _rfc5280_check(leaf, path, anchor=root, at=at)
    return identity


def certificate_to_pem(cert: x509.Certificate) -> str:
    """Return ``cert`` as a PEM string."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_from_pem(data: str | bytes, *, source: str | None = None) -> x509.Certificate:
    """Parse one PEM certificate; ``source`` (a file name) is used in error messages."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    try:
        return x509.load_pem_x509_certificate(raw)
    except ValueError as exc:
        where = f" in {source}" if source else ""
        raise CertificateError(f"no valid PEM certificate{where}: {exc}") from None


# --- checks ----------------------------------------------------------------------------


def _member_identity(cert: x509.Certificate, at: dt.datetime) -> MemberIdentity:
    what = f"member certificate {_describe(cert)}"
    _check_window(cert, at, what=what)
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise CertificateError(f"{what} is a CA certificate, not a member certificate")
    key_usage = _extension(cert, x509.KeyUsage)
    if key_usage is None or not key_usage.digital_signature:
        raise CertificateError(f"{what} lacks keyUsage digitalSignature")
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is None or ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise CertificateError(f"{what} lacks extendedKeyUsage clientAuth")
    organisation = _single_attribute(cert, NameOID.ORGANIZATION_NAME, "O")
    common_name = _single_attribute(cert, NameOID.COMMON_NAME, "CN")
    if common_name != organisation:
        raise CertificateError(
            f"{what} has subject CN {common_name!r} different from O {organisation!r}"
        )
    role = _single_attribute(cert, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU")
    if role not in MEMBER_ROLES:
        raise CertificateError(
            f"{what} has unknown role OU={role!r}; expected one of {', '.join(MEMBER_ROLES)}"
        )
    return MemberIdentity(
        organisation=organisation,
        role=role,
        address=_address_from_san(cert, what=what),
        serial_number=cert.serial_number,
        not_after=cert.not_valid_after_utc,
    )


def _address_from_san(cert: x509.Certificate, *, what: str) -> str:
    san = _extension(cert, x509.SubjectAlternativeName)
    uris = [] if san is None else san.get_values_for_type(x509.UniformResourceIdentifier)
    addresses = [uri[len(ETHEREUM_URI_PREFIX) :] for uri in uris if uri.startswith("ethereum:")]
    if not addresses:
        raise CertificateError(
            f"{what} has no subjectAltName URI '{ETHEREUM_URI_PREFIX}0x...' with the address"
        )
    if len(addresses) > 1:
        raise CertificateError(f"{what} has {len(addresses)} Ethereum addresses; expected one")
    address = addresses[0]
    if not is_hex_address(address):
        raise CertificateError(f"{what} has a malformed Ethereum address {address!r}")
    if not is_checksum_address(address):
        raise CertificateError(
            f"{what} has Ethereum address {address} without a valid EIP-55 checksum"
        )
    return address


def _check_issuing_ca(ca_cert: x509.Certificate, at: dt.datetime, *, what: str = "CA") -> None:
    label = f"{what} {_describe(ca_cert)}"
    _require_ca_flags(ca_cert, what=label)
    _check_window(ca_cert, at, what=label)


def _require_ca_flags(cert: x509.Certificate, *, what: str) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise CertificateError(f"{what} is not a CA (basicConstraints CA=false or missing)")
    key_usage = _extension(cert, x509.KeyUsage)
    if key_usage is not None and not key_usage.key_cert_sign:
        raise CertificateError(f"{what} lacks keyUsage keyCertSign")


def _require_self_signed(root: x509.Certificate) -> None:
    if root.issuer != root.subject:
        raise CertificateError(
            f"root {_describe(root)} is not self-issued (issuer {root.issuer.rfc4514_string()})"
        )
    _check_signed_by(root, root, what=f"root {_describe(root)}")


def _check_signed_by(cert: x509.Certificate, issuer: x509.Certificate, *, what: str) -> None:
    if cert.issuer != issuer.subject:
        raise CertificateError(
            f"{what} was issued by {cert.issuer.rfc4514_string()!r}, "
            f"not by {issuer.subject.rfc4514_string()!r}"
        )
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        raise CertificateError(
            f"{what} has a signature that does not verify against "
            f"{_describe(issuer)}: it was tampered with or signed by another CA"
        ) from None
    except (ValueError, TypeError) as exc:
        raise CertificateError(
            f"{what} cannot be checked against {_describe(issuer)}: {exc}"
        ) from exc
    aki = _extension(cert, x509.AuthorityKeyIdentifier)
    ski = _extension(issuer, x509.SubjectKeyIdentifier)
    if (
        aki is not None
        and ski is not None
        and aki.key_identifier is not None
        and aki.key_identifier != ski.digest
    ):
        raise CertificateError(
            f"{what} has an authorityKeyIdentifier that does not match {_describe(issuer)}"
        )


def _check_window(cert: x509.Certificate, at: dt.datetime, *, what: str) -> None:
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    if at < not_before:
        raise CertificateError(
            f"{what} is not valid before {not_before.isoformat()} (checked at {at.isoformat()})"
        )
    if at > not_after:
        raise CertificateError(
            f"{what} expired on {not_after.isoformat()} (checked at {at.isoformat()})"
        )


def _build_path(
    leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], root: x509.Certificate
) -> list[x509.Certificate]:
    """Return the intermediates from the leaf's issuer up to (not including) the root."""
    path: list[x509.Certificate] = []
    current = leaf
    remaining = list(intermediates)
    while current.issuer != root.subject:
        candidates = [c for c in remaining if c.subject == current.issuer]
        if not candidates:
            raise CertificateError(
                f"no certificate issued {_describe(current)}: its issuer "
                f"{current.issuer.rfc4514_string()!r} is neither the root "
                f"{_describe(root)} nor one of the {len(intermediates)} intermediates"
            )
        chosen = next((c for c in candidates if _signs(c, current)), candidates[0])
        remaining.remove(chosen)
        path.append(chosen)
        current = chosen
    return path


def _rfc5280_check(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    *,
    anchor: x509.Certificate,
    at: dt.datetime,
) -> None:
    """Run cryptography's path validator as a backstop to the explicit checks above."""
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([anchor]))
        .time(at)
        .max_chain_depth(len(intermediates) + 1)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        raise CertificateError(
            f"member certificate {_describe(leaf)} failed RFC 5280 path validation: {exc}"
        ) from None


def _signs(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- small helpers ---------------------------------------------------------------------


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints:
    value = _extension(cert, x509.BasicConstraints)
    if value is None:
        raise CertificateError(f"{_describe(cert)} has no basicConstraints extension")
    return value


def _single_attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier, label: str) -> str:
    attributes = cert.subject.get_attributes_for_oid(oid)
    if len(attributes) != 1:
        raise CertificateError(
            f"certificate {cert.subject.rfc4514_string()!r} has {len(attributes)} subject "
            f"{label} attributes; expected exactly one"
        )
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _describe(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = names[0].value if names else cert.subject.rfc4514_string()
    name = name if isinstance(name, str) else name.decode("utf-8", "replace")
    return f"{name!r} (serial {cert.serial_number:#x})"


def _resolve_now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise CertificateError(f"now={now.isoformat()} must be timezone-aware")
    return now.astimezone(dt.UTC)


def _check_name(value: str, *, field: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise CertificateError(f"{field} must be a non-empty string")
    if value != value.strip():
        raise CertificateError(f"{field} {value!r} has leading or trailing whitespace")
    if len(value) > _MAX_NAME_LENGTH:
        raise CertificateError(
            f"{field} {value!r} is {len(value)} characters; the limit is {_MAX_NAME_LENGTH}"
        )


def _check_role(role: str) -> None:
    if role not in MEMBER_ROLES:
        raise CertificateError(f"unknown role {role!r}; expected one of {', '.join(MEMBER_ROLES)}")


def _check_address(address: str) -> None:
    if not isinstance(address, str) or not is_hex_address(address) or not address.startswith("0x"):
        raise CertificateError(f"address {address!r} is not a 0x-prefixed 20-byte hex address")
    if not is_checksum_address(address):
        raise CertificateError(
            f"address {address} is not EIP-55 checksummed; did you mean "
            f"{to_checksum_address(address)}?"
        )


def _check_member_public_key(public_key: object) -> None:
    if (
        not isinstance(public_key, ec.EllipticCurvePublicKey)
        or public_key.curve.name != "secp256r1"
    ):
        raise CertificateError("public_key must be the member's P-256 (secp256r1) public key")


def _check_valid_days(valid_days: int) -> None:
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) or valid_days < 1:
        raise CertificateError(f"valid_days must be a positive integer, got {valid_days!r}")


def _new_or_checked_key(key: ec.EllipticCurvePrivateKey | None) -> ec.EllipticCurvePrivateKey:
    if key is None:
        return ec.generate_private_key(ec.SECP256R1())
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in _SUPPORTED_CURVES:
        raise CertificateError(
            f"the CA key must be an EC key on one of {', '.join(_SUPPORTED_CURVES)}"
        )
    return key


def _hash_for(key: ec.EllipticCurvePrivateKey) -> hashes.SHA256 | hashes.SHA384:
    try:
        return _SUPPORTED_CURVES[key.curve.name]
    except KeyError:
        raise CertificateError(f"unsupported CA key curve {key.curve.name}") from None


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _member_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"{path} does not exist") from None
    except OSError as exc:
        raise CertificateError(f"cannot read {path}: {exc}") from exc


def _write_new_file(path: Path, data: bytes, *, mode: int) -> None:
    try:
        write_new_file(path, data, mode=mode)
    except FileExistsError:
        raise CertificateError(f"{path} already exists; refusing to overwrite it") from None
