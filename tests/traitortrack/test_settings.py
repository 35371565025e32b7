"""Settings come from the environment: safe development defaults, clean `check --deploy` in production."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "HTTPS", "ALLOWED_HOSTS"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_is_clean_with_production_variables():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="traitortrack.example.com",
        HTTPS="true",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_development_defaults():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for warning in ("security.W009", "security.W008", "security.W012", "security.W004"):
        assert warning in result.stderr


def test_a_malformed_boolean_is_refused_with_its_name():
    result = run_manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be true or false, not 'maybe'" in result.stderr


def test_a_database_url_that_is_not_postgresql_is_refused():
    result = run_manage("check", DATABASE_URL="mysql://root@127.0.0.1/test")
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


def settings_with(**env_overrides: str) -> subprocess.CompletedProcess:
    """traitortrack.settings imported in a fresh interpreter with these variables (nothing connects)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update({"DATABASE_URL": "postgres://tt@db.internal:5432/tt", **env_overrides})
    code = (
        "import json; from traitortrack import settings as s; "
        "print(json.dumps({'databases': s.DATABASES, 'routers': s.DATABASE_ROUTERS, 'middleware': s.MIDDLEWARE}))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_without_a_replica_url_there_is_no_replica_alias_router_or_middleware():
    result = settings_with()
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert list(found["databases"]) == ["default"]
    assert found["routers"] == []
    assert "traitortrack.replica.WroteMiddleware" not in found["middleware"]


def test_a_replica_url_adds_the_alias_connected_as_the_primary_is():
    result = settings_with(DATABASE_REPLICA_URL="postgres://tt@replica.internal:5433/tt")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    primary, replica = found["databases"]["default"], found["databases"]["replica"]
    assert (replica["HOST"], replica["PORT"], replica["NAME"]) == ("replica.internal", 5433, "tt")
    # The primary's pool sizes; a replica down or busy is left for the primary within 2 s, and a connection
    # broken by its restart is replaced as it is taken.
    pool = primary["OPTIONS"]["pool"]
    assert replica["OPTIONS"]["pool"] == {**pool, "timeout": min(pool["timeout"], 2)}
    assert replica["OPTIONS"]["connect_timeout"] == 2
    assert replica["CONN_MAX_AGE"] == primary["CONN_MAX_AGE"]
    assert replica["CONN_HEALTH_CHECKS"] is True
    assert replica["TEST"] == {"MIRROR": "default"}  # Django never makes or flushes a test database there
    assert found["routers"] == ["traitortrack.replica.ReplicaRouter"]
    middleware = found["middleware"]
    assert middleware.index("traitortrack.replica.WroteMiddleware") == len(middleware) - 2  # before axes'


def test_a_replica_lag_limit_of_a_minute_or_more_is_refused():
    result = settings_with(DATABASE_REPLICA_URL="postgres://tt@db2.internal/tt", DATABASE_REPLICA_MAX_LAG_SECONDS="60")
    assert result.returncode != 0
    assert "DATABASE_REPLICA_MAX_LAG_SECONDS must be from 1 to 59" in result.stderr
