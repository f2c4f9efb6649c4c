"""Typed, secret-safe settings for the mp platform.

One small class per service, each with its own environment prefix, read from the environment and
an env file found without relying on the working directory. Secrets are ``SecretStr`` and never
appear in a repr, a log line or an error.

Example:
    >>> from mp_config import RedisSettings
    >>> RedisSettings.load(env_file=None, port=6380).display_url()
    'redis://127.0.0.1:6380/0'
"""

from mp_config._app import AppSettings, StackBackend, StackSettings
from mp_config._backup import BackupSettings
from mp_config._base import SECRETS_DIR_VARIABLE, MpSettings
from mp_config._docker import docker_engine_available
from mp_config._env_file import ENV_FILE_VARIABLE, find_env_file
from mp_config._identifiers import validate_identifier
from mp_config._kafka import DEFAULT_KAFKA_PORT, KafkaSettings
from mp_config._mongo import DEFAULT_MONGO_PORT, MongoSettings
from mp_config._network import is_local_host
from mp_config._postgres import (
    DEFAULT_PG_DATABASE,
    DEFAULT_PG_HOST,
    DEFAULT_PG_PORT,
    DEFAULT_PG_USER,
    PostgresSettings,
    SslMode,
    TargetSessionAttrs,
)
from mp_config._redis import DEFAULT_REDIS_PORT, RateLimit, RedisMode, RedisSettings
from mp_config._registry import get_settings, reset_settings
from mp_config._s3 import DEFAULT_S3_PORT, S3Settings
from mp_config._version import __version__
from mp_config.exceptions import (
    ConfigError,
    EnvFileError,
    MissingDependencyError,
    SettingProblem,
    SettingsValidationError,
)

__all__ = [
    "DEFAULT_KAFKA_PORT",
    "DEFAULT_MONGO_PORT",
    "DEFAULT_PG_DATABASE",
    "DEFAULT_PG_HOST",
    "DEFAULT_PG_PORT",
    "DEFAULT_PG_USER",
    "DEFAULT_REDIS_PORT",
    "DEFAULT_S3_PORT",
    "ENV_FILE_VARIABLE",
    "SECRETS_DIR_VARIABLE",
    "AppSettings",
    "BackupSettings",
    "ConfigError",
    "EnvFileError",
    "KafkaSettings",
    "MissingDependencyError",
    "MongoSettings",
    "MpSettings",
    "PostgresSettings",
    "RateLimit",
    "RedisMode",
    "RedisSettings",
    "S3Settings",
    "SettingProblem",
    "SettingsValidationError",
    "SslMode",
    "StackBackend",
    "StackSettings",
    "TargetSessionAttrs",
    "__version__",
    "docker_engine_available",
    "find_env_file",
    "get_settings",
    "is_local_host",
    "reset_settings",
    "validate_identifier",
]
