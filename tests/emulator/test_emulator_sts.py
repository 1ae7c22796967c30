"""The emulator's STS and the FC gates' handling of the sessions it issues, over real loopback sockets.

STS is called the two ways real clients call it: RPC v1 (HMAC-SHA1, signed by the tests' own signer in
``identity_support``, as the official credentials libraries do) and ACS3 (signed by the crawler's
signer, as the generated SDK and fcaudit do). The FC side is called with FC 2.0 and FC 3.0 signatures
using the issued session credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import ssl
import subprocess
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crawler.emulator.server import EmulatorThread, IdentityThread
from crawler.wire.signing import acs3_authorization
from tests.support.emulator_support import Reply, get
from tests.support.fixtures import IdentityEstateFactory
from tests.support.identity_support import (
    CENTRAL_ACCOUNT,
    FakeWallClock,
    IdentityEstate,
    IdentityEstateSpec,
    acs3_sts_request,
    build_registry,
    credentials_of,
    member_account,
    role_params,
    v1_signed_params,
)

FC2_SERVICES = "/2016-08-15/services"
FC3_FUNCTIONS = "/2023-03-30/functions"


def http(
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    async def once() -> Reply:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.request(method, url, params=params, data=data, headers=headers) as resp,
        ):
            return Reply(resp.status, dict(resp.headers), await resp.read())

    return asyncio.run(once())


def sts_v1(
    estate: IdentityEstate,
    action: str,
    params: Mapping[str, str],
    *,
    key: tuple[str, str] | None = None,
    token: str | None = None,
    **sign: Any,
) -> Reply:
    key_id, secret = key or (estate.user.access_key_id, estate.user.access_key_secret)
    query = v1_signed_params(action, params, key_id, secret, token=token, **sign)
    return http("GET", estate.sts_endpoint + "/", params=query)


def sts_acs3(
    estate: IdentityEstate,
    action: str,
    params: Mapping[str, str],
    *,
    key: tuple[str, str] | None = None,
    token: str | None = None,
) -> Reply:
    key_id, secret = key or (estate.user.access_key_id, estate.user.access_key_secret)
    query, headers = acs3_sts_request(estate.sts_endpoint, action, params, key_id, secret, token=token)
    return http("POST", estate.sts_endpoint + "/", params=query, headers=headers)


def assume(estate: IdentityEstate, account: str, **extra: str) -> tuple[str, str, str]:
    reply = sts_v1(estate, "AssumeRole", role_params(estate.role_arn(account), **extra))
    assert reply.status == 200, reply.body
    return credentials_of(reply.json())


def fc3_get(emu: EmulatorThread, creds: tuple[str, str, str]) -> Reply:
    key_id, secret, token = creds
    host = emu.endpoint.split("://", 1)[1]
    headers = {
        "host": host,
        "x-acs-action": "ListFunctions",
        "x-acs-version": "2023-03-30",
        "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": "n" + str(time.monotonic_ns()),
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
        "x-acs-security-token": token,
    }
    headers["Authorization"] = acs3_authorization(key_id, secret, "GET", FC3_FUNCTIONS, [], headers)
    return http("GET", emu.endpoint + FC3_FUNCTIONS, headers=headers)


def fc2_get(emu: EmulatorThread, creds: tuple[str, str, str]) -> Reply:
    key_id, secret, token = creds
    return get(emu, FC2_SERVICES, key_id=key_id, secret=secret, token=token)


# --- AssumeRole and GetCallerIdentity, both signatures ------------------------------------------------
def test_assume_role_with_a_v1_signature_issues_session_credentials(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    account = member_account(0)
    before = time.time()
    reply = sts_v1(estate, "AssumeRole", role_params(estate.role_arn(account), DurationSeconds="1800"))
    assert reply.status == 200, reply.body
    body = reply.json()
    assert set(body) == {"RequestId", "Credentials", "AssumedRoleUser"}
    creds = body["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    assert creds["SecurityToken"]
    assert creds["AccessKeySecret"]
    expires = datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert before + 1800 - 2 <= expires <= time.time() + 1800
    assert body["AssumedRoleUser"]["Arn"] == f"acs:ram::{account}:assumed-role/fcaudit-readonly/fcaudit-test"
    assert estate.registry.assumed[estate.role_arn(account)] == 1


def test_get_caller_identity_answers_the_user_then_the_assumed_role(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    mine = sts_acs3(estate, "GetCallerIdentity", {})
    assert mine.status == 200, mine.body
    assert mine.json()["AccountId"] == CENTRAL_ACCOUNT
    assert mine.json()["IdentityType"] == "RAMUser"
    assert mine.json()["Arn"] == f"acs:ram::{CENTRAL_ACCOUNT}:user/auditor"
    key_id, secret, token = assume(estate, member_account(0))
    theirs = sts_v1(estate, "GetCallerIdentity", {}, key=(key_id, secret), token=token)
    assert theirs.status == 200, theirs.body
    assert theirs.json()["AccountId"] == member_account(0)
    assert theirs.json()["IdentityType"] == "AssumedRoleUser"
    acs3 = sts_acs3(estate, "GetCallerIdentity", {}, key=(key_id, secret), token=token)
    assert acs3.json()["Arn"] == theirs.json()["Arn"]


def test_assume_role_with_an_acs3_signature_from_the_crawlers_signer(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False, external_id="ext-1"))
    params = role_params(estate.role_arn(member_account(0)), ExternalId="ext-1")
    reply = sts_acs3(estate, "AssumeRole", params)
    assert reply.status == 200, reply.body
    assert reply.json()["Credentials"]["AccessKeyId"].startswith("STS.")


@pytest.mark.parametrize("style", ["v1", "acs3"])
def test_a_wrong_secret_is_signature_does_not_match_and_an_unknown_key_404(
    identity_estate: IdentityEstateFactory, style: str
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    call = sts_v1 if style == "v1" else sts_acs3
    params = role_params(estate.role_arn(member_account(0)))
    wrong = call(estate, "AssumeRole", params, key=(estate.user.access_key_id, "not-the-secret"))
    assert (wrong.status, wrong.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert set(wrong.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    unknown = call(estate, "AssumeRole", params, key=("LTAInobodyhasthiskey", "x"))
    assert (unknown.status, unknown.json()["Code"]) == (404, "InvalidAccessKeyId.NotFound")
    assert estate.registry.assumed == {}


def test_v1_refuses_a_replayed_nonce_a_skewed_timestamp_and_a_missing_signature(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    params = role_params(estate.role_arn(member_account(0)))
    assert sts_v1(estate, "AssumeRole", params, nonce="same-nonce").status == 200
    replay = sts_v1(estate, "AssumeRole", params, nonce="same-nonce")
    assert replay.json()["Code"] == "SignatureNonceUsed"
    skewed = sts_v1(estate, "AssumeRole", params, timestamp="2020-01-01T00:00:00Z")
    assert skewed.json()["Code"] == "InvalidTimeStamp.Expired"
    unsigned = http(
        "GET", estate.sts_endpoint + "/", params={"Action": "AssumeRole", "Version": "2015-04-01"}
    )
    assert (unsigned.status, unsigned.json()["Code"]) == (400, "IncompleteSignature")
    # what was signed is what must arrive: a parameter changed after signing breaks the signature
    query = v1_signed_params("AssumeRole", params, estate.user.access_key_id, estate.user.access_key_secret)
    query["RoleSessionName"] = "someone-else"
    tampered = http("GET", estate.sts_endpoint + "/", params=query)
    assert tampered.json()["Code"] == "SignatureDoesNotMatch"


def test_v1_signed_post_form_is_accepted_as_the_go_library_sends_it(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    form = v1_signed_params(
        "AssumeRole",
        role_params(estate.role_arn(member_account(0))),
        estate.user.access_key_id,
        estate.user.access_key_secret,
        method="POST",
    )
    reply = http("POST", estate.sts_endpoint + "/", data=form)
    assert reply.status == 200, reply.body


def test_wrong_action_version_or_format_are_refused(identity_estate: IdentityEstateFactory) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    assert sts_v1(estate, "DeleteRole", {}).json()["Code"] == "InvalidAction.NotFound"
    assert sts_v1(estate, "GetCallerIdentity", {"Version": "2014-01-01"}).json()["Code"] == "InvalidVersion"
    assert sts_v1(estate, "GetCallerIdentity", {"Format": "XML"}).json()["Code"] == "InvalidParameter.Format"
    missing = sts_v1(estate, "AssumeRole", {"RoleSessionName": "x1"})
    assert (missing.status, missing.json()["Code"]) == (400, "MissingParameter.RoleArn")


# --- trust, external id, durations -------------------------------------------------------------------
def test_an_untrusted_role_or_a_wrong_external_id_is_403_no_permission(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(
        IdentityEstateSpec(members=2, emulators=False, external_id="audit-2026", untrusted=frozenset({1}))
    )
    trusted, untrusted = member_account(0), member_account(1)
    ok = sts_v1(estate, "AssumeRole", role_params(estate.role_arn(trusted), ExternalId="audit-2026"))
    assert ok.status == 200, ok.body
    for arn, extra in (
        (estate.role_arn(untrusted), {"ExternalId": "audit-2026"}),
        (estate.role_arn(trusted), {"ExternalId": "audit-2025"}),
        (estate.role_arn(trusted), {}),
    ):
        refused = sts_v1(estate, "AssumeRole", role_params(arn, **extra))
        assert (refused.status, refused.json()["Code"]) == (403, "NoPermission")
    assert estate.registry.refused["NoPermission"] == 3
    assert estate.registry.assumed == {estate.role_arn(trusted): 1}


def test_unknown_roles_bad_names_and_durations_are_refused(identity_estate: IdentityEstateFactory) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    arn = estate.role_arn(member_account(0))
    cases = [
        (role_params(f"acs:ram::{member_account(5)}:role/fcaudit-readonly"), 404, "EntityNotExist.Role"),
        (role_params("arn:aws:iam::1:role/x"), 400, "InvalidParameter.RoleArn"),
        (role_params(arn, session="a b"), 400, "InvalidParameter.RoleSessionName"),
        (role_params(arn, DurationSeconds="899"), 400, "InvalidParameter.DurationSeconds"),
        (role_params(arn, DurationSeconds="3601"), 400, "InvalidParameter.DurationSeconds"),
        (role_params(arn, DurationSeconds="soon"), 400, "InvalidParameter.DurationSeconds"),
    ]
    for params, status, code in cases:
        reply = sts_v1(estate, "AssumeRole", params)
        assert (reply.status, reply.json()["Code"]) == (status, code), params


def test_a_role_session_may_assume_a_role_that_trusts_its_role(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False))
    first = estate.roles[member_account(0)]
    second = estate.registry.add_role(member_account(1), "second-hop", trusted=(first,))
    key_id, secret, token = assume(estate, member_account(0))
    hop = sts_v1(estate, "AssumeRole", role_params(second.arn), key=(key_id, secret), token=token)
    assert hop.status == 200, hop.body
    assert hop.json()["AssumedRoleUser"]["Arn"].startswith(f"acs:ram::{member_account(1)}:assumed-role/")
    # the user itself is not trusted by the second role
    direct = sts_v1(estate, "AssumeRole", role_params(second.arn))
    assert direct.json()["Code"] == "NoPermission"
    # a session's token is part of its credentials
    forged = sts_v1(estate, "AssumeRole", role_params(second.arn), key=(key_id, secret), token="CAISforged")
    assert forged.json()["Code"] == "InvalidSecurityToken.MismatchWithAccessKey"


def test_the_emulator_override_sets_session_lifetimes_in_seconds(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False, session_seconds=20))
    before = time.time()
    reply = sts_v1(
        estate, "AssumeRole", role_params(estate.role_arn(member_account(0)), DurationSeconds="3600")
    )
    expiration = reply.json()["Credentials"]["Expiration"]
    expires = datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert before + 18 <= expires <= time.time() + 20


# --- throttling ---------------------------------------------------------------------------------------
def test_sts_throttles_per_calling_account(identity_estate: IdentityEstateFactory) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, emulators=False, sts_rate=0.5))
    params = role_params(estate.role_arn(member_account(0)))
    assert sts_v1(estate, "AssumeRole", params).status == 200
    throttled = sts_v1(estate, "AssumeRole", params)
    assert (throttled.status, throttled.json()["Code"]) == (400, "Throttling")
    assert estate.registry.refused["Throttling"] == 1
    # another calling account has its own budget
    other = estate.registry.add_user(member_account(7), "other")
    reply = sts_v1(estate, "GetCallerIdentity", {}, key=(other.access_key_id, other.access_key_secret))
    assert reply.status == 200


# --- the FC side --------------------------------------------------------------------------------------
def test_fc_accepts_a_session_for_its_own_account_only(identity_estate: IdentityEstateFactory) -> None:
    estate = identity_estate(IdentityEstateSpec(members=2))
    mine, other = (estate.members[member_account(i)] for i in (0, 1))
    creds = assume(estate, member_account(0))
    assert fc2_get(mine, creds).status == 200
    assert fc3_get(mine, creds).status == 200
    refused = fc2_get(other, creds)
    assert (refused.status, refused.code) == (403, "AccessDenied")
    assert member_account(0) in refused.json()["ErrorMessage"]
    refused3 = fc3_get(other, creds)
    assert (refused3.status, refused3.json()["Code"]) == (403, "AccessDenied")
    # the central user's own keys are not a member account's either
    user = get(mine, FC2_SERVICES, key_id=estate.user.access_key_id, secret=estate.user.access_key_secret)
    assert (user.status, user.code) == (403, "AccessDenied")


def test_fc_refuses_a_session_after_its_expiry_with_invalid_security_token_expired(
    identity_estate: IdentityEstateFactory,
) -> None:
    clock = FakeWallClock()
    estate = identity_estate(IdentityEstateSpec(members=1), wall_clock=clock)
    emu = estate.members[member_account(0)]
    creds = assume(estate, member_account(0), DurationSeconds="900")
    clock.advance(899)
    assert fc2_get(emu, creds).status == 200
    clock.advance(1)
    expired = fc2_get(emu, creds)
    assert (expired.status, expired.json()) == (
        403,
        {"ErrorCode": "InvalidSecurityToken.Expired", "ErrorMessage": "the security token has expired"},
    )
    expired3 = fc3_get(emu, creds)
    assert (expired3.status, expired3.json()["Code"]) == (403, "InvalidSecurityToken.Expired")
    # a fresh session works again
    assert fc2_get(emu, assume(estate, member_account(0))).status == 200


def test_fc_refuses_a_session_key_with_a_missing_or_foreign_token(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1))
    emu = estate.members[member_account(0)]
    key_id, secret, token = assume(estate, member_account(0))
    _, _, other_token = assume(estate, member_account(0))
    assert fc2_get(emu, (key_id, secret, other_token)).code == "InvalidSecurityToken"
    assert fc3_get(emu, (key_id, secret, other_token)).json()["Code"] == "InvalidSecurityToken.Mismatch"
    missing = get(emu, FC2_SERVICES, key_id=key_id, secret=secret)
    assert missing.code == "InvalidSecurityToken"
    wrong_secret = fc2_get(emu, (key_id, "not-the-secret", token))
    assert wrong_secret.code == "SignatureNotMatch"


def test_stats_of_sts_count_calls_by_action_and_role(identity_estate: IdentityEstateFactory) -> None:
    estate = identity_estate(IdentityEstateSpec(members=2, emulators=False))
    for account in (member_account(0), member_account(0), member_account(1)):
        assume(estate, account)
    sts_v1(estate, "GetCallerIdentity", {})
    stats = http("GET", estate.sts_endpoint + "/_emulator/stats").json()
    assert stats["calls"] == {"AssumeRole": 3, "GetCallerIdentity": 1}
    assert stats["assumed"] == {estate.role_arn(member_account(0)): 2, estate.role_arn(member_account(1)): 1}


# --- over TLS: the official credentials libraries only speak https to STS ----------------------------
def test_sts_serves_https_with_a_given_certificate(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a throwaway certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    registry, user, _ = build_registry(IdentityEstateSpec(members=1, emulators=False))
    query = v1_signed_params("GetCallerIdentity", {}, user.access_key_id, user.access_key_secret)

    async def call(endpoint: str) -> Reply:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                endpoint + "/", params=query, ssl=ssl.create_default_context(cafile=str(cert))
            ) as resp,
        ):
            return Reply(resp.status, dict(resp.headers), await resp.read())

    with IdentityThread(registry, sts_ssl=server) as identity:
        assert identity.sts_endpoint.startswith("https://127.0.0.1:")
        reply = asyncio.run(call(identity.sts_endpoint))
    assert (reply.status, reply.json()["AccountId"]) == (200, CENTRAL_ACCOUNT)
