"""Secrets: none in the source, random per local stack, one derived key per purpose with a key
id, two active during a rotation.

- A session token, an API-key hash or a callback secret made with any string or bytes
  constant found in the product's source is refused (or never matches).
- A fresh local stack generates random secrets under var/ with mode 0600 and keeps them.
- Rotation: with ``SECRET_KEYS=new,old`` keys hashed, tokens signed and callback secrets made
  under the old key keep working while new ones use the new key; once the old key is removed,
  what only it could verify is refused.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import os
import stat
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.keys import KeyPurpose, hkdf_sha256
from tests.platform import ROOT

SOURCE_PACKAGES = ("core", "gateway", "tenants", "billing", "workers", "transformers", "migrations")
OLD_DEFAULT_PEPPER = b"agensium-local-development-pepper"


def source_constants() -> set[bytes]:
    """Every str/bytes literal of 4..256 characters in the product's Python source."""
    found: set[bytes] = {OLD_DEFAULT_PEPPER}
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                    value = node.value
                    raw = (
                        value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
                    )
                    if 4 <= len(raw) <= 256:
                        found.add(raw)
    return found


@pytest.fixture(scope="module")
def constants() -> set[bytes]:
    found = source_constants()
    assert OLD_DEFAULT_PEPPER in found and len(found) > 500
    return found


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(key: bytes, body: dict[str, object]) -> str:
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    mac = hmac.new(key, b"agensium-session-token:v1:" + payload.encode(), hashlib.sha256)
    return f"ags.{payload}.{_b64(mac.digest())}"


def _candidate_keys(constant: bytes, purpose: KeyPurpose) -> list[bytes]:
    """The key an attacker would try: the constant itself, or derived as the server derives."""
    return [constant, hkdf_sha256(constant, purpose.value.encode())]


