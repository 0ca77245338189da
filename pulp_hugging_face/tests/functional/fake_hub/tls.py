"""Certificates for the HTTPS and mTLS modes of the fake hub, made at run time.

`issue(directory, hosts)` makes a CA of its own, a server certificate for `hosts` (every origin
of the hub serves the same one) and a client certificate, all signed by that CA, and writes them
as PEM files into `directory`. Nothing here is ever committed: keys live in a temp dir.

Needs the `cryptography` package (pulpcore depends on it), so `fake_hub/__init__.py` imports
this module only when a hub in TLS mode starts.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files `issue` wrote (keys unencrypted, PKCS#8)."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pulp_hugging_face fake hub"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(host: str):
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(common_name: str = "Fake Hub Test CA"):
    """(certificate, key) of a self-signed CA, valid for a week from an hour ago."""
    key, name = _key(), _name(common_name)
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(ca_cert, ca_key, common_name: str, hosts=(), client: bool = False):
    """(certificate, key) signed by the CA: a server certificate for `hosts`, or a client one."""
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
    )
    if hosts:
        names = [_san(h) for h in dict.fromkeys(hosts)]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def issue(directory: str | os.PathLike, hosts) -> TlsFiles:
    """Make a CA, a server certificate for `hosts` and a client certificate; write them."""
    directory = Path(directory)
    ca_cert, ca_key = make_ca()
    server_cert, server_key = make_leaf(ca_cert, ca_key, "fake hub", hosts)
    client_cert, client_key = make_leaf(ca_cert, ca_key, "fake hub client", client=True)
    files = TlsFiles(
        directory,
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server-key.pem",
        directory / "client.pem",
        directory / "client-key.pem",
    )
    for path, data in (
        (files.ca_cert, _cert_pem(ca_cert)),
        (files.server_cert, _cert_pem(server_cert)),
        (files.server_key, _key_pem(server_key)),
        (files.client_cert, _cert_pem(client_cert)),
        (files.client_key, _key_pem(client_key)),
    ):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return files


def foreign_client_pair(common_name: str = "stranger") -> tuple[str, str]:
    """(cert PEM, key PEM) of a client certificate from another CA, which the hub must refuse."""
    ca_cert, ca_key = make_ca(f"{common_name} CA")
    cert, key = make_leaf(ca_cert, ca_key, common_name, client=True)
    return _cert_pem(cert).decode(), _key_pem(key).decode()


def server_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """The listeners' context; with `client_ca`, a client certificate it signed is required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(
    ca_cert: str | None, cert: str | None = None, key: str | None = None
) -> ssl.SSLContext:
    """A client context that trusts `ca_cert` (a path) and presents `cert`/`key` if given."""
    context = ssl.create_default_context(cafile=ca_cert)
    if cert:
        context.load_cert_chain(cert, key)
    return context
