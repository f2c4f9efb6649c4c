"""The point-in-time schema: 3 metadata tables, 7 fact hypertables, feature bookkeeping.

Written from the models with autogenerate, then frozen: later schema changes go into new
migrations. Hypertable and compression DDL (which autogenerate never sees) is literal SQL, as
the fact specs rendered it when this migration was written, so editing a spec or a builder can
never change what this migration does (a test pins this file's contents).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS mp")
    op.create_table(
        "data_sources",
        sa.Column("source_id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("vintage_capability", sa.String(length=32), nullable=False),
        sa.Column(
            "timezone", sa.String(length=64), server_default=sa.text("'UTC'"), nullable=False
        ),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("terms", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "code ~ '^[a-z][a-z0-9_]{0,63}$'", name=op.f("ck_data_sources_code_format")
        ),
        sa.CheckConstraint(
            "source_type IN ('central_bank', 'statistics_office', 'exchange', 'regulator', 'international_organisation', 'vendor', 'internal')",
            name=op.f("ck_data_sources_source_type_enum"),
        ),
        sa.CheckConstraint(
            "timezone ~ '^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$'",
            name=op.f("ck_data_sources_timezone_format"),
        ),
        sa.CheckConstraint(
            "vintage_capability IN ('full', 'first_and_latest', 'latest_only', 'not_revised')",
            name=op.f("ck_data_sources_vintage_capability_enum"),
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_data_sources")),
        sa.UniqueConstraint("code", name=op.f("uq_data_sources_code")),
        schema="mp",
    )
    op.create_table(
        "instruments",
        sa.Column("instrument_id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("asset_class", sa.String(length=32), nullable=False),
        sa.Column("instrument_type", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("exchange_mic", sa.String(length=4), nullable=True),
        sa.Column("figi", sa.String(length=12), nullable=True),
        sa.Column("isin", sa.String(length=12), nullable=True),
        sa.Column(
            "vendor_codes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delisted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "asset_class IN ('equity', 'fixed_income', 'rates', 'fx', 'commodity', 'credit', 'crypto', 'volatility', 'multi_asset')",
            name=op.f("ck_instruments_asset_class_enum"),
        ),
        sa.CheckConstraint(
            "country IN ('AD', 'AE', 'AF', 'AG', 'AI', 'AL', 'AM', 'AO', 'AQ', 'AR', 'AS', 'AT', 'AU', 'AW', 'AX', 'AZ', 'BA', 'BB', 'BD', 'BE', 'BF', 'BG', 'BH', 'BI', 'BJ', 'BL', 'BM', 'BN', 'BO', 'BQ', 'BR', 'BS', 'BT', 'BV', 'BW', 'BY', 'BZ', 'CA', 'CC', 'CD', 'CF', 'CG', 'CH', 'CI', 'CK', 'CL', 'CM', 'CN', 'CO', 'CR', 'CU', 'CV', 'CW', 'CX', 'CY', 'CZ', 'DE', 'DJ', 'DK', 'DM', 'DO', 'DZ', 'EC', 'EE', 'EG', 'EH', 'ER', 'ES', 'ET', 'EU', 'EZ', 'FI', 'FJ', 'FK', 'FM', 'FO', 'FR', 'GA', 'GB', 'GD', 'GE', 'GF', 'GG', 'GH', 'GI', 'GL', 'GM', 'GN', 'GP', 'GQ', 'GR', 'GS', 'GT', 'GU', 'GW', 'GY', 'HK', 'HM', 'HN', 'HR', 'HT', 'HU', 'ID', 'IE', 'IL', 'IM', 'IN', 'IO', 'IQ', 'IR', 'IS', 'IT', 'JE', 'JM', 'JO', 'JP', 'KE', 'KG', 'KH', 'KI', 'KM', 'KN', 'KP', 'KR', 'KW', 'KY', 'KZ', 'LA', 'LB', 'LC', 'LI', 'LK', 'LR', 'LS', 'LT', 'LU', 'LV', 'LY', 'MA', 'MC', 'MD', 'ME', 'MF', 'MG', 'MH', 'MK', 'ML', 'MM', 'MN', 'MO', 'MP', 'MQ', 'MR', 'MS', 'MT', 'MU', 'MV', 'MW', 'MX', 'MY', 'MZ', 'NA', 'NC', 'NE', 'NF', 'NG', 'NI', 'NL', 'NO', 'NP', 'NR', 'NU', 'NZ', 'OM', 'PA', 'PE', 'PF', 'PG', 'PH', 'PK', 'PL', 'PM', 'PN', 'PR', 'PS', 'PT', 'PW', 'PY', 'QA', 'RE', 'RO', 'RS', 'RU', 'RW', 'SA', 'SB', 'SC', 'SD', 'SE', 'SG', 'SH', 'SI', 'SJ', 'SK', 'SL', 'SM', 'SN', 'SO', 'SR', 'SS', 'ST', 'SV', 'SX', 'SY', 'SZ', 'TC', 'TD', 'TF', 'TG', 'TH', 'TJ', 'TK', 'TL', 'TM', 'TN', 'TO', 'TR', 'TT', 'TV', 'TW', 'TZ', 'UA', 'UG', 'UM', 'US', 'UY', 'UZ', 'VA', 'VC', 'VE', 'VG', 'VI', 'VN', 'VU', 'WF', 'WS', 'XW', 'YE', 'YT', 'ZA', 'ZM', 'ZW')",
            name=op.f("ck_instruments_country_enum"),
        ),
        sa.CheckConstraint(
            "currency IN ('AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN', 'BHD', 'BIF', 'BMD', 'BND', 'BOB', 'BOV', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHE', 'CHF', 'CHW', 'CLF', 'CLP', 'CNY', 'COP', 'COU', 'CRC', 'CUC', 'CUP', 'CVE', 'CZK', 'DJF', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS', 'GIP', 'GMD', 'GNF', 'GTQ', 'GYD', 'HKD', 'HNL', 'HRK', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IQD', 'IRR', 'ISK', 'JMD', 'JOD', 'JPY', 'KES', 'KGS', 'KHR', 'KMF', 'KPW', 'KRW', 'KWD', 'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL', 'LYD', 'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MXV', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK', 'NPR', 'NZD', 'OMR', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'PYG', 'QAR', 'RON', 'RSD', 'RUB', 'RWF', 'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SLL', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL', 'THB', 'TJS', 'TMT', 'TND', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'UGX', 'USD', 'USN', 'UYI', 'UYU', 'UYW', 'UZS', 'VED', 'VES', 'VND', 'VUV', 'WST', 'XAF', 'XAG', 'XAU', 'XBA', 'XBB', 'XBC', 'XBD', 'XCD', 'XDR', 'XOF', 'XPD', 'XPF', 'XPT', 'XSU', 'XTS', 'XUA', 'XXX', 'YER', 'ZAR', 'ZMW', 'ZWL')",
            name=op.f("ck_instruments_currency_enum"),
        ),
        sa.CheckConstraint(
            "exchange_mic ~ '^[A-Z0-9]{4}$'", name=op.f("ck_instruments_exchange_mic_format")
        ),
        sa.CheckConstraint(
            "figi ~ '^[A-Z0-9]{2}G[A-Z0-9]{8}[0-9]$'", name=op.f("ck_instruments_figi_format")
        ),
        sa.CheckConstraint(
            "instrument_type IN ('stock', 'etf', 'fund', 'index', 'future', 'option', 'bond', 'bill', 'swap', 'fx_spot', 'fx_forward', 'interest_rate', 'cds', 'crypto_spot')",
            name=op.f("ck_instruments_instrument_type_enum"),
        ),
        sa.CheckConstraint(
            "isin ~ '^[A-Z]{2}[A-Z0-9]{9}[0-9]$'", name=op.f("ck_instruments_isin_format")
        ),
        sa.CheckConstraint(
            "delisted_at IS NULL OR listed_at IS NULL OR delisted_at >= listed_at",
            name=op.f("ck_instruments_listing_order"),
        ),
        sa.PrimaryKeyConstraint("instrument_id", name=op.f("pk_instruments")),
        sa.UniqueConstraint(
            "exchange_mic",
            "symbol",
            "listed_at",
            name=op.f("uq_instruments_exchange_mic_symbol_listed_at"),
            postgresql_nulls_not_distinct=True,
        ),
        sa.UniqueConstraint("figi", name=op.f("uq_instruments_figi")),
        schema="mp",
    )
    op.create_table(
        "timescale_features",
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("feature", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('applied', 'deferred')", name=op.f("ck_timescale_features_status_enum")
        ),
        sa.PrimaryKeyConstraint("table_name", "feature", name=op.f("pk_timescale_features")),
        schema="mp",
    )
    op.create_table(
        "series",
        sa.Column("series_id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("source_code", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("frequency", sa.String(length=32), nullable=False),
        sa.Column("units", sa.Text(), nullable=True),
        sa.Column("seasonal_adjustment", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("release_time", sa.Time(), nullable=True),
        sa.Column("release_timezone", sa.String(length=64), nullable=True),
        sa.Column("vintage_history_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("instrument_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("discontinued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "country IN ('AD', 'AE', 'AF', 'AG', 'AI', 'AL', 'AM', 'AO', 'AQ', 'AR', 'AS', 'AT', 'AU', 'AW', 'AX', 'AZ', 'BA', 'BB', 'BD', 'BE', 'BF', 'BG', 'BH', 'BI', 'BJ', 'BL', 'BM', 'BN', 'BO', 'BQ', 'BR', 'BS', 'BT', 'BV', 'BW', 'BY', 'BZ', 'CA', 'CC', 'CD', 'CF', 'CG', 'CH', 'CI', 'CK', 'CL', 'CM', 'CN', 'CO', 'CR', 'CU', 'CV', 'CW', 'CX', 'CY', 'CZ', 'DE', 'DJ', 'DK', 'DM', 'DO', 'DZ', 'EC', 'EE', 'EG', 'EH', 'ER', 'ES', 'ET', 'EU', 'EZ', 'FI', 'FJ', 'FK', 'FM', 'FO', 'FR', 'GA', 'GB', 'GD', 'GE', 'GF', 'GG', 'GH', 'GI', 'GL', 'GM', 'GN', 'GP', 'GQ', 'GR', 'GS', 'GT', 'GU', 'GW', 'GY', 'HK', 'HM', 'HN', 'HR', 'HT', 'HU', 'ID', 'IE', 'IL', 'IM', 'IN', 'IO', 'IQ', 'IR', 'IS', 'IT', 'JE', 'JM', 'JO', 'JP', 'KE', 'KG', 'KH', 'KI', 'KM', 'KN', 'KP', 'KR', 'KW', 'KY', 'KZ', 'LA', 'LB', 'LC', 'LI', 'LK', 'LR', 'LS', 'LT', 'LU', 'LV', 'LY', 'MA', 'MC', 'MD', 'ME', 'MF', 'MG', 'MH', 'MK', 'ML', 'MM', 'MN', 'MO', 'MP', 'MQ', 'MR', 'MS', 'MT', 'MU', 'MV', 'MW', 'MX', 'MY', 'MZ', 'NA', 'NC', 'NE', 'NF', 'NG', 'NI', 'NL', 'NO', 'NP', 'NR', 'NU', 'NZ', 'OM', 'PA', 'PE', 'PF', 'PG', 'PH', 'PK', 'PL', 'PM', 'PN', 'PR', 'PS', 'PT', 'PW', 'PY', 'QA', 'RE', 'RO', 'RS', 'RU', 'RW', 'SA', 'SB', 'SC', 'SD', 'SE', 'SG', 'SH', 'SI', 'SJ', 'SK', 'SL', 'SM', 'SN', 'SO', 'SR', 'SS', 'ST', 'SV', 'SX', 'SY', 'SZ', 'TC', 'TD', 'TF', 'TG', 'TH', 'TJ', 'TK', 'TL', 'TM', 'TN', 'TO', 'TR', 'TT', 'TV', 'TW', 'TZ', 'UA', 'UG', 'UM', 'US', 'UY', 'UZ', 'VA', 'VC', 'VE', 'VG', 'VI', 'VN', 'VU', 'WF', 'WS', 'XW', 'YE', 'YT', 'ZA', 'ZM', 'ZW')",
            name=op.f("ck_series_country_enum"),
        ),
        sa.CheckConstraint(
            "currency IN ('AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN', 'BHD', 'BIF', 'BMD', 'BND', 'BOB', 'BOV', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHE', 'CHF', 'CHW', 'CLF', 'CLP', 'CNY', 'COP', 'COU', 'CRC', 'CUC', 'CUP', 'CVE', 'CZK', 'DJF', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS', 'GIP', 'GMD', 'GNF', 'GTQ', 'GYD', 'HKD', 'HNL', 'HRK', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IQD', 'IRR', 'ISK', 'JMD', 'JOD', 'JPY', 'KES', 'KGS', 'KHR', 'KMF', 'KPW', 'KRW', 'KWD', 'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL', 'LYD', 'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MXV', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK', 'NPR', 'NZD', 'OMR', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'PYG', 'QAR', 'RON', 'RSD', 'RUB', 'RWF', 'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SLL', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL', 'THB', 'TJS', 'TMT', 'TND', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'UGX', 'USD', 'USN', 'UYI', 'UYU', 'UYW', 'UZS', 'VED', 'VES', 'VND', 'VUV', 'WST', 'XAF', 'XAG', 'XAU', 'XBA', 'XBB', 'XBC', 'XBD', 'XCD', 'XDR', 'XOF', 'XPD', 'XPF', 'XPT', 'XSU', 'XTS', 'XUA', 'XXX', 'YER', 'ZAR', 'ZMW', 'ZWL')",
            name=op.f("ck_series_currency_enum"),
        ),
        sa.CheckConstraint(
            "frequency IN ('intraday', 'daily', 'business_daily', 'weekly', 'biweekly', 'monthly', 'quarterly', 'semiannual', 'annual', 'irregular')",
            name=op.f("ck_series_frequency_enum"),
        ),
        sa.CheckConstraint(
            "kind IN ('macro', 'market_bar', 'curve', 'rate_fixing', 'release', 'positioning', 'signal')",
            name=op.f("ck_series_kind_enum"),
        ),
        sa.CheckConstraint(
            "release_timezone IS NULL OR release_timezone ~ '^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$'",
            name=op.f("ck_series_release_timezone_format"),
        ),
        sa.CheckConstraint(
            "seasonal_adjustment IN ('nsa', 'sa', 'saar', 'wda', 'sa_wda', 'trend', 'not_applicable')",
            name=op.f("ck_series_seasonal_adjustment_enum"),
        ),
        sa.CheckConstraint("length(source_code) > 0", name=op.f("ck_series_source_code_present")),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["mp.instruments.instrument_id"],
            name=op.f("fk_series_instrument_id_instruments"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["mp.data_sources.source_id"],
            name=op.f("fk_series_source_id_data_sources"),
        ),
        sa.PrimaryKeyConstraint("series_id", name=op.f("pk_series")),
        sa.UniqueConstraint(
            "source_id", "source_code", name=op.f("uq_series_source_id_source_code")
        ),
        schema="mp",
    )
    op.create_table(
        "curve_points",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenor", sa.String(length=8), nullable=False),
        sa.Column("knowledge_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("revision", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time_source", sa.String(length=16), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
            name=op.f("ck_curve_points_knowledge_time_source_enum"),
        ),
        sa.CheckConstraint(
            "obs_time = date_trunc('day', obs_time, 'UTC')",
            name=op.f("ck_curve_points_obs_time_midnight_utc"),
        ),
        sa.CheckConstraint(
            "tenor ~ '^(ON|TN|SN|[1-9][0-9]{0,2}[DWMY])$'",
            name=op.f("ck_curve_points_tenor_format"),
        ),
        sa.CheckConstraint(
            "value > '-Infinity'::float8 AND value < 'Infinity'::float8",
            name=op.f("ck_curve_points_value_finite"),
        ),
        sa.CheckConstraint(
            "knowledge_time >= obs_time", name=op.f("ck_curve_points_knowledge_after_obs")
        ),
        sa.CheckConstraint("revision >= 0", name=op.f("ck_curve_points_revision_non_negative")),
        sa.ForeignKeyConstraint(
            ["series_id"], ["mp.series.series_id"], name=op.f("fk_curve_points_series_id_series")
        ),
        sa.PrimaryKeyConstraint(
            "series_id",
            "obs_time",
            "tenor",
            "knowledge_time",
            name=op.f("pk_curve_points"),
            postgresql_include=["value"],
        ),
        schema="mp",
    )
    op.create_table(
        "macro_observations",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("knowledge_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("revision", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time_source", sa.String(length=16), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
            name=op.f("ck_macro_observations_knowledge_time_source_enum"),
        ),
        sa.CheckConstraint(
            "obs_time = date_trunc('day', obs_time, 'UTC')",
            name=op.f("ck_macro_observations_obs_time_midnight_utc"),
        ),
        sa.CheckConstraint(
            "value > '-Infinity'::float8 AND value < 'Infinity'::float8",
            name=op.f("ck_macro_observations_value_finite"),
        ),
        sa.CheckConstraint(
            "knowledge_time >= obs_time", name=op.f("ck_macro_observations_knowledge_after_obs")
        ),
        sa.CheckConstraint(
            "revision >= 0", name=op.f("ck_macro_observations_revision_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["mp.series.series_id"],
            name=op.f("fk_macro_observations_series_id_series"),
        ),
        sa.PrimaryKeyConstraint(
            "series_id",
            "obs_time",
            "knowledge_time",
            name=op.f("pk_macro_observations"),
            postgresql_include=["value"],
        ),
        schema="mp",
    )
    op.create_index(
        "ix_macro_observations_cross_section",
        "macro_observations",
        ["obs_time", "series_id", sa.literal_column("knowledge_time DESC")],
        unique=False,
        schema="mp",
    )
    op.create_table(
        "market_bars",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("knowledge_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("high", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("low", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("close", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("settle", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("volume", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("open_interest", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("revision", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time_source", sa.String(length=16), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "close > '-Infinity'::float8 AND close < 'Infinity'::float8",
            name=op.f("ck_market_bars_close_finite"),
        ),
        sa.CheckConstraint(
            "high > '-Infinity'::float8 AND high < 'Infinity'::float8",
            name=op.f("ck_market_bars_high_finite"),
        ),
        sa.CheckConstraint(
            "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
            name=op.f("ck_market_bars_knowledge_time_source_enum"),
        ),
        sa.CheckConstraint(
            "low > '-Infinity'::float8 AND low < 'Infinity'::float8",
            name=op.f("ck_market_bars_low_finite"),
        ),
        sa.CheckConstraint(
            "obs_time = date_trunc('day', obs_time, 'UTC')",
            name=op.f("ck_market_bars_obs_time_midnight_utc"),
        ),
        sa.CheckConstraint(
            "open > '-Infinity'::float8 AND open < 'Infinity'::float8",
            name=op.f("ck_market_bars_open_finite"),
        ),
        sa.CheckConstraint(
            "open_interest > '-Infinity'::float8 AND open_interest < 'Infinity'::float8",
            name=op.f("ck_market_bars_open_interest_finite"),
        ),
        sa.CheckConstraint(
            "settle > '-Infinity'::float8 AND settle < 'Infinity'::float8",
            name=op.f("ck_market_bars_settle_finite"),
        ),
        sa.CheckConstraint(
            "volume > '-Infinity'::float8 AND volume < 'Infinity'::float8",
            name=op.f("ck_market_bars_volume_finite"),
        ),
        sa.CheckConstraint(
            "high IS NULL OR low IS NULL OR high >= low",
            name=op.f("ck_market_bars_high_not_below_low"),
        ),
        sa.CheckConstraint(
            "knowledge_time >= obs_time", name=op.f("ck_market_bars_knowledge_after_obs")
        ),
        sa.CheckConstraint(
            "num_nonnulls(open, high, low, close, settle) > 0",
            name=op.f("ck_market_bars_has_a_price"),
        ),
        sa.CheckConstraint(
            "open_interest IS NULL OR open_interest >= 0",
            name=op.f("ck_market_bars_open_interest_non_negative"),
        ),
        sa.CheckConstraint("revision >= 0", name=op.f("ck_market_bars_revision_non_negative")),
        sa.CheckConstraint(
            "volume IS NULL OR volume >= 0", name=op.f("ck_market_bars_volume_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["mp.series.series_id"], name=op.f("fk_market_bars_series_id_series")
        ),
        sa.PrimaryKeyConstraint(
            "series_id", "obs_time", "knowledge_time", name=op.f("pk_market_bars")
        ),
        schema="mp",
    )
    op.create_table(
        "positioning_flows",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("knowledge_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("long_positions", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("short_positions", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("spread_positions", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("value", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("revision", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time_source", sa.String(length=16), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "category IN ('total', 'commercial', 'noncommercial', 'nonreportable', 'producer_merchant', 'swap_dealer', 'managed_money', 'other_reportables', 'dealer', 'asset_manager', 'leveraged_funds')",
            name=op.f("ck_positioning_flows_category_enum"),
        ),
        sa.CheckConstraint(
            "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
            name=op.f("ck_positioning_flows_knowledge_time_source_enum"),
        ),
        sa.CheckConstraint(
            "long_positions > '-Infinity'::float8 AND long_positions < 'Infinity'::float8",
            name=op.f("ck_positioning_flows_long_positions_finite"),
        ),
        sa.CheckConstraint(
            "obs_time = date_trunc('day', obs_time, 'UTC')",
            name=op.f("ck_positioning_flows_obs_time_midnight_utc"),
        ),
        sa.CheckConstraint(
            "short_positions > '-Infinity'::float8 AND short_positions < 'Infinity'::float8",
            name=op.f("ck_positioning_flows_short_positions_finite"),
        ),
        sa.CheckConstraint(
            "spread_positions > '-Infinity'::float8 AND spread_positions < 'Infinity'::float8",
            name=op.f("ck_positioning_flows_spread_positions_finite"),
        ),
        sa.CheckConstraint(
            "value > '-Infinity'::float8 AND value < 'Infinity'::float8",
            name=op.f("ck_positioning_flows_value_finite"),
        ),
        sa.CheckConstraint(
            "coalesce(long_positions, 0) >= 0 AND coalesce(short_positions, 0) >= 0 AND coalesce(spread_positions, 0) >= 0",
            name=op.f("ck_positioning_flows_positions_non_negative"),
        ),
        sa.CheckConstraint(
            "knowledge_time >= obs_time", name=op.f("ck_positioning_flows_knowledge_after_obs")
        ),
        sa.CheckConstraint(
            "num_nonnulls(long_positions, short_positions, spread_positions, value) > 0",
            name=op.f("ck_positioning_flows_has_a_value"),
        ),
        sa.CheckConstraint(
            "revision >= 0", name=op.f("ck_positioning_flows_revision_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["mp.series.series_id"],
            name=op.f("fk_positioning_flows_series_id_series"),
        ),
        sa.PrimaryKeyConstraint(
            "series_id", "obs_time", "category", "knowledge_time", name=op.f("pk_positioning_flows")
        ),
        schema="mp",
    )
    op.create_table(
        "rate_fixings",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("knowledge_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("revision", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time_source", sa.String(length=16), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
            name=op.f("ck_rate_fixings_knowledge_time_source_enum"),
        ),
        sa.CheckConstraint(
            "obs_time = date_trunc('day', obs_time, 'UTC')",
            name=op.f("ck_rate_fixings_obs_time_midnight_utc"),
        ),
        sa.CheckConstraint(
            "value > '-Infinity'::float8 AND value < 'Infinity'::float8",
            name=op.f("ck_rate_fixings_value_finite"),
        ),
        sa.CheckConstraint(
            "knowledge_time >= obs_time", name=op.f("ck_rate_fixings_knowledge_after_obs")
        ),
        sa.CheckConstraint("revision >= 0", name=op.f("ck_rate_fixings_revision_non_negative")),
        sa.ForeignKeyConstraint(
            ["series_id"], ["mp.series.series_id"], name=op.f("fk_rate_fixings_series_id_series")
        ),
        sa.PrimaryKeyConstraint(
            "series_id",
            "obs_time",
            "knowledge_time",
            name=op.f("pk_rate_fixings"),
            postgresql_include=["value"],
        ),
        schema="mp",
    )
    op.create_table(
        "release_calendar",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("knowledge_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consensus", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("actual", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("prior", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("revision", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time_source", sa.String(length=16), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "actual > '-Infinity'::float8 AND actual < 'Infinity'::float8",
            name=op.f("ck_release_calendar_actual_finite"),
        ),
        sa.CheckConstraint(
            "consensus > '-Infinity'::float8 AND consensus < 'Infinity'::float8",
            name=op.f("ck_release_calendar_consensus_finite"),
        ),
        sa.CheckConstraint(
            "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
            name=op.f("ck_release_calendar_knowledge_time_source_enum"),
        ),
        sa.CheckConstraint(
            "obs_time = date_trunc('day', obs_time, 'UTC')",
            name=op.f("ck_release_calendar_obs_time_midnight_utc"),
        ),
        sa.CheckConstraint(
            "prior > '-Infinity'::float8 AND prior < 'Infinity'::float8",
            name=op.f("ck_release_calendar_prior_finite"),
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'released', 'delayed', 'cancelled')",
            name=op.f("ck_release_calendar_status_enum"),
        ),
        sa.CheckConstraint("revision >= 0", name=op.f("ck_release_calendar_revision_non_negative")),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["mp.series.series_id"],
            name=op.f("fk_release_calendar_series_id_series"),
        ),
        sa.PrimaryKeyConstraint(
            "series_id", "obs_time", "knowledge_time", name=op.f("pk_release_calendar")
        ),
        schema="mp",
    )
    op.create_table(
        "signal_values",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("obs_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instrument_id", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("revision", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("knowledge_time_source", sa.String(length=16), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "knowledge_time_source IN ('vendor', 'calendar', 'rule', 'captured')",
            name=op.f("ck_signal_values_knowledge_time_source_enum"),
        ),
        sa.CheckConstraint(
            "value > '-Infinity'::float8 AND value < 'Infinity'::float8",
            name=op.f("ck_signal_values_value_finite"),
        ),
        sa.CheckConstraint(
            "instrument_id >= 0", name=op.f("ck_signal_values_instrument_id_non_negative")
        ),
        sa.CheckConstraint(
            "knowledge_time >= obs_time", name=op.f("ck_signal_values_knowledge_after_obs")
        ),
        sa.CheckConstraint("revision >= 0", name=op.f("ck_signal_values_revision_non_negative")),
        sa.ForeignKeyConstraint(
            ["series_id"], ["mp.series.series_id"], name=op.f("fk_signal_values_series_id_series")
        ),
        sa.PrimaryKeyConstraint(
            "series_id",
            "obs_time",
            "instrument_id",
            "knowledge_time",
            name=op.f("pk_signal_values"),
            postgresql_include=["value"],
        ),
        schema="mp",
    )
    for statement in HYPERTABLES:
        op.execute(statement)
    op.execute(FEATURES_FUNCTION)
    # Applies compression where the license allows it and records it as deferred elsewhere.
    op.execute("SELECT * FROM mp.apply_timescale_features()")


def downgrade() -> None:
    op.execute(DROP_FEATURES_FUNCTION)
    op.drop_table("signal_values", schema="mp")
    op.drop_table("release_calendar", schema="mp")
    op.drop_table("rate_fixings", schema="mp")
    op.drop_table("positioning_flows", schema="mp")
    op.drop_table("market_bars", schema="mp")
    op.drop_index(
        "ix_macro_observations_cross_section", table_name="macro_observations", schema="mp"
    )
    op.drop_table("macro_observations", schema="mp")
    op.drop_table("curve_points", schema="mp")
    op.drop_table("series", schema="mp")
    op.drop_table("timescale_features", schema="mp")
    op.drop_table("instruments", schema="mp")
    op.drop_table("data_sources", schema="mp")
    op.execute("DROP SCHEMA IF EXISTS mp")


#: Hypertables with explicit chunk intervals and no default time index.
HYPERTABLES = [
    "SELECT create_hypertable('mp.macro_observations', by_range('obs_time', INTERVAL '1 year'), create_default_indexes => false)",
    "SELECT create_hypertable('mp.market_bars', by_range('obs_time', INTERVAL '1 year'), create_default_indexes => false)",
    "SELECT create_hypertable('mp.curve_points', by_range('obs_time', INTERVAL '1 year'), create_default_indexes => false)",
    "SELECT create_hypertable('mp.rate_fixings', by_range('obs_time', INTERVAL '1 year'), create_default_indexes => false)",
    "SELECT create_hypertable('mp.release_calendar', by_range('obs_time', INTERVAL '1 year'), create_default_indexes => false)",
    "SELECT create_hypertable('mp.positioning_flows', by_range('obs_time', INTERVAL '1 year'), create_default_indexes => false)",
    "SELECT create_hypertable('mp.signal_values', by_range('obs_time', INTERVAL '7 days'), create_default_indexes => false)",
]

#: Compression settings and policies where the license allows them; recorded as deferred
#: (with the reason) in mp.timescale_features elsewhere.
FEATURES_FUNCTION = """CREATE OR REPLACE FUNCTION mp.apply_timescale_features()
RETURNS TABLE (hypertable text, feature_name text, outcome text, detail text)
LANGUAGE plpgsql
AS $mp_features$
BEGIN
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'mp' AND hypertable_name = 'macro_observations') THEN
            ALTER TABLE mp.macro_observations SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'obs_time DESC, knowledge_time DESC'
            );
        END IF;
        PERFORM add_compression_policy('mp.macro_observations', compress_after => INTERVAL
            '730 days', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby series_id, compress_after '
            || '730 days';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || coalesce(current_setting('timescaledb.license', true), 'unknown')
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('macro_observations', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := 'macro_observations';
    feature_name := 'compression';
    RETURN NEXT;
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'mp' AND hypertable_name = 'market_bars') THEN
            ALTER TABLE mp.market_bars SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'obs_time DESC, knowledge_time DESC'
            );
        END IF;
        PERFORM add_compression_policy('mp.market_bars', compress_after => INTERVAL
            '730 days', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby series_id, compress_after '
            || '730 days';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || coalesce(current_setting('timescaledb.license', true), 'unknown')
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('market_bars', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := 'market_bars';
    feature_name := 'compression';
    RETURN NEXT;
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'mp' AND hypertable_name = 'curve_points') THEN
            ALTER TABLE mp.curve_points SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'obs_time DESC, tenor, knowledge_time DESC'
            );
        END IF;
        PERFORM add_compression_policy('mp.curve_points', compress_after => INTERVAL
            '730 days', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby series_id, compress_after '
            || '730 days';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || coalesce(current_setting('timescaledb.license', true), 'unknown')
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('curve_points', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := 'curve_points';
    feature_name := 'compression';
    RETURN NEXT;
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'mp' AND hypertable_name = 'rate_fixings') THEN
            ALTER TABLE mp.rate_fixings SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'obs_time DESC, knowledge_time DESC'
            );
        END IF;
        PERFORM add_compression_policy('mp.rate_fixings', compress_after => INTERVAL
            '730 days', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby series_id, compress_after '
            || '730 days';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || coalesce(current_setting('timescaledb.license', true), 'unknown')
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('rate_fixings', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := 'rate_fixings';
    feature_name := 'compression';
    RETURN NEXT;
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'mp' AND hypertable_name = 'release_calendar') THEN
            ALTER TABLE mp.release_calendar SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'obs_time DESC, knowledge_time DESC'
            );
        END IF;
        PERFORM add_compression_policy('mp.release_calendar', compress_after => INTERVAL
            '730 days', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby series_id, compress_after '
            || '730 days';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || coalesce(current_setting('timescaledb.license', true), 'unknown')
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('release_calendar', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := 'release_calendar';
    feature_name := 'compression';
    RETURN NEXT;
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'mp' AND hypertable_name = 'positioning_flows') THEN
            ALTER TABLE mp.positioning_flows SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'obs_time DESC, category, knowledge_time DESC'
            );
        END IF;
        PERFORM add_compression_policy('mp.positioning_flows', compress_after => INTERVAL
            '730 days', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby series_id, compress_after '
            || '730 days';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || coalesce(current_setting('timescaledb.license', true), 'unknown')
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('positioning_flows', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := 'positioning_flows';
    feature_name := 'compression';
    RETURN NEXT;
    IF coalesce(current_setting('timescaledb.license', true), 'unknown') = 'timescale' THEN
        IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables
                WHERE hypertable_schema = 'mp' AND hypertable_name = 'signal_values') THEN
            ALTER TABLE mp.signal_values SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'obs_time DESC, instrument_id, knowledge_time DESC'
            );
        END IF;
        PERFORM add_compression_policy('mp.signal_values', compress_after => INTERVAL
            '90 days', if_not_exists => true);
        outcome := 'applied';
        detail := 'compression segmentby series_id, compress_after '
            || '90 days';
    ELSE
        outcome := 'deferred';
        detail := 'TimescaleDB license is ' || coalesce(current_setting('timescaledb.license', true), 'unknown')
            || '; compression and its policy need the timescale license. Run `mp-schema '
            || 'apply-timescale-features` once the server has it.';
    END IF;
    INSERT INTO mp.timescale_features AS f (table_name, feature, status, reason)
        VALUES ('signal_values', 'compression', outcome, detail)
        ON CONFLICT (table_name, feature) DO UPDATE
        SET status = EXCLUDED.status, reason = EXCLUDED.reason, recorded_at = now();
    hypertable := 'signal_values';
    feature_name := 'compression';
    RETURN NEXT;
END
$mp_features$"""

DROP_FEATURES_FUNCTION = "DROP FUNCTION IF EXISTS mp.apply_timescale_features()"