def test_no_secret_has_a_default(monkeypatch):
    from core.settings import Settings

    for name in ("SECRET_KEYS", "API_KEY_PEPPER", "ADMIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(app_env="local")
    assert s.keyring.keys == ()
    assert s.admin_api_key is None
    with pytest.raises(ValueError, match="SECRET_KEYS"):
        Settings(app_env="production", admin_api_key="x" * 32)
    with pytest.raises(ValueError, match="ADMIN_API_KEY"):
        Settings(app_env="production", secret_keys="p1:" + "y" * 32)
    with pytest.raises(ValueError, match="16"):
        Settings(secret_keys="p1:short")


def test_tokens_hashes_and_callback_secrets_made_with_source_constants_are_refused(
    constants, make_tenant, gateway_url
):
    from gateway import session_tokens
    from tenants import security
    from tenants.exceptions import InvalidApiKey
    from workers.callbacks import signing_secrets

    tc = make_tenant(credits=10)
    key_id = session_tokens._decode(
        httpx.post(
            f"{gateway_url}/v1/auth/session", headers={"Authorization": f"Bearer {tc.api_key}"}
        ).json()["token"]
    )["k"]
    from core.db import session_scope
    from core.settings import get_settings

    kids = [k.kid for k in get_settings().keyring.keys] + ["k0", "v1", "default"]
    with session_scope() as session:
        real_callback_secrets = set(signing_secrets(session, tc.tenant_id))
    body: dict[str, object] = {
        "t": tc.tenant_id,
        "k": key_id,
        "s": ["billing", "tasks", "usage"],
        "exp": int(time.time()) + 600,
    }
    checked = 0
    for constant in constants:
        for key in _candidate_keys(constant, KeyPurpose.SESSION_TOKEN):
            for kid in [None, *kids]:
                forged = _token(key, body if kid is None else {**body, "kid": kid})
                with pytest.raises(InvalidApiKey):
                    session_tokens.authenticate(forged)
                checked += 1
        for key in _candidate_keys(constant, KeyPurpose.API_KEY_HASH):
            forged_hash = hmac.new(key, tc.api_key.encode(), hashlib.sha256).hexdigest()
            for kid in [None, *kids]:
                assert not security.matches(tc.api_key, forged_hash, kid)
        for key in _candidate_keys(constant, KeyPurpose.CALLBACK_SECRET):
            for message in (f"callback:{tc.tenant_id}", f"callback:{tc.tenant_id}:"):
                guess = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
                assert guess not in real_callback_secrets
                assert f"whsec_{guess}" not in real_callback_secrets
    assert checked > 1000
    # The attack from the issue, end to end: a 10-year token signed with the old default.
    forged = _token(OLD_DEFAULT_PEPPER, {**body, "exp": int(time.time()) + 10 * 365 * 86400})
    r = httpx.get(f"{gateway_url}/v1/billing/wallet", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401, r.text


def test_a_token_that_claims_to_outlive_the_configured_lifetime_is_refused(make_tenant):
    """Even correctly signed: ``exp`` is capped at SESSION_TOKEN_TTL_SECONDS."""
    from gateway import session_tokens
    from tenants.exceptions import InvalidApiKey
    from tenants.schemas import Principal

    tc = make_tenant(credits=0)
    issued = session_tokens.issue(Principal(tc.tenant_id, "k", "pro", frozenset({"usage"})))
    body = session_tokens._decode(issued.token)
    assert body["exp"] <= time.time() + 900 + 1
    from core.settings import get_settings

    kid = get_settings().keyring.primary.kid
    key = get_settings().keyring.primary.derive(KeyPurpose.SESSION_TOKEN)
    long_lived = _token(key, {**body, "kid": kid, "exp": int(time.time()) + 10 * 365 * 86400})
    with pytest.raises(InvalidApiKey, match="longer than allowed"):
        session_tokens._decode(long_lived)
    # The same key and format with a short exp verifies: the refusal above is the cap.
    assert session_tokens._decode(_token(key, {**body, "kid": kid}))["t"] == tc.tenant_id


def test_the_local_stack_generates_random_secrets_once_with_mode_0600(tmp_path, constants):
    from gateway.cli.stack import LOCAL_SECRETS, local_secrets

    first = local_secrets(tmp_path / "a")
    again = local_secrets(tmp_path / "a")
    other = local_secrets(tmp_path / "b")
    assert set(first) == set(LOCAL_SECRETS)
    assert first == again, "kept across restarts (keys hashed by one run work in the next)"
    for name in LOCAL_SECRETS:
        assert first[name] != other[name], name
        assert first[name].encode() not in constants
    for path in (tmp_path / "a" / "secrets.env", tmp_path / "b" / "secrets.env"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    from core.keys import parse_secret_keys

    (root,) = parse_secret_keys(first["SECRET_KEYS"])
    assert len(root.secret) >= 32
    assert "CALLBACK_ALLOW_PRIVATE" not in (ROOT / "gateway/cli/stack.py").read_text()


@pytest.fixture
def rotation_env(platform) -> Iterator[dict[str, Any]]:
    """Switch this process's SECRET_KEYS (the gateway serves from a thread of it)."""
    from core.settings import reset_settings
    from tenants.service import invalidate_principals

    old = os.environ.get("SECRET_KEYS")
    keys = {"old": "old1:" + "o" * 40, "new": "new2:" + "n" * 40}

    def use(value: str) -> None:
        os.environ["SECRET_KEYS"] = value
        reset_settings()
        invalidate_principals()

    yield {**keys, "use": use}
    if old is None:
        os.environ.pop("SECRET_KEYS", None)
    else:
        os.environ["SECRET_KEYS"] = old
    reset_settings()
    invalidate_principals()


def test_rotation_with_two_active_keys(rotation_env, admin, gateway_url):
    from core.db import session_scope
    from tenants.models import ApiKey
    from workers.callbacks import signing_secrets

    use = rotation_env["use"]
    use(rotation_env["old"])
    tenant_id = admin.post("/v1/admin/tenants", json={"name": "rotation", "plan": "pro"}).json()[
        "tenant_id"
    ]
    made = admin.post(f"/v1/admin/tenants/{tenant_id}/api-keys", json={}).json()
    api_key = made["api_key"]

    def call(credential: str) -> int:
        h = {"Authorization": f"Bearer {credential}"}
        return httpx.get(f"{gateway_url}/v1/billing/wallet", headers=h).status_code

    def session_token() -> str:
        h = {"Authorization": f"Bearer {api_key}"}
        r = httpx.post(f"{gateway_url}/v1/auth/session", headers=h)
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    old_token = session_token()
    with session_scope() as session:
        assert session.get(ApiKey, made["key_id"]).hash_kid == "old1"
        old_callback = signing_secrets(session, tenant_id)[0]

    # Rotation: the new key signs, the old one still verifies.
    use(f"{rotation_env['new']},{rotation_env['old']}")
    assert call(api_key) == 200
    assert call(old_token) == 200
    new_token = session_token()
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[1] + "=="))["kid"] == "new2"
    with session_scope() as session:
        assert session.get(ApiKey, made["key_id"]).hash_kid == "new2", "re-hashed on use"
        assert signing_secrets(session, tenant_id) == [old_callback]
    r = httpx.post(
        f"{gateway_url}/v1/callbacks/secret/rotate", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert r.status_code == 200, r.text
    new_callback = r.json()["secret"]
    assert r.json()["previous_valid_until"] is not None
    with session_scope() as session:
        assert signing_secrets(session, tenant_id) == [new_callback, old_callback]

    # The old key retired: its tokens are refused; keys re-hashed and new secrets live on.
    use(rotation_env["new"])
    assert call(old_token) == 401
    assert call(new_token) == 200
    assert call(api_key) == 200
    with session_scope() as session:
        assert signing_secrets(session, tenant_id) == [new_callback]

    # A key hashed only under a retired root key never verifies.
    use(rotation_env["old"])
    assert call(api_key) == 401
    assert call(new_token) == 401


def test_a_rotated_callback_secret_signs_next_to_the_old_one_until_it_expires(
    make_tenant, platform
):
    from core.db import session_scope
    from workers.callbacks import rotate_secret, sign_all, signing_secrets

    tc = make_tenant(credits=0)
    before = tc.client.get("/v1/callbacks/secret").json()["secret"]
    assert before.startswith("whsec_") and len(before) > 40
    assert tc.client.get("/v1/callbacks/secret").json()["secret"] == before, "stable"
    r = tc.client.post("/v1/callbacks/secret/rotate")
    after = r.json()["secret"]
    assert after != before
    assert tc.client.get("/v1/callbacks/secret").json()["secret"] == after
    with session_scope() as session:
        keys = signing_secrets(session, tc.tenant_id)
    assert keys == [after, before]
    header = sign_all(keys, b"{}", ts=1)
    assert header.count("v1=") == 2
    # Rotating again retires the oldest at once if its overlap is already shorter.
    with session_scope() as session:
        rotate_secret(session, tc.tenant_id)
    with session_scope() as session:
        assert len(signing_secrets(session, tc.tenant_id)) == 3
