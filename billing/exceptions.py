from __future__ import annotations

from core.errors import (
    BadRequestError,
    ConflictError,
    DependencyUnavailableError,
    PaymentRequiredError,
    ValidationFailedError,
)


class InsufficientCredits(PaymentRequiredError):
    code = "INSUFFICIENT_CREDITS"


class OutstandingDebt(PaymentRequiredError):
    """A refund or chargeback left the balance negative: new tasks wait until it is settled."""

    code = "OUTSTANDING_DEBT"


class UnknownPackage(ValidationFailedError):
    code = "UNKNOWN_PACKAGE"


class BillingConflict(ConflictError):
    code = "BILLING_CONFLICT"


class StripeNotConfigured(DependencyUnavailableError):
    code = "STRIPE_NOT_CONFIGURED"


class StripeUnavailable(DependencyUnavailableError):
    """Stripe answered with an error or could not be reached; nothing was charged."""

    code = "STRIPE_UNAVAILABLE"


class CheckoutUnavailable(DependencyUnavailableError):
    """The configured Stripe API has no Checkout Sessions (a local fake such as localstripe)."""

    code = "CHECKOUT_UNAVAILABLE"


class WebhookSignatureInvalid(BadRequestError):
    code = "INVALID_SIGNATURE"


class WebhookPayloadInvalid(BadRequestError):
    code = "INVALID_PAYLOAD"


class EventNotProcessed(DependencyUnavailableError):
    """The event is stored but its effect could not be applied yet: answer non-2xx, so Stripe
    delivers it again and the retry applies it."""

    code = "EVENT_NOT_PROCESSED"
