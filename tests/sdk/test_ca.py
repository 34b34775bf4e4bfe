"""Tests for sdk.ca: the consortium CA, member certificates and their verification."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from medledger.sdk.ca import (
    ConsortiumCA,
    MemberIdentity,
    certificate_from_pem,
    certificate_to_pem,
    verify_chain,
    verify_member,
)
from medledger.sdk.errors import CertificateError

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
OTHER_ADDRESS = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


@pytest.fixture(scope="module")
def root() -> ConsortiumCA:
    return ConsortiumCA.create("MedLedger Root", now=NOW)


@pytest.fixture(scope="module")
def intermediate(root: ConsortiumCA) -> ConsortiumCA:
    return root.issue_intermediate("MedLedger Issuing CA 1", now=NOW)


@pytest.fixture(scope="module")
def member_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(
    ca: ConsortiumCA, key: ec.EllipticCurvePrivateKey, **overrides: object
) -> x509.Certificate:
    options: dict[str, object] = {
        "organisation": "St Mary's Hospital",
        "role": "HOSPITAL",
        "address": ADDRESS,
        "public_key": key.public_key(),
        "now": NOW,
    }
    options.update(overrides)
    return ca.issue_member(**options)  # type: ignore[arg-type]


def hand_built_cert(
    issuer: ConsortiumCA | tuple[x509.Name, ec.EllipticCurvePrivateKey],
    *,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    ca: bool = False,
    path_length: int | None = None,
    cert_sign: bool | None = None,
    san_uri: str | None = f"ethereum:{ADDRESS}",
) -> x509.Certificate:
    """A certificate built outside ConsortiumCA, to exercise what issue_* refuses to make."""
    if isinstance(issuer, ConsortiumCA):
        issuer_name, issuer_key = issuer.certificate.subject, issuer.key
    else:
        issuer_name, issuer_key = issuer
    usage = dict.fromkeys(
        [
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    usage["digital_signature"] = not ca
    usage["key_cert_sign"] = ca if cert_sign is None else cert_sign
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    if san_uri is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(san_uri)]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def member_name(organisation: str = "Acme", role: str = "HOSPITAL") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
        ]
    )


def cn(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


# --- the root ---------------------------------------------------------------------------


def test_root_is_a_self_signed_ca_with_critical_constraints(root: ConsortiumCA) -> None:
    cert = root.certificate
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)

    assert cert.subject == cert.issuer == cn("MedLedger Root")
    cert.verify_directly_issued_by(cert)
    assert constraints.critical and constraints.value.ca
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(root.key.public_key())
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.not_valid_after_utc - NOW == dt.timedelta(days=3650)
    assert root.common_name == "MedLedger Root"


def test_root_can_use_a_supplied_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())

    ca = ConsortiumCA.create("Supplied", key=key, now=NOW)

    assert ca.key is key
    assert ca.certificate.public_key() == key.public_key()


def test_ca_constructor_rejects_a_key_that_does_not_match(root: ConsortiumCA) -> None:
    with pytest.raises(CertificateError, match="does not match"):
        ConsortiumCA(root.certificate, ec.generate_private_key(ec.SECP256R1()))


def test_ca_constructor_rejects_a_member_certificate(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(CertificateError, match="is not a CA"):
        ConsortiumCA(issue(root, member_key), member_key)


# --- issuing and verifying members ------------------------------------------------------


def test_member_certificate_verifies_to_its_identity(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = issue(root, member_key, organisation="Acme Devices", role="MANUFACTURER")

    identity = verify_member(cert, ca_cert=root.certificate, now=NOW + dt.timedelta(days=1))

    assert identity == MemberIdentity(
        organisation="Acme Devices",
        role="MANUFACTURER",
        address=ADDRESS,
        serial_number=cert.serial_number,
        not_after=NOW + dt.timedelta(days=365),
    )


def test_member_certificate_has_the_agreed_layout(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = issue(root, member_key, organisation="Acme Devices", role="DISTRIBUTOR")
    ext = cert.extensions

    assert cert.subject == member_name("Acme Devices", "DISTRIBUTOR")
    assert cert.public_key() == member_key.public_key()
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"ethereum:{ADDRESS}"]
    constraints = ext.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


@pytest.mark.parametrize(
    "role", ["REGULATOR", "MANUFACTURER", "DISTRIBUTOR", "LOGISTICS", "HOSPITAL"]
)
def test_every_consortium_role_round_trips(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey, role: str
) -> None:
    identity = verify_member(issue(root, member_key, role=role), ca_cert=root.certificate, now=NOW)

    assert identity.role == role


def test_member_identity_is_frozen(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    identity = verify_member(issue(root, member_key), ca_cert=root.certificate, now=NOW)

    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.role = "REGULATOR"  # type: ignore[misc]


def test_expired_member_certificate_names_its_expiry_date(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = issue(root, member_key, valid_days=30)
    expiry = (NOW + dt.timedelta(days=30)).isoformat()

    with pytest.raises(CertificateError, match=re.escape(f"expired on {expiry}")):
        verify_member(cert, ca_cert=root.certificate, now=NOW + dt.timedelta(days=31))


def test_member_certificate_is_valid_until_its_last_second(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = issue(root, member_key, valid_days=30)

    identity = verify_member(cert, ca_cert=root.certificate, now=cert.not_valid_after_utc)

    assert identity.not_after == cert.not_valid_after_utc


def test_not_yet_valid_member_certificate_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    later = NOW + dt.timedelta(days=10)
    cert = issue(root, member_key, now=later)

    with pytest.raises(CertificateError, match="not valid before"):
        verify_member(cert, ca_cert=root.certificate, now=NOW + dt.timedelta(days=1))


def test_expired_ca_rejects_its_members(member_key: ec.EllipticCurvePrivateKey) -> None:
    short_lived = ConsortiumCA.create("Short Root", valid_days=20, now=NOW)
    cert = issue(short_lived, member_key, valid_days=10)

    with pytest.raises(CertificateError, match="CA 'Short Root'.* expired on"):
        verify_member(cert, ca_cert=short_lived.certificate, now=NOW + dt.timedelta(days=21))


def test_certificate_signed_by_another_ca_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    impostor = ConsortiumCA.create("MedLedger Root", now=NOW)  # same name, different key
    cert = issue(impostor, member_key)

    with pytest.raises(CertificateError, match="signature that does not verify"):
        verify_member(cert, ca_cert=root.certificate, now=NOW)
    assert verify_member(cert, ca_cert=impostor.certificate, now=NOW).address == ADDRESS


def test_certificate_from_a_differently_named_ca_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    other = ConsortiumCA.create("Other Consortium", now=NOW)

    with pytest.raises(CertificateError, match="was issued by 'CN=Other Consortium'"):
        verify_member(issue(other, member_key), ca_cert=root.certificate, now=NOW)


def test_tampered_certificate_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    der = issue(root, member_key, organisation="Acme").public_bytes(serialization.Encoding.DER)
    assert der.count(b"Acme") == 2
    tampered = x509.load_der_x509_certificate(der.replace(b"Acme", b"Acmf"))
    assert tampered.subject == member_name("Acmf")

    with pytest.raises(CertificateError, match="signature that does not verify"):
        verify_member(tampered, ca_cert=root.certificate, now=NOW)


def test_issuing_for_an_unknown_role_is_refused(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(CertificateError, match="unknown role 'PHARMACY'"):
        issue(root, member_key, role="PHARMACY")
    with pytest.raises(CertificateError, match="unknown role 'hospital'"):
        issue(root, member_key, role="hospital")


def test_certificate_with_an_unknown_role_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = hand_built_cert(
        root, subject=member_name(role="JANITOR"), public_key=member_key.public_key()
    )

    with pytest.raises(CertificateError, match="unknown role OU='JANITOR'"):
        verify_member(cert, ca_cert=root.certificate, now=NOW)


def test_issuing_for_a_non_checksummed_address_is_refused(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(CertificateError, match=f"did you mean {ADDRESS}"):
        issue(root, member_key, address=ADDRESS.lower())
    with pytest.raises(CertificateError, match="not EIP-55 checksummed"):
        issue(root, member_key, address=ADDRESS[:-1] + "D")


@pytest.mark.parametrize("address", ["0x1234", ADDRESS[2:], "not-an-address", ""])
def test_issuing_for_a_malformed_address_is_refused(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey, address: str
) -> None:
    with pytest.raises(CertificateError, match="is not a 0x-prefixed 20-byte hex address"):
        issue(root, member_key, address=address)


def test_certificate_with_a_non_checksummed_address_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = hand_built_cert(
        root,
        subject=member_name(),
        public_key=member_key.public_key(),
        san_uri=f"ethereum:{OTHER_ADDRESS.lower()}",
    )

    with pytest.raises(CertificateError, match="without a valid EIP-55 checksum"):
        verify_member(cert, ca_cert=root.certificate, now=NOW)


def test_certificate_without_an_address_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = hand_built_cert(
        root, subject=member_name(), public_key=member_key.public_key(), san_uri=None
    )

    with pytest.raises(CertificateError, match="no subjectAltName URI 'ethereum:0x...'"):
        verify_member(cert, ca_cert=root.certificate, now=NOW)


def test_hand_built_certificate_with_the_same_layout_is_accepted(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    # Guards the negative tests above: the helper's baseline certificate verifies.
    cert = hand_built_cert(root, subject=member_name(), public_key=member_key.public_key())

    assert verify_member(cert, ca_cert=root.certificate, now=NOW).organisation == "Acme"


def test_a_member_certificate_cannot_act_as_the_ca(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    rogue = hand_built_cert(root, subject=member_name("Rogue"), public_key=member_key.public_key())
    victim = hand_built_cert(
        (rogue.subject, member_key), subject=member_name(), public_key=member_key.public_key()
    )

    with pytest.raises(CertificateError, match="is not a CA"):
        verify_member(victim, ca_cert=rogue, now=NOW)


def test_member_validity_may_not_exceed_the_ca(member_key: ec.EllipticCurvePrivateKey) -> None:
    ca = ConsortiumCA.create("Short Root", valid_days=100, now=NOW)

    with pytest.raises(CertificateError, match="after the issuing CA 'Short Root'"):
        issue(ca, member_key, valid_days=365)


def test_member_key_must_be_p256(root: ConsortiumCA) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())

    with pytest.raises(CertificateError, match="P-256"):
        issue(root, p384)


def test_naive_time_is_refused(root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey) -> None:
    cert = issue(root, member_key)

    with pytest.raises(CertificateError, match="timezone-aware"):
        verify_member(cert, ca_cert=root.certificate, now=NOW.replace(tzinfo=None))


# --- intermediates and chains -----------------------------------------------------------


def test_intermediate_is_a_ca_with_path_length_zero_signed_by_the_root(
    root: ConsortiumCA, intermediate: ConsortiumCA
) -> None:
    cert = intermediate.certificate
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value

    assert constraints.ca and constraints.path_length == 0
    assert cert.issuer == root.certificate.subject
    cert.verify_directly_issued_by(root.certificate)


def test_chain_through_an_intermediate_verifies(
    root: ConsortiumCA, intermediate: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = issue(intermediate, member_key, role="LOGISTICS")

    identity = verify_chain(cert, [intermediate.certificate], root=root.certificate, now=NOW)

    assert (identity.role, identity.address) == ("LOGISTICS", ADDRESS)
    assert identity.serial_number == cert.serial_number
    assert verify_member(cert, ca_cert=intermediate.certificate, now=NOW) == identity


def test_chain_without_intermediates_verifies_a_root_issued_member(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    identity = verify_chain(issue(root, member_key), [], root=root.certificate, now=NOW)

    assert identity.organisation == "St Mary's Hospital"


def test_chain_missing_its_intermediate_is_rejected(
    root: ConsortiumCA, intermediate: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = issue(intermediate, member_key)

    with pytest.raises(CertificateError, match="is neither the root"):
        verify_chain(cert, [], root=root.certificate, now=NOW)
    with pytest.raises(CertificateError, match="was issued by 'CN=MedLedger Issuing CA 1'"):
        verify_member(cert, ca_cert=root.certificate, now=NOW)


def test_chain_to_a_different_root_is_rejected(
    intermediate: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    other_root = ConsortiumCA.create("MedLedger Root", now=NOW)
    cert = issue(intermediate, member_key)

    with pytest.raises(CertificateError, match="intermediate CA .* signature that does not verify"):
        verify_chain(cert, [intermediate.certificate], root=other_root.certificate, now=NOW)


def test_intermediate_that_is_not_a_ca_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    fake_key = ec.generate_private_key(ec.SECP256R1())
    fake_intermediate = hand_built_cert(
        root,
        subject=cn("Not Really A CA"),
        public_key=fake_key.public_key(),
        ca=False,
        cert_sign=True,  # even with keyCertSign, CA=false must not issue
    )
    leaf = hand_built_cert(
        (fake_intermediate.subject, fake_key),
        subject=member_name(),
        public_key=member_key.public_key(),
    )

    with pytest.raises(CertificateError, match="intermediate CA 'Not Really A CA'.* is not a CA"):
        verify_chain(leaf, [fake_intermediate], root=root.certificate, now=NOW)


def test_expired_intermediate_is_rejected(
    root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    brief = root.issue_intermediate("Brief CA", valid_days=10, now=NOW)
    cert = issue(brief, member_key, valid_days=5)

    with pytest.raises(CertificateError, match="intermediate CA 'Brief CA'.* expired on"):
        verify_chain(
            cert, [brief.certificate], root=root.certificate, now=NOW + dt.timedelta(days=11)
        )


def test_intermediate_cannot_issue_another_ca(intermediate: ConsortiumCA) -> None:
    with pytest.raises(CertificateError, match="pathLen 0 and cannot issue another CA"):
        intermediate.issue_intermediate("Grandchild CA", now=NOW)


def test_chain_longer_than_the_path_length_allows_is_rejected(
    root: ConsortiumCA, intermediate: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    grandchild_key = ec.generate_private_key(ec.SECP256R1())
    grandchild = hand_built_cert(
        intermediate, subject=cn("Grandchild CA"), public_key=grandchild_key.public_key(), ca=True
    )
    leaf = hand_built_cert(
        (grandchild.subject, grandchild_key),
        subject=member_name(),
        public_key=member_key.public_key(),
    )

    with pytest.raises(CertificateError, match="pathLen 0 but 1 intermediate CA"):
        verify_chain(leaf, [grandchild, intermediate.certificate], root=root.certificate, now=NOW)


def test_root_must_be_self_signed(
    root: ConsortiumCA, intermediate: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    cert = issue(intermediate, member_key)

    with pytest.raises(CertificateError, match="is not self-issued"):
        verify_chain(cert, [], root=intermediate.certificate, now=NOW)


# --- persistence ------------------------------------------------------------------------


def test_saved_ca_loads_back_and_keeps_issuing(
    tmp_path: Path, root: ConsortiumCA, member_key: ec.EllipticCurvePrivateKey
) -> None:
    root.save(tmp_path / "ca", password=b"correct horse")

    loaded = ConsortiumCA.load(tmp_path / "ca", password=b"correct horse")

    assert loaded.certificate == root.certificate
    assert loaded.key.private_numbers() == root.key.private_numbers()
    cert = issue(loaded, member_key)
    assert verify_member(cert, ca_cert=root.certificate, now=NOW).address == ADDRESS


def test_saved_ca_key_is_encrypted_and_private(tmp_path: Path, root: ConsortiumCA) -> None:
    root.save(tmp_path, password=b"correct horse")
    key_file = tmp_path / "ca-key.pem"

    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert certificate_from_pem((tmp_path / "ca-cert.pem").read_bytes()) == root.certificate


def test_loading_with_the_wrong_password_is_reported(tmp_path: Path, root: ConsortiumCA) -> None:
    root.save(tmp_path, password=b"correct horse")

    with pytest.raises(CertificateError, match="wrong password for CA key .*ca-key.pem"):
        ConsortiumCA.load(tmp_path, password=b"battery staple")


def test_saving_over_an_existing_ca_is_refused(tmp_path: Path, root: ConsortiumCA) -> None:
    root.save(tmp_path, password=b"first")
    before = (tmp_path / "ca-key.pem").read_bytes()

    with pytest.raises(CertificateError, match="ca-key.pem already exists"):
        ConsortiumCA.create("Another Root", now=NOW).save(tmp_path, password=b"second")
    assert (tmp_path / "ca-key.pem").read_bytes() == before


def test_saving_without_a_password_is_refused(tmp_path: Path, root: ConsortiumCA) -> None:
    with pytest.raises(CertificateError, match="without a password"):
        root.save(tmp_path, password=b"")
    assert list(tmp_path.iterdir()) == []


def test_unencrypted_ca_key_is_refused(tmp_path: Path, root: ConsortiumCA) -> None:
    (tmp_path / "ca-cert.pem").write_text(certificate_to_pem(root.certificate))
    (tmp_path / "ca-key.pem").write_bytes(
        root.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    with pytest.raises(CertificateError, match="is not encrypted"):
        ConsortiumCA.load(tmp_path, password=b"anything")


def test_loading_from_an_empty_directory_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="ca-cert.pem does not exist"):
        ConsortiumCA.load(tmp_path, password=b"pw")


def test_pem_round_trip(root: ConsortiumCA) -> None:
    pem = certificate_to_pem(root.certificate)

    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert certificate_from_pem(pem) == root.certificate
    assert certificate_from_pem(pem.encode()) == root.certificate


@pytest.mark.parametrize(
    "pem", ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
)
def test_bad_pem_is_a_certificate_error(pem: str) -> None:
    with pytest.raises(CertificateError, match="no valid PEM certificate in member.pem"):
        certificate_from_pem(pem, source="member.pem")
