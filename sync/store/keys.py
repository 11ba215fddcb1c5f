"""Keys of encrypted SQLite stores (SQLCipher): where a key comes from, where crm2 keeps one.

A store's key is never in the pipeline config and never beside the data. In order:

1. the key handed to :meth:`Store.open` (``key=``);
2. ``CRM2_STORE_KEY`` — the key itself, for a service that injects secrets as environment;
   ``store.key_env`` in a pipeline config names another variable and is copied here;
3. ``CRM2_STORE_KEY_FILE`` — a file holding it (``store.key_file`` in a pipeline config);
4. crm2's key folder (``CRM2_KEY_DIR``, else ``$XDG_CONFIG_HOME/crm2/keys``, else
   ``~/.config/crm2/keys``): one 0600 file per store, named by a hash of the store's absolute
   path. ``crm2 demo`` and ``crm2 store rekey`` keep the keys they make there.

No key found: the store is opened as plain SQLite, so unencrypted stores keep working.
A key is 64 hex digits (a raw 256-bit key, used as is) or any other text (a passphrase, which
SQLCipher stretches with PBKDF2 on every connection — slower, so crm2 makes raw keys).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Any

from sync import private
from sync.access import Refused

KEY_ENV = "CRM2_STORE_KEY"
KEY_FILE_ENV = "CRM2_STORE_KEY_FILE"
KEY_DIR_ENV = "CRM2_KEY_DIR"

_RAW = re.compile(r"^[0-9a-fA-F]{64}$")


class StoreKeyError(Refused):
    """The store's key is missing, wrong or unreadable (exit 2: nothing ran)."""


def new_key() -> str:
    """A fresh random 256-bit key as 64 hex digits."""
    return secrets.token_hex(32)


def key_dir() -> Path:
    if os.environ.get(KEY_DIR_ENV):
        return Path(os.environ[KEY_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "crm2" / "keys"


def kept_key_path(store_path: Path) -> Path:
    """Where crm2 keeps the key of the store at ``store_path`` (whether or not one is there)."""
    digest = hashlib.sha256(str(Path(store_path).resolve()).encode()).hexdigest()[:24]
    return key_dir() / f"{digest}.key"


def read_key_file(path: Path, what: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StoreKeyError(f"cannot read the store key from {what} {path} ({type(exc).__name__})") from None
    if not text:
        raise StoreKeyError(f"the store key file {path} is empty")
    return text


def find(store_path: Path) -> tuple[str | None, str | None]:
    """The key for the store at ``store_path`` and where it came from, or (None, None)."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV], f"${KEY_ENV}"
    if os.environ.get(KEY_FILE_ENV):
        path = Path(os.environ[KEY_FILE_ENV])
        return read_key_file(path, f"${KEY_FILE_ENV}"), str(path)
    kept = kept_key_path(store_path)
    if kept.is_file():
        return read_key_file(kept, "crm2's key folder"), str(kept)
    return None, None


def key_home(store_path: Path, key_file: Path | None = None) -> Path:
    """Where a new key for this store goes (``key_file`` or crm2's key folder); refuses a place
    inside the store's own folder, where a copied data folder would carry its key along."""
    path = Path(key_file).expanduser() if key_file else kept_key_path(store_path)
    data_dir = Path(store_path).resolve().parent
    if path.resolve().is_relative_to(data_dir):
        what = "key file" if key_file else "key folder"
        raise StoreKeyError(f"the {what} {path if key_file else path.parent} is inside the store's folder "
                            f"{data_dir}; keep keys elsewhere" + ("" if key_file else f" (set {KEY_DIR_ENV})"))
    return path


def keep(store_path: Path, key: str, key_file: Path | None = None) -> Path:
    """Save ``key`` for this store (0600 in a 0700 folder), at :func:`key_home`."""
    path = key_home(store_path, key_file)
    private.mkdir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    private.write_text(tmp, key + "\n")
    tmp.replace(path)
    return path


def pragma(key: str) -> str:
    """The ``PRAGMA key``/``rekey`` operand for a key: raw keys skip the passphrase stretching."""
    if _RAW.match(key):
        return f"\"x'{key.lower()}'\""
    return "'" + key.replace("'", "''") + "'"


def quiet(dbapi_conn: Any) -> None:
    """SQLCipher logs a wrong key to stderr itself; crm2 says it once, in its own words."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA cipher_log_level = NONE")
    cur.close()


def rekey(store_path: Path, old_key: str | None, new_key: str) -> None:
    """Re-encrypt the store file with ``new_key``: SQLCipher's rekey for an encrypted store, an
    encrypted copy (``sqlcipher_export``) swapped in for a plain one. The caller holds the run
    lock, so nothing else writes meanwhile."""
    import sqlcipher3

    store_path = Path(store_path)
    conn = sqlcipher3.connect(str(store_path), isolation_level=None)
    try:
        quiet(conn)
        if old_key:
            conn.execute(f"PRAGMA key = {pragma(old_key)}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # proves the old key
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if old_key:
            conn.execute(f"PRAGMA rekey = {pragma(new_key)}")
            return
        tmp = store_path.with_name(store_path.name + ".rekey")
        tmp.unlink(missing_ok=True)
        private.touch(tmp)
        conn.execute(f"ATTACH DATABASE ? AS encrypted KEY {pragma(new_key)}", (str(tmp),))
        conn.execute("SELECT sqlcipher_export('encrypted')")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        conn.execute("DETACH DATABASE encrypted")
    except sqlcipher3.DatabaseError:
        raise StoreKeyError(f"cannot open the store {store_path} with its current key") from None
    finally:
        conn.close()
    # the plain file's WAL was checkpointed into it above; the encrypted copy replaces both
    for suffix in ("-wal", "-shm"):
        store_path.with_name(store_path.name + suffix).unlink(missing_ok=True)
    tmp.replace(store_path)
