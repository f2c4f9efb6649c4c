#!/bin/sh
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d).
# Creates mp's owner role without superuser rights, and its database from template0 so that the
# first migration, not the image, creates the timescaledb extension (and owns it).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=mp_user="$MP_PG_USER" --set=mp_password="$MP_PG_PASSWORD" \
    --set=mp_database="$MP_PG_DATABASE" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB CREATEROLE PASSWORD %L', :'mp_user', :'mp_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'mp_user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0', :'mp_database', :'mp_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'mp_database') \gexec
SQL
