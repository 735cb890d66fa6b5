"""The stack's Label Studio server: its URL from the environment, its API token from Secrets Manager.

The token never sits in an environment variable or a log: the functions read the secret named by
LABEL_STUDIO_TOKEN_SECRET_ARN (Powertools caches it for five minutes, so a rotated token is picked up). The secret
holds the token itself, or JSON with a `token` key.
"""

from __future__ import annotations

import os

import orjson

from groundcrew.workforces.labelstudio.client import LabelStudioClient, LabelStudioError

SECRET_CACHE_SECONDS = 300


class LabelStudioNotConfigured(LabelStudioError):
    """The stack was deployed without a Label Studio server, or its secret holds no token."""


def token_from_secret(secret: str) -> str:
    text = secret.strip()
    if text.startswith("{"):
        try:
            token = orjson.loads(text).get("token")
        except (orjson.JSONDecodeError, AttributeError):
            token = None
        if not isinstance(token, str) or not token.strip():
            raise LabelStudioNotConfigured("the Label Studio token secret is JSON without a string 'token' key")
        return token.strip()
    if not text:
        raise LabelStudioNotConfigured("the Label Studio token secret is empty; store the API token in it")
    return text


def client_from_environment() -> LabelStudioClient:
    """A client for LABEL_STUDIO_URL with the token of LABEL_STUDIO_TOKEN_SECRET_ARN."""
    url = os.environ.get("LABEL_STUDIO_URL", "")
    secret_arn = os.environ.get("LABEL_STUDIO_TOKEN_SECRET_ARN", "")
    if not url or not secret_arn:
        raise LabelStudioNotConfigured(
            "this project's workforce is labelstudio but the stack has no Label Studio server: deploy it with the "
            "LabelStudioUrl and LabelStudioTokenSecretArn parameters (sam deploy --guided asks for both)"
        )
    from aws_lambda_powertools.utilities import parameters  # only these functions read secrets

    secret = parameters.get_secret(secret_arn, max_age=SECRET_CACHE_SECONDS)
    text = secret.decode() if isinstance(secret, bytes) else str(secret)
    return LabelStudioClient(url, token_from_secret(text))
