"""Credential sources: what ``describe`` shows (never a secret) and what the crawl accepts for now."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.errors import CredentialsError
from crawler.settings.credentials import Credentials
from crawler.settings.identity import (
    AssumedRole,
    CredentialSource,
    CredentialsUri,
    EcsRamRole,
    ExternalProcess,
    OidcRole,
    RoleSpec,
    StaticKeys,
    describe,
    static_credentials,
)

SECRET = "s3cr3t-value-XYZ"
TOKEN = "sts-token-ABC"
KEYS = StaticKeys(Credentials("LTAIkey", SECRET, TOKEN, source="env ALIBABA_CLOUD_*"))
ROLE = RoleSpec("acs:ram::1234567890123456:role/audit", "fcaudit-1", external_id="ext-id-secretish")


def every_source() -> list[CredentialSource]:
    return [
        KEYS,
        AssumedRole(KEYS, ROLE),
        AssumedRole(AssumedRole(KEYS, ROLE), RoleSpec("acs:ram::2222222222222222:role/b", "s2")),
        OidcRole(
            RoleSpec("acs:ram::1234567890123456:role/pod", "s"), "acs:ram::1:oidc-provider/ack", Path("/t")
        ),
        EcsRamRole("audit"),
        EcsRamRole(None),
        CredentialsUri(f"http://user:{SECRET}@127.0.0.1:9/creds?token={TOKEN}#{SECRET}"),
        ExternalProcess(f"get-creds --secret {SECRET}", "ext"),
    ]


@pytest.mark.parametrize("source", every_source(), ids=lambda s: type(s).__name__)
def test_describe_and_repr_hold_no_secret(source: CredentialSource) -> None:
    text = describe(source)
    for secret in (SECRET, TOKEN, "ext-id-secretish", "get-creds", "token="):
        assert secret not in text
        assert secret not in repr(source)
    assert text
    assert "\n" not in text


def test_describe_names_the_role_and_the_base() -> None:
    chained = AssumedRole(AssumedRole(KEYS, ROLE), RoleSpec("acs:ram::2222222222222222:role/b", "s2"))
    assert describe(chained) == (
        "role acs:ram::2222222222222222:role/b assumed with role acs:ram::1234567890123456:role/audit, "
        "with an external id assumed with env ALIBABA_CLOUD_* (access key LTAIkey)"
    )
    assert (
        describe(CredentialsUri("https://h:8443/v1/creds?x=1")) == "credentials URI https://h:8443/v1/creds"
    )


def test_sources_compare_by_value() -> None:
    """Equal sources are one identity: the run shares one provider per source."""
    same = AssumedRole(StaticKeys(Credentials("LTAIkey", SECRET, TOKEN, source="other")), ROLE)
    assert same == AssumedRole(KEYS, ROLE)
    assert hash(same) == hash(AssumedRole(KEYS, ROLE))
    assert AssumedRole(KEYS, ROLE) != AssumedRole(KEYS, RoleSpec(ROLE.role_arn, ROLE.session_name))


def test_only_static_keys_reach_the_crawl_for_now() -> None:
    assert static_credentials(KEYS) is KEYS.credentials
    with pytest.raises(CredentialsError, match="not yet supported") as caught:
        static_credentials(AssumedRole(KEYS, ROLE))
    assert SECRET not in caught.value.message
