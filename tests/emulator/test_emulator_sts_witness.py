"""The emulator's RPC v1 (HMAC-SHA1) verifier held to an independent witness: the official RPC signer of
``alibabacloud-tea-openapi`` (``Utils.get_rpcsignature``), on random parameters, and the official client's
own RPC request path (``Client.do_rpcrequest``) assuming a role on the emulator's STS unchanged.

The emulator computes v1 in its own code (``crawler.emulator.auth``), and the tests' hand signer
(``identity_support.v1_signed_params``) was written from the same documentation; only a third party can
catch both being wrong the same way.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.client import Client
from alibabacloud_tea_openapi.utils import Utils as SdkUtils
from darabonba.runtime import RuntimeOptions
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.emulator.auth import rpc_v1_signature
from tests.support.identity_support import (
    IdentityEstate,
    IdentityEstateSpec,
    member_account,
    role_params,
    start_identity_estate,
)

#: characters POP's encoding treats specially (``~`` bare, ``*`` and space encoded, ``+``, ``/``, ``=``)
TRICKY = "+/=$~*% &?#@:;,'!()[]-_."
text = st.text(alphabet=string.ascii_letters + string.digits + TRICKY + "é中", min_size=1, max_size=24)
#: a request's own parameters: never ``Signature``, which a client adds after signing and a verifier
#: therefore leaves out of the string to sign (the official signer, given one, would sign it)
names = text.filter(lambda name: name != "Signature")


@settings(max_examples=300, deadline=None)
@given(
    params=st.dictionaries(names, text, min_size=1, max_size=8),
    method=st.sampled_from(["GET", "POST"]),
    secret=text,
)
def test_our_v1_signature_is_the_official_rpc_signers(
    params: dict[str, str], method: str, secret: str
) -> None:
    assert rpc_v1_signature(secret, method, params) == SdkUtils.get_rpcsignature(params, method, secret)


@pytest.fixture(scope="module")
def estate() -> Iterator[IdentityEstate]:
    with ExitStack() as stack:
        yield start_identity_estate(
            IdentityEstateSpec(members=1, emulators=False, external_id="audit:2026/x"), stack
        )


def official_client(estate: IdentityEstate, secret: str | None = None) -> Client:
    config = open_api_models.Config(
        access_key_id=estate.user.access_key_id,
        access_key_secret=secret or estate.user.access_key_secret,
        endpoint=estate.sts_endpoint.split("://", 1)[1],
        protocol="http",
        signature_algorithm="v2",  # RPC v1 HMAC-SHA1, as the credentials libraries sign STS
    )
    return Client(config)


def assume_with_official_client(estate: IdentityEstate, client: Client, **extra: str) -> Any:
    params = role_params(estate.role_arn(member_account(0)), session="sdk.witness@1", **extra)
    request = open_api_models.OpenApiRequest(query=params)
    return client.do_rpcrequest(
        "AssumeRole", "2015-04-01", "HTTP", "POST", "AK", "json", request, RuntimeOptions(autoretry=False)
    )


def test_the_official_rpc_client_assumes_a_role_on_the_emulator(estate: IdentityEstate) -> None:
    answer = assume_with_official_client(estate, official_client(estate), ExternalId="audit:2026/x")
    body = answer["body"]
    assert isinstance(body, dict)
    assert body["Credentials"]["AccessKeyId"].startswith("STS.")
    assert body["AssumedRoleUser"]["Arn"].endswith(":assumed-role/fcaudit-readonly/sdk.witness@1")


def test_the_official_rpc_client_with_a_wrong_secret_is_refused(estate: IdentityEstate) -> None:
    with pytest.raises(Exception, match="SignatureDoesNotMatch") as caught:
        assume_with_official_client(
            estate, official_client(estate, "not-the-secret"), ExternalId="audit:2026/x"
        )
    assert getattr(caught.value, "code", None) == "SignatureDoesNotMatch"
