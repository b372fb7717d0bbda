"""Settings for mcpdemo, read from the environment in this one place.

Every knob is an environment variable; docs/configuration.md lists them. In a checkout,
``scripts/install`` writes a git-ignored ``.env`` (``DJANGO_DEBUG=1`` and a generated secret
key) that fills in what the environment leaves unset, so plain ``manage.py`` works there.
Production leaves debug off, which makes ``DJANGO_SECRET_KEY`` and ``MCPDEMO_PUBLIC_URL``
mandatory.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from oauthapp.device_codes import generate_user_code
from oauthapp.tokens import AUTH_METHODS, GRANT_TYPES

BASE_DIR = Path(__file__).resolve().parent.parent

# MCPDEMO_ENV_FILE names another file, or is empty for none (the test suite and
# scripts/run-production); real environment variables always win over the file.
ENV_FILE = os.environ.get("MCPDEMO_ENV_FILE", str(BASE_DIR / ".env")).strip()
if ENV_FILE:
    load_dotenv(ENV_FILE, override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name, "").strip()
    if not value:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "!!! development only: set DJANGO_SECRET_KEY !!!"  # noqa: S105

# The public origin clients use (e.g. https://mcp.example.com). The OAuth issuer is
# exactly this string and the MCP resource is this + "/mcp". Unset in development:
# both are then derived from each request's Host.
MCPDEMO_PUBLIC_URL = os.environ.get("MCPDEMO_PUBLIC_URL", "").strip().rstrip("/")
if MCPDEMO_PUBLIC_URL:
    _public = urlsplit(MCPDEMO_PUBLIC_URL)
    if _public.scheme not in {"http", "https"} or not _public.hostname or _public.path or _public.query:
        raise ImproperlyConfigured("MCPDEMO_PUBLIC_URL must be an origin such as https://mcp.example.com")
elif not DEBUG:
    raise ImproperlyConfigured("MCPDEMO_PUBLIC_URL must be set when DJANGO_DEBUG is off.")

_loopback_hosts = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", _loopback_hosts if DEBUG else [])
_public_host = urlsplit(MCPDEMO_PUBLIC_URL).hostname
if _public_host and _public_host not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_public_host)

# Browser origins allowed to call /mcp besides our own (e.g. MCP Inspector's
# http://localhost:6274). Requests without an Origin header (native clients) always pass.
MCPDEMO_ALLOWED_ORIGINS = env_list("MCPDEMO_ALLOWED_ORIGINS")

# Shared, short-lived state (rate-limit counters, caches) lives in Redis when it is
# configured, so every worker on every node agrees; otherwise in each process's memory.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()

# Stateless MCP: any worker on any node can serve any request (no server-held
# Mcp-Session-Id state). Needed whenever several workers or nodes share the load;
# scripts/run-production turns it on when it starts more than one worker.
MCPDEMO_MCP_STATELESS = env_bool("MCPDEMO_MCP_STATELESS", False)

# The MCP tools, as import paths of mcp Tool objects or functions (comma-separated).
MCPDEMO_MCP_TOOLS = env_list("MCPDEMO_MCP_TOOLS", ["mcpapp.tools.SLUGIFY", "mcpapp.tools.COUNTDOWN"])

# Callables extend(server) run on the MCPServer after the tools, to add resources,
# prompts, completions and more (import paths, comma-separated; none by default).
MCPDEMO_MCP_EXTENSIONS = env_list("MCPDEMO_MCP_EXTENSIONS")

# Prometheus metrics at /metrics (docs/monitoring.md): off unless enabled, and then only for
# clients in these networks (CIDR, comma-separated) or with this bearer secret.
MCPDEMO_METRICS_ENABLED = env_bool("MCPDEMO_METRICS_ENABLED", False)
MCPDEMO_METRICS_ALLOWED_NETWORKS = env_list("MCPDEMO_METRICS_ALLOWED_NETWORKS")
MCPDEMO_METRICS_TOKEN = os.environ.get("MCPDEMO_METRICS_TOKEN", "").strip()

# Tools an administrator marks "restricted" (admin, MCP server > Tools) are listed and
# callable only by users or groups granted their permission; off: every tool for everyone.
MCPDEMO_TOOL_PERMISSIONS = env_bool("MCPDEMO_TOOL_PERMISSIONS", True)
# Tool calls counted per hour, user, client, tool and outcome for the admin's usage page,
# kept this many days (manage.py cleanup_oauth removes older counts).
MCPDEMO_USAGE_COUNTING = env_bool("MCPDEMO_USAGE_COUNTING", True)
MCPDEMO_USAGE_RETENTION_DAYS = env_int("MCPDEMO_USAGE_RETENTION_DAYS", 90)

# Threads per process that run Django (OAuth endpoints, pages, admin); each keeps its
# database connection for DATABASE_CONN_MAX_AGE seconds. Advanced tuning.
MCPDEMO_DJANGO_THREADS = env_int("MCPDEMO_DJANGO_THREADS", 8)

INSTALLED_APPS = [
    # mcpapp first: its runserver (ASGI, uvicorn) overrides Django's WSGI one.
    "mcpapp",
    "oauthapp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "csp",
    "corsheaders",
    "mcpdemo.apps.MCPDemoConfig",  # the deployment's system checks
]

MIDDLEWARE = [
    "mcpdemo.metrics_middleware.MetricsMiddleware",  # outermost: it times the rest
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "oauthapp.ratelimit.RateLimitMiddleware",
    "oauthapp.errors.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oauthapp.csp.PolicyMiddleware",
]

ROOT_URLCONF = "mcpdemo.urls"
ASGI_APPLICATION = "mcpdemo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Django runs on a fixed pool of threads (see mcpdemo/asgi.py), so a connection can
        # serve many requests: connecting (and SQLite's PRAGMAs) per request cost ~10 % of
        # a token request's CPU. Health checks drop a connection the server closed.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", False):
    # Optional psycopg connection pool per worker (saves a connect per request; measure:
    # under heavy lock contention it queues requests behind the pool).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_MAX", 10),
        "timeout": 10,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at
    # BEGIN so two token requests queue instead of deadlocking on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A Redis that hangs or refuses must cost a request a fraction of a second, not redis-py's
# default wait: the rate limits then fail open (oauthapp.ratelimit) and /readyz reports it.
REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS", "").strip() or 0.25)
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS}
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mcpdemo",
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # users' passwords
    "oauthapp.hashers.ClientSecretHasher",  # generated client secrets only (see the module)
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "mcpdemo.staticfiles.StaticFilesStorage"
    },
}
# Also serve the source directories, so pages keep their styles with debug off before
# collectstatic (check mcpdemo.W001 warns); collected, hashed files are served first.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# OAuth and MCP endpoints have fixed paths without a trailing slash; browser pages
# keep Django's slash redirect (GET only), and every POST route matches both spellings.
APPEND_SLASH = True

# Security headers. The consent page must never be framed (clickjacking).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if MCPDEMO_PUBLIC_URL.startswith("https://"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    CSRF_TRUSTED_ORIGINS = [MCPDEMO_PUBLIC_URL]
if env_bool("MCPDEMO_BEHIND_PROXY", False):
    # Only behind a proxy that sets X-Forwarded-Proto itself (see README, Deploying).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "form-action": ["'self'", "http:", "https:"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# W008 warns that http redirect URIs are allowed. They are, on loopback only (RFC 8252
# native apps such as VS Code need them): oauthapp.redirect_uris refuses http elsewhere.
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]

# Browser-based clients (MCP Inspector, vscode.dev) call discovery, registration, token
# and revocation cross-origin. They carry no cookies, so any origin may; the authorization
# endpoint (a page with the user's session) never answers cross-origin. /mcp does its own
# CORS in mcpapp.endpoint, limited to MCPDEMO_ALLOWED_ORIGINS.
CORS_URLS_REGEX = r"^/(\.well-known/oauth-[a-z-]+(/mcp)?|token/?|revoke/?|device-authorization/?|register(/[^/]+)?/?)$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "mcp-protocol-version")
CORS_EXPOSE_HEADERS = ("www-authenticate",)
CORS_PREFLIGHT_MAX_AGE = 86400

MCP_SCOPE = "mcp"

MCPDEMO_ACCESS_TOKEN_SECONDS = env_int("MCPDEMO_ACCESS_TOKEN_SECONDS", 3600)
MCPDEMO_REFRESH_TOKEN_SECONDS = env_int("MCPDEMO_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600)
if not 0 < MCPDEMO_ACCESS_TOKEN_SECONDS < MCPDEMO_REFRESH_TOKEN_SECONDS:
    raise ImproperlyConfigured("MCPDEMO_REFRESH_TOKEN_SECONDS must exceed MCPDEMO_ACCESS_TOKEN_SECONDS (> 0).")

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauthapp.Application"
# DOT's device grant plus the resource the token will be bound to (RFC 8707).
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "oauthapp.DeviceGrant"
# The device flow (RFC 8628): how long its codes live, how often a device may poll.
MCPDEMO_DEVICE_CODE_SECONDS = env_int("MCPDEMO_DEVICE_CODE_SECONDS", 600)
MCPDEMO_DEVICE_POLL_SECONDS = env_int("MCPDEMO_DEVICE_POLL_SECONDS", 5)
if not (60 <= MCPDEMO_DEVICE_CODE_SECONDS <= 1800 and 1 <= MCPDEMO_DEVICE_POLL_SECONDS <= 60):
    raise ImproperlyConfigured("MCPDEMO_DEVICE_CODE_SECONDS must be 60-1800 and MCPDEMO_DEVICE_POLL_SECONDS 1-60.")
OAUTH2_PROVIDER = {
    "SCOPES": {MCP_SCOPE: "Use this server's MCP tools on your behalf"},
    "DEFAULT_SCOPES": [MCP_SCOPE],
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": MCPDEMO_ACCESS_TOKEN_SECONDS,
    # DOT ends a refresh token this long after its access token expires; ours lives
    # MCPDEMO_REFRESH_TOKEN_SECONDS from issue (each refresh issues a new pair).
    "REFRESH_TOKEN_EXPIRE_SECONDS": MCPDEMO_REFRESH_TOKEN_SECONDS - MCPDEMO_ACCESS_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # DOT cannot replay a grace-period pair when tokens are stored hashed (check E001).
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    # RFC 9700 gates: every one DOT offers.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # Discovery advertises only what VS Code and friends can register.
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": list(GRANT_TYPES),
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": list(AUTH_METHODS),
    "OIDC_ISS_ENDPOINT": MCPDEMO_PUBLIC_URL,
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "DCR_REGISTRATION_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "OAUTH2_PROTECTED_RESOURCE_NAME": "mcpdemo MCP server",
    "OAUTH2_VALIDATOR_CLASS": "oauthapp.validator.MCPOAuth2Validator",
    # A token is good for exactly the resource it was issued for (RFC 8707), not any URL below it.
    "RESOURCE_SERVER_TOKEN_RESOURCE_VALIDATOR": "oauthapp.validator.exact_resource",
    # Client ID Metadata Documents (VS Code prefers them when advertised). The fetch
    # needs outbound HTTPS to the client's host; MCPDEMO_CIMD_ALLOWED_HOSTS limits which.
    "CIMD_ENABLED": env_bool("MCPDEMO_CIMD_ENABLED", True),
    "CIMD_METADATA_FETCHER": "oauthapp.cimd.MCPMetadataFetcher",
    "CIMD_REGISTRATION_PERMISSION_CLASSES": (
        ("oauth2_provider.cimd.HostAllowlistCIMDPermission",)
        if env_list("MCPDEMO_CIMD_ALLOWED_HOSTS")
        else ("oauth2_provider.cimd.AllowAllCIMDPermission",)
    ),
    "CIMD_ALLOWED_HOSTS": env_list("MCPDEMO_CIMD_ALLOWED_HOSTS"),
    "CLIENT_SECRET_HASHER": "pbkdf2_sha256_client_secret",
    # The device flow: our user codes; the verification URI is set per request (the issuer's
    # /device); the token's user and scope come from the grant in the validator's
    # validate_device_code, not from DOT's pre-token hook (it raises on an unknown code).
    "OAUTH_DEVICE_USER_CODE_GENERATOR": generate_user_code,
    "OAUTH_DEVICE_VERIFICATION_URI": f"{MCPDEMO_PUBLIC_URL}/device",
    "DEVICE_FLOW_INTERVAL": MCPDEMO_DEVICE_POLL_SECONDS,
    "OAUTH_PRE_TOKEN_VALIDATION": [],
}

# Sliding-window limits (e.g. "30/h", "5/10m"; empty = off), per client address (IPv6 per
# /64); "login_account" counts failed sign-ins per account on every password form.
MCPDEMO_RATE_LIMITS = {
    "register": os.environ.get("MCPDEMO_RATE_LIMIT_REGISTER", "30/h"),
    "token": os.environ.get("MCPDEMO_RATE_LIMIT_TOKEN", "120/m"),
    "login": os.environ.get("MCPDEMO_RATE_LIMIT_LOGIN", "10/m"),
    "login_account": os.environ.get("MCPDEMO_RATE_LIMIT_LOGIN_ACCOUNT", "20/h"),
    # Wrong user codes on the /device page, per address and per signed-in account (RFC 8628 §5.1).
    "device": os.environ.get("MCPDEMO_RATE_LIMIT_DEVICE", "10/m"),
    "device_account": os.environ.get("MCPDEMO_RATE_LIMIT_DEVICE_ACCOUNT", "20/h"),
}

# A ceiling over all addresses: at most this many self-registered clients that no user
# has used yet, registered within the last hour (then 429); 0 = no ceiling. Stops a flood
# from many addresses; cleanup_oauth removes never-used clients after a day.
MCPDEMO_REGISTRATION_UNUSED_PER_HOUR = env_int("MCPDEMO_REGISTRATION_UNUSED_PER_HOUR", 200)

# Request bodies are small here (forms, JSON metadata): refuse anything large early.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# A refresh repeated within this many seconds gets the first answer again (two windows
# of one client racing); after it, a repeat is a replay and revokes the token family.
MCPDEMO_REFRESH_RACE_SECONDS = env_int("MCPDEMO_REFRESH_RACE_SECONDS", 30)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").lower()  # "plain" or "json" (one object per line)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "mcpdemo.logs.JSONLinesFormatter"},
    },
    # A refused Host and a 503 during a database outage: one line per interval, no traceback.
    "filters": {"expected_failures": {"()": "mcpdemo.logs.ExpectedFailureFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["expected_failures"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # oauthlib logs codes and tokens in clear at DEBUG, and DOT request details:
        # never below INFO, whatever the root level.
        "oauthlib": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        "oauth2_provider": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        # The MCP SDK logs every stateless request ("Terminating session: None") and every
        # session id at INFO: noise, a cost on the hot path, and ids best kept out of logs.
        "mcp": {"level": LOG_LEVEL if LOG_LEVEL in ("ERROR", "CRITICAL") else "WARNING"},
    },
}
