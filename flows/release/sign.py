"""A release's manifest of hashes, and the bureau's Ed25519 signature over it.

MANIFEST.sha256 lists every file of the release (as `sha256sum` prints it), so that files
datapackage.json does not describe (README, CHANGELOG, the submitted workbooks) are covered too.
With a key, MANIFEST.sha256.sig holds the signature: no one can alter a release and re-hash it
without the bureau's private key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST, SIGNATURE = "MANIFEST.sha256", "MANIFEST.sha256.sig"


class SigningKeyError(Exception):
    """A key file that cannot be used; the message says why."""


def manifest_bytes(digests: dict[str, str]) -> bytes:
    """The manifest of files given by path → SHA-256 (hex), as `sha256sum` prints it."""
    lines = [f"{digests[name]}  {name}\n" for name in sorted(digests) if name not in (MANIFEST, SIGNATURE)]
    return "".join(lines).encode("utf-8")


def parse_manifest(content: bytes) -> dict[str, str]:
    """path → sha256 of a manifest; raises ValueError on a malformed line."""
    entries = {}
    for number, line in enumerate(content.decode("utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{MANIFEST} 第 {number} 行格式有误")
        entries[name] = digest
    return entries


def keygen(folder: Path) -> tuple[Path, Path]:
    """A new key pair in `folder`: the private key (mode 600) and the public key to hand out."""
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / "nianbao-signing.key", folder / "nianbao-signing.pub"
    if private.exists() or public.exists():
        raise SigningKeyError(f"{folder} 中已有密钥，不会覆盖")
    key = Ed25519PrivateKey.generate()
    write_private_key(key, private)
    public.write_bytes(public_pem(key))
    return private, public


def write_private_key(key: Ed25519PrivateKey, path: Path, overwrite: bool = False) -> None:
    """The private key as PEM (PKCS 8), readable by its owner alone (mode 600) from the start; an
    existing file is replaced only with `overwrite`."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as handle:
        handle.write(pem)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    """The public half of `key`, as PEM: the file to hand out."""
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load(path: Path, loader, kind):
    try:
        key = loader(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as error:
        raise SigningKeyError(f"{path} 不是可用的 Ed25519 密钥（{error}）") from None
    if not isinstance(key, kind):
        raise SigningKeyError(f"{path} 不是 Ed25519 密钥")
    return key


def sign(manifest: bytes, private_key: Path) -> bytes:
    key = _load(private_key, lambda b: serialization.load_pem_private_key(b, None), Ed25519PrivateKey)
    return base64.b64encode(key.sign(manifest)) + b"\n"


def signature_valid(manifest: bytes, signature: bytes, public_key: Path) -> bool:
    return _verifies(_load(public_key, serialization.load_pem_public_key, Ed25519PublicKey), manifest, signature)


def signature_of_key(manifest: bytes, signature: bytes, private_key: Path) -> bool:
    """Whether `signature` verifies with the public half of `private_key`: what `nianbao verify --key`
    will find, known before the release is published."""
    key = _load(private_key, lambda b: serialization.load_pem_private_key(b, None), Ed25519PrivateKey)
    return _verifies(key.public_key(), manifest, signature)


def _verifies(key: Ed25519PublicKey, manifest: bytes, signature: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), manifest)
    except (InvalidSignature, ValueError):
        return False
    return True
