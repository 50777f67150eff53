"""Errors the analysis engine raises. All are AppErrors, so the API and the worker render them."""

from __future__ import annotations

from core.errors import AppError


class InvalidFileError(AppError):
    """A file could not be parsed: the message names the line and the problem."""

    code = "INVALID_FILE"
    status_code = 422


class UnsupportedFormatError(AppError):
    code = "UNSUPPORTED_FORMAT"
    status_code = 415


class FileTooLargeError(AppError):
    """Over a plan limit (bytes, rows, columns, cell length, uncompressed XLSX size)."""

    code = "FILE_TOO_LARGE"
    status_code = 413


class InvalidParametersError(AppError):
    code = "INVALID_PARAMETERS"
    status_code = 422


class UnknownToolError(AppError):
    code = "UNKNOWN_TOOL"
    status_code = 422


class UnknownAgentError(AppError):
    code = "UNKNOWN_AGENT"
    status_code = 422


class UnknownReportFormatError(AppError):
    code = "UNKNOWN_REPORT_FORMAT"
    status_code = 422
