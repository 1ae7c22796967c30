"""The FC 2.0 ``Authorization`` value built the plain way, for tests that sign by hand and for the
hot-path signer's oracle (the package itself signs through ``Fc2Signer``)."""

from __future__ import annotations

from collections.abc import Mapping

from crawler.wire.signing import fc2_signature


def fc2_authorization(
    access_key_id: str, secret: str, method: str, decoded_path: str, headers: Mapping[str, str]
) -> str:
    """The ``Authorization`` header value: ``FC {AccessKeyId}:{Signature}``."""
    return f"FC {access_key_id}:{fc2_signature(secret, method, decoded_path, headers)}"
