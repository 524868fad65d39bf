"""Referral letters on disk: PDF only, size-limited, outside the web root, random names.

A letter is kept under ``settings.DATA_DIR / "referrals"`` (never under the static files), named
by 128 random bits: the name the sender gave it is stored in the database only, so nothing a
sender types reaches a path. Only the triage page's access-checked view reads it back.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

PDF_MAGIC = b"%PDF-"
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.pdf$")


@dataclass(frozen=True)
class Letter:
    """An uploaded letter that passed the checks, still in memory (nothing written yet)."""

    content: bytes
    original_name: str

    @property
    def size_bytes(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def max_bytes() -> int:
    return int(getattr(settings, "REFERRAL_MAX_MB", 10)) * 1024 * 1024


def letter_problem(head: bytes, size_bytes: int) -> str | None:
    """Why an upload is refused (its first bytes and size), or None when it is a PDF in size."""
    limit_mb = max_bytes() // (1024 * 1024)
    if size_bytes == 0:
        return "The file is empty. Choose the referral letter as a PDF file."
    if size_bytes > max_bytes():
        return (
            f"The file is larger than {limit_mb} MB. "
            "Send a smaller PDF (scan it at a lower resolution)."
        )
    if not head.startswith(PDF_MAGIC):
        return (
            "This file is not a PDF (its content is not a PDF document, whatever its name). "
            "Save or scan the letter as a PDF and choose it again."
        )
    return None


def letters_dir() -> Path:
    return Path(settings.DATA_DIR) / "referrals"


def safe_original_name(name: str) -> str:
    """The sender's file name for the download header only: no path, no control characters."""
    base = os.path.basename(name.replace("\\", "/"))
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '";')
    return cleaned[:200] or "referral-letter.pdf"


def store(letter: Letter) -> str:
    """Write ``letter`` under a new random name (owner-only, flushed to disk); return the name."""
    folder = letters_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{secrets.token_hex(16)}.pdf"
    descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(letter.content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        discard(name)
        raise
    return name


def discard(name: str) -> None:
    """Remove a letter written for a submission that was then not saved."""
    if _STORED_NAME.match(name):
        (letters_dir() / name).unlink(missing_ok=True)


def path_of(name: str) -> Path | None:
    """The stored letter's path, or None for a name this module never gave."""
    if not _STORED_NAME.match(name or ""):
        return None
    path = letters_dir() / name
    return path if path.is_file() else None
