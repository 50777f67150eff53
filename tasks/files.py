"""What a task's input file may be, whichever way it arrived (through the gateway or PUT to a
presigned URL): its stored name, its size against the plan, and its format judged by content."""

from __future__ import annotations

from core.errors import TooLargeError, ValidationFailedError
from core.storage import sanitize_filename
from transformers.errors import UnsupportedFormatError
from transformers.io.sniff import sniff_format
from transformers.registry import FileRole

SNIFF_BYTES = 64 * 1024  # the head read to judge a file's format


class EmptyFileError(ValidationFailedError):
    code = "EMPTY_FILE"


class FileTooLarge(TooLargeError):
    code = "FILE_TOO_LARGE"


def too_large(max_bytes: int) -> FileTooLarge:
    return FileTooLarge(
        f"The file exceeds your plan's limit of {max_bytes} bytes",
        details={"limit_bytes": max_bytes},
    )


def check_content(size: int, head: bytes, filename: str, role: FileRole) -> str:
    """Reject empty files and formats the role does not accept, judged by content."""
    if size == 0:
        raise EmptyFileError("The file is empty", details={"role": role.name})
    fmt = sniff_format(head, filename)
    if fmt not in role.formats:
        raise UnsupportedFormatError(
            f"A {fmt} file is not accepted for the {role.name} role",
            details={"role": role.name, "format": fmt, "accepted": list(role.formats)},
        )
    return fmt


def clean_filename(name: str | None, role: str) -> str:
    return sanitize_filename(name or "", default=role)
