"""restic repositories for tests, made by `restic init` once and copied with a cheap key.

Every restic command opens the repository by deriving the key from the password with scrypt,
at the cost `restic init` calibrated on this machine (N=2^15, r=8, p=4 here: 0.4 CPU-s per
command, and 2 s for the init itself). The suite runs restic some 300 times, and that key
derivation was most of restic's CPU. Production keeps restic's calibration: napops never
initialises a repository (the operator runs `restic init`), and nothing in napops reads the
key's parameters.

``make_repo`` copies a repository that the real `restic init` made once per test run, with a
new repository id, and with its key re-wrapped at scrypt N=2^10, r=8, p=1 (the master key and
the repository format are restic's own). It is still the password that opens it; a wrong
password still fails. restic reads the parameters from the key file, so every restic command
then derives the key in about a millisecond.

The wrapping is restic's: scrypt gives 64 bytes, the first 32 the AES-256 key, the next 32
the Poly1305-AES MAC key (k, then r); a sealed blob is nonce (16) || AES-256-CTR ciphertext
|| Poly1305 tag (16) of the ciphertext, keyed by r and AES_k(nonce)
(restic's design document, "Keys, Encryption and MAC").
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

from support.rundir import run_dir

CHEAP = {"N": 1 << 10, "r": 8, "p": 1}
_TEMPLATE_PASSWORD = "napops-test-template"


class _Key:
    def __init__(self, encrypt: bytes, mac_k: bytes, mac_r: bytes):
        self.encrypt, self.mac_k, self.mac_r = encrypt, mac_k, mac_r

    @classmethod
    def derive(cls, password: str, salt: bytes, n: int, r: int, p: int) -> _Key:
        raw = hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=64
        )
        return cls(raw[:32], raw[32:48], raw[48:64])

    @classmethod
    def from_json(cls, doc: dict) -> _Key:
        return cls(
            base64.b64decode(doc["encrypt"]),
            base64.b64decode(doc["mac"]["k"]),
            base64.b64decode(doc["mac"]["r"]),
        )

    def _tag(self, nonce: bytes, ciphertext: bytes) -> bytes:
        aes = Cipher(algorithms.AES(self.mac_k), modes.ECB()).encryptor()
        s = aes.update(nonce) + aes.finalize()
        return Poly1305.generate_tag(self.mac_r + s, ciphertext)

    def open(self, sealed: bytes) -> bytes:
        nonce, ciphertext, tag = sealed[:16], sealed[16:-16], sealed[-16:]
        if not secrets.compare_digest(self._tag(nonce, ciphertext), tag):
            raise ValueError("restic blob: MAC does not match (wrong password or key)")
        dec = Cipher(algorithms.AES(self.encrypt), modes.CTR(nonce)).decryptor()
        return dec.update(ciphertext) + dec.finalize()

    def seal(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(16)
        enc = Cipher(algorithms.AES(self.encrypt), modes.CTR(nonce)).encryptor()
        ciphertext = enc.update(plaintext) + enc.finalize()
        return nonce + ciphertext + self._tag(nonce, ciphertext)


def _template() -> Path:
    """A repository made by the real `restic init`, once per test run (shared by the workers
    through a file lock)."""
    repo = run_dir("restic-template") / "repo"
    with open(repo.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (repo / "config").is_file():
            shutil.rmtree(repo, ignore_errors=True)
            env = {**os.environ, "RESTIC_PASSWORD": _TEMPLATE_PASSWORD}
            subprocess.run(
                ["restic", "init", "-q", "-r", str(repo)], env=env, check=True, capture_output=True
            )
    return repo


@functools.lru_cache(maxsize=1)
def _opened_template() -> tuple[Path, dict, dict]:
    """The template, its key file and its master key (derived once per process)."""
    template = _template()
    (keyfile,) = (template / "keys").iterdir()
    old = json.loads(keyfile.read_text())
    master_doc = json.loads(
        _Key.derive(
            _TEMPLATE_PASSWORD, base64.b64decode(old["salt"]), old["N"], old["r"], old["p"]
        ).open(base64.b64decode(old["data"]))
    )
    return template, old, master_doc


def make_repo(path: Path, password: str) -> Path:
    """A new, empty restic repository at ``path`` opened by ``password``. Returns ``path``."""
    template, old, master_doc = _opened_template()
    master = _Key.from_json(master_doc)

    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, path, dirs_exist_ok=True)
    shutil.rmtree(path / "keys")
    (path / "keys").mkdir()

    config = json.loads(master.open((template / "config").read_bytes()))
    config["id"] = secrets.token_hex(32)
    (path / "config").write_bytes(master.seal(json.dumps(config).encode()))

    salt = secrets.token_bytes(64)
    wrapped = _Key.derive(password, salt, **{k.lower(): v for k, v in CHEAP.items()})
    key = {
        **{k: v for k, v in old.items() if k not in ("N", "r", "p", "salt", "data")},
        **CHEAP,
        "salt": base64.b64encode(salt).decode(),
        "data": base64.b64encode(wrapped.seal(json.dumps(master_doc).encode())).decode(),
    }
    blob = json.dumps(key).encode()
    (path / "keys" / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    return path
