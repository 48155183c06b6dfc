"""Secrets from SSM Parameter Store and Secrets Manager, against moto."""

from __future__ import annotations

import boto3
import pytest

from handlers.jira_client import JiraConfig, JiraConfigError
from handlers.local.runner import LocalRun
from telemetry.secrets import SecretUnavailableError, read_secret, read_ssm_parameter


def test_ssm_parameter_read_decrypted(local_run: LocalRun) -> None:
    boto3.client("ssm").put_parameter(Name="/clinisight/test-dsn", Value="http://key@127.0.0.1:9/1",
                                      Type="SecureString", Overwrite=True)
    assert read_ssm_parameter("/clinisight/test-dsn") == "http://key@127.0.0.1:9/1"


def test_missing_parameter_names_setting_only(local_run: LocalRun) -> None:
    with pytest.raises(SecretUnavailableError) as raised:
        read_ssm_parameter("/clinisight/missing")
    assert str(raised.value) == "SSM parameter /clinisight/missing could not be read: ParameterNotFound"


def test_jira_token_from_secret(local_run: LocalRun) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="clinisight/test-jira-token", SecretString="token-from-secret")
    config = JiraConfig.from_env({"JIRA_BASE_URL": "https://example.atlassian.net", "JIRA_EMAIL": "agent@example.com",
                                  "JIRA_API_TOKEN_SECRET": "clinisight/test-jira-token"})
    assert config.api_token == "token-from-secret"
    assert "token-from-secret" not in repr(config)
    assert read_secret("clinisight/test-jira-token") == "token-from-secret"


def test_jira_missing_token_names_settings(local_run: LocalRun) -> None:
    with pytest.raises(JiraConfigError, match=r"JIRA_API_TOKEN \(or JIRA_API_TOKEN_SECRET\)"):
        JiraConfig.from_env({"JIRA_BASE_URL": "https://example.atlassian.net", "JIRA_EMAIL": "agent@example.com"})
    with pytest.raises(JiraConfigError, match="Jira token unavailable: secret clinisight/none could not be read"):
        JiraConfig.from_env({"JIRA_BASE_URL": "https://example.atlassian.net", "JIRA_EMAIL": "agent@example.com",
                             "JIRA_API_TOKEN_SECRET": "clinisight/none"})
