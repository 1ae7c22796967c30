"""The emulator's other identity sources over loopback: AssumeRoleWithOIDC with a token file that
rotates, the ECS metadata server (IMDSv2 token, then role credentials that rotate; IMDSv1 allowed or
refused) and a credentials-URI server; what they hand out works on the role's FC account."""

from __future__ import annotations

from pathlib import Path

from tests.emulator.test_emulator_sts import fc2_get, http
from tests.support.fixtures import IdentityEstateFactory
from tests.support.identity_support import FakeWallClock, IdentityEstateSpec, member_account

TOKEN = "/latest/api/token"
CREDS = "/latest/meta-data/ram/security-credentials/"
TTL = "X-aliyun-ecs-metadata-token-ttl-seconds"
HEADER = "X-aliyun-ecs-metadata-token"


def test_assume_role_with_oidc_reads_the_token_the_provider_accepts(
    identity_estate: IdentityEstateFactory, tmp_path: Path
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1))
    account = member_account(0)
    provider = estate.registry.add_oidc_provider(account, "ack-rrsa", tokens=["eyJ.first.token"])
    role = estate.registry.add_role(account, "pod-auditor", trusted=(provider,))
    token_file = tmp_path / "token"
    token_file.write_text("eyJ.first.token")

    def oidc(arn: str = role.arn, provider_arn: str = provider) -> tuple[int, dict[str, object]]:
        form = {
            "Action": "AssumeRoleWithOIDC",
            "Version": "2015-04-01",
            "Format": "JSON",
            "RoleArn": arn,
            "OIDCProviderArn": provider_arn,
            "OIDCToken": token_file.read_text(),
            "RoleSessionName": "fcaudit-pod",
        }
        reply = http("POST", estate.sts_endpoint + "/", data=form)  # anonymous: no signature at all
        return reply.status, reply.json()

    status, body = oidc()
    assert status == 200, body
    creds = body["Credentials"]
    assert isinstance(creds, dict)
    issued = (creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"])
    assert fc2_get(estate.members[account], issued).status == 200
    # the kubelet rotates the file: a token the provider has not issued is refused until it accepts it
    token_file.write_text("eyJ.second.token")
    assert oidc()[1]["Code"] == "AuthenticationFail.OIDCToken.Invalid"
    estate.registry.accept_oidc_token(provider, "eyJ.second.token")
    assert oidc()[0] == 200
    # the user's role does not trust the provider; an unknown provider does not exist
    assert oidc(arn=estate.role_arn(account))[1]["Code"] == "NoPermission"
    assert oidc(provider_arn=provider + "x")[1]["Code"] == "EntityNotExist.OIDCProvider"
    assert estate.registry.calls["AssumeRoleWithOIDC"] == 2


def test_imdsv2_token_then_role_name_then_credentials_that_rotate(
    identity_estate: IdentityEstateFactory,
) -> None:
    clock = FakeWallClock()
    estate = identity_estate(IdentityEstateSpec(members=1, imds=True, session_seconds=60), wall_clock=clock)
    base = estate.identity.metadata_url
    assert base is not None
    token = http("PUT", base + TOKEN, headers={TTL: "30"})
    assert token.status == 200
    headers = {HEADER: token.body.decode()}
    name = http("GET", base + CREDS, headers=headers)
    assert (name.status, name.body) == (200, b"ecs-auditor")
    first = http("GET", base + CREDS + "ecs-auditor", headers=headers).json()
    assert first["Code"] == "Success"
    assert set(first) == {
        "Code",
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
        "LastUpdated",
    }
    emu = estate.members[member_account(0)]
    as_tuple = (first["AccessKeyId"], first["AccessKeySecret"], first["SecurityToken"])
    assert fc2_get(emu, as_tuple).status == 200
    clock.advance(20)  # within the token's 30 s, more than a third of the session left: the same ones
    assert http("GET", base + CREDS + "ecs-auditor", headers=headers).json() == first
    clock.advance(11)  # the metadata token expired
    assert http("GET", base + CREDS, headers=headers).status == 401
    headers = {HEADER: http("PUT", base + TOKEN, headers={TTL: "21600"}).body.decode()}
    clock.advance(10)  # 41 s into a 60 s session: less than a third left, so new credentials
    second = http("GET", base + CREDS + "ecs-auditor", headers=headers).json()
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert fc2_get(emu, as_tuple).status == 200  # the old ones still work until their own expiry
    clock.advance(20)
    assert fc2_get(emu, as_tuple).code == "InvalidSecurityToken.Expired"
    assert estate.imds is not None
    assert estate.imds.rotation.rotations == 1
    assert http("GET", base + CREDS + "another-role", headers=headers).status == 404


def test_imds_refuses_bad_ttls_bad_tokens_and_imdsv1_when_told(
    identity_estate: IdentityEstateFactory,
) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, imds=True, imdsv1=False, emulators=False))
    base = estate.identity.metadata_url
    assert base is not None
    for ttl in ({}, {TTL: "0"}, {TTL: "21601"}, {TTL: "soon"}):
        assert http("PUT", base + TOKEN, headers=ttl).status == 400
    assert http("GET", base + CREDS).status == 403  # IMDSv1 refused
    assert http("GET", base + CREDS, headers={HEADER: "made-up"}).status == 401


def test_imdsv1_is_answered_when_allowed(identity_estate: IdentityEstateFactory) -> None:
    estate = identity_estate(IdentityEstateSpec(members=1, imds=True, emulators=False))
    base = estate.identity.metadata_url
    assert base is not None
    assert http("GET", base + CREDS + "ecs-auditor").json()["Code"] == "Success"


def test_credentials_uri_answers_rotating_credentials_to_the_right_query(
    identity_estate: IdentityEstateFactory,
) -> None:
    clock = FakeWallClock()
    spec = IdentityEstateSpec(
        members=1, uri=True, uri_query={"secret": "s3cr3t"}, session_seconds=30, rotate_ahead=5
    )
    estate = identity_estate(spec, wall_clock=clock)
    uri = estate.identity.credentials_uri
    assert uri is not None
    assert http("GET", uri).status == 403
    assert http("GET", uri, params={"secret": "wrong"}).status == 403
    first = http("GET", uri, params={"secret": "s3cr3t"}).json()
    assert set(first) == {"Code", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}
    emu = estate.members[member_account(0)]
    assert (
        fc2_get(emu, (first["AccessKeyId"], first["AccessKeySecret"], first["SecurityToken"])).status == 200
    )
    clock.advance(24)
    assert http("GET", uri, params={"secret": "s3cr3t"}).json() == first
    clock.advance(2)  # 4 s left, under rotate_ahead
    assert http("GET", uri, params={"secret": "s3cr3t"}).json()["AccessKeyId"] != first["AccessKeyId"]
