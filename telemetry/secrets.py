"""Secrets read at run time from SSM Parameter Store and Secrets Manager.

The deployment keeps the Sentry DSN and the Jira token out of plaintext environment variables:
the environment names where they are, and these functions fetch them. The values are never
logged or traced; errors name the setting, not the value.
"""

from __future__ import annotations

import logging

from botocore.config import Config
from opentelemetry.instrumentation.utils import suppress_instrumentation

from telemetry.phi import PhiSafeError

logger = logging.getLogger(__name__)

# Secrets are read at cold start, so the calls are bounded well under a function's timeout.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"})


class SecretUnavailableError(PhiSafeError, RuntimeError):
    """A configured secret could not be read. The message names the setting only."""


def read_ssm_parameter(name: str) -> str:
    """Return a decrypted SSM parameter's value."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    # Untraced: the read happens at module import, outside any invocation.
    with suppress_instrumentation():
        try:
            response = boto3.client("ssm", config=CLIENT_CONFIG).get_parameter(Name=name, WithDecryption=True)
        except (BotoCoreError, ClientError) as error:
            raise SecretUnavailableError(f"SSM parameter {name} could not be read: {type(error).__name__}") from None
    return str(response["Parameter"]["Value"])


def read_secret(name: str) -> str:
    """Return a Secrets Manager secret's SecretString."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = boto3.client("secretsmanager", config=CLIENT_CONFIG).get_secret_value(SecretId=name)
    except (BotoCoreError, ClientError) as error:
        raise SecretUnavailableError(f"secret {name} could not be read: {type(error).__name__}") from None
    secret = response.get("SecretString")
    if not isinstance(secret, str):
        raise SecretUnavailableError(f"secret {name} has no SecretString")
    return secret
