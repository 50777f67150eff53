"""The Stripe API client and the credit packages, both configured from settings.

``STRIPE_API_KEY`` (a secret key), ``STRIPE_API_BASE`` (empty for Stripe itself, the URL of a
fake such as localstripe in tests), ``STRIPE_WEBHOOK_SECRET`` and ``CREDIT_PACKAGES``
(``id:credits:price_cents,...``). Settings are read on each call, so a changed environment
applies after ``core.settings.reset_settings()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import stripe

from billing.exceptions import StripeNotConfigured, UnknownPackage
from core.settings import get_settings


@dataclass(frozen=True)
class CreditPackage:
    package_id: str
    credits: int
    price_cents: int


def credit_packages() -> dict[str, CreditPackage]:
    """Parse ``CREDIT_PACKAGES``; a malformed entry is a configuration error at first use."""
    out: dict[str, CreditPackage] = {}
    for item in get_settings().credit_packages.split(","):
        item = item.strip()
        if not item:
            continue
        package_id, credits, price = (part.strip() for part in item.split(":"))
        pkg = CreditPackage(package_id, int(credits), int(price))
        if pkg.credits <= 0 or pkg.price_cents <= 0:
            raise ValueError(f"CREDIT_PACKAGES: {item!r} needs positive credits and price")
        out[package_id] = pkg
    return out


def get_package(package_id: str) -> CreditPackage:
    packages = credit_packages()
    if package_id not in packages:
        raise UnknownPackage(
            f"Unknown credit package '{package_id}'",
            details={"package_id": package_id, "packages": sorted(packages)},
        )
    return packages[package_id]


def stripe_client() -> stripe.StripeClient:
    s = get_settings()
    if s.stripe_api_key is None:
        raise StripeNotConfigured("Payments are not configured on this server (STRIPE_API_KEY)")
    base = s.stripe_api_base
    kwargs = {"base_addresses": {"api": base.rstrip("/")}} if base else {}
    return stripe.StripeClient(s.stripe_api_key.get_secret_value(), max_network_retries=1, **kwargs)  # type: ignore[arg-type]


def is_real_stripe() -> bool:
    """False when ``STRIPE_API_BASE`` points at a fake (it lacks Checkout and Billing Meters)."""
    base = get_settings().stripe_api_base
    if not base:
        return True
    host = urlparse(base).hostname or ""
    return host == "stripe.com" or host.endswith(".stripe.com")


def webhook_secret() -> str:
    secret = get_settings().stripe_webhook_secret
    if secret is None:
        raise StripeNotConfigured("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
    return secret.get_secret_value()
