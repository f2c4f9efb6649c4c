"""MongoDB, Kafka, S3 and app settings."""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit

import pytest

from mp_config import (
    AppSettings,
    KafkaSettings,
    MongoSettings,
    S3Settings,
    SettingsValidationError,
    StackSettings,
)


def test_mongo_url_encodes_credentials() -> None:
    """User and password with URL-special characters are percent-encoded and round-trip."""
    settings = MongoSettings.load(user="ops@desk", password="p:w/d@#%")
    parts = urlsplit(settings.url().get_secret_value())
    assert parts.password is not None
    assert unquote_plus(parts.password) == "p:w/d@#%"
    assert unquote_plus(parts.username or "") == "ops@desk"
    assert "p:w/d" not in settings.display_url()


def test_mongo_remote_needs_tls() -> None:
    """A remote MongoDB without TLS is refused."""
    with pytest.raises(SettingsValidationError, match="MP_MONGO_TLS"):
        MongoSettings.load(host="mongo.example.com")


def test_kafka_client_config() -> None:
    """The client configuration carries SASL options when they are set."""
    settings = KafkaSettings.load(
        bootstrap_servers="kafka1.example:9093,kafka2.example:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="mp",
        sasl_password="pw",
    )
    config = settings.client_config()
    assert config["bootstrap.servers"] == "kafka1.example:9093,kafka2.example:9093"
    assert config["sasl.password"] == "pw"
    assert settings.servers() == [("kafka1.example", 9093), ("kafka2.example", 9093)]


def test_kafka_remote_plaintext_is_refused() -> None:
    """A remote broker reached in plaintext is refused."""
    with pytest.raises(SettingsValidationError, match="MP_KAFKA_SECURITY_PROTOCOL"):
        KafkaSettings.load(bootstrap_servers="kafka.example:9092")


def test_kafka_needs_a_server() -> None:
    """An empty bootstrap list is reported."""
    with pytest.raises(SettingsValidationError, match="MP_KAFKA_BOOTSTRAP_SERVERS"):
        KafkaSettings.load(bootstrap_servers=" , ")


def test_s3_endpoint_rules() -> None:
    """Plain http is fine on loopback, refused elsewhere, and credentials stay out of URLs."""
    assert S3Settings.load().endpoint_url.startswith("http://127.0.0.1")
    with pytest.raises(SettingsValidationError, match="MP_S3_ENDPOINT_URL"):
        S3Settings.load(endpoint_url="http://s3.example.com")
    with pytest.raises(SettingsValidationError, match="MP_S3_ENDPOINT_URL"):
        S3Settings.load(endpoint_url="https://key:secret@s3.example.com")
    assert S3Settings.load(endpoint_url="https://s3.example.com/").endpoint_url == (
        "https://s3.example.com"
    )


def test_app_and_stack_settings_validate_choices() -> None:
    """Enumerated settings reject values outside their list, naming the variable."""
    assert AppSettings.load().environment == "dev"
    with pytest.raises(SettingsValidationError, match="MP_ENVIRONMENT"):
        AppSettings.load(environment="staging")
    with pytest.raises(SettingsValidationError, match="MP_STACK_BACKEND"):
        StackSettings.load(backend="kubernetes")
