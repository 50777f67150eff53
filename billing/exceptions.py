from __future__ import annotations

from core.errors import ConflictError, PaymentRequiredError, ValidationFailedError


class InsufficientCredits(PaymentRequiredError):
    code = "INSUFFICIENT_CREDITS"


class OutstandingDebt(PaymentRequiredError):
    """A refund or chargeback left the balance negative: new tasks wait until it is settled."""

    code = "OUTSTANDING_DEBT"


class UnknownPackage(ValidationFailedError):
    code = "UNKNOWN_PACKAGE"


class BillingConflict(ConflictError):
    code = "BILLING_CONFLICT"
