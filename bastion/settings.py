"""Bastion's one settings file, driven by ``BASTION_*`` environment variables.

With no configuration at all it gives a working single-machine instance on SQLite under ``var/``.
Every variable is listed in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from bastion.config import (
    database_from_url,
    ensure_data_dir,
    env_bool,
    env_int,
    env_int_list,
    env_list,
    env_listen,
    env_str,
    secret_from_file,
    sqlite_database,
)

PACKAGE_DIR = Path(__file__).resolve().parent

# --- Where data lives ----------------------------------------------------------------------------
# Relative to the working directory, so `make run` in a checkout keeps everything in ./var.
DATA_DIR = ensure_data_dir(Path(env_str("BASTION_DATA_DIR", "var")).resolve())
KEYS_DIR = DATA_DIR / "keys"
FILES_DIR = DATA_DIR / "files"
OUTBOX_DIR = DATA_DIR / "outbox"

# --- Vault: encryption at rest --------------------------------------------------------------------
# Master keys default to var/keys/master-v<N>.key, generated on first use (0600). In production keep
# them off the data volume: BASTION_MASTER_KEY_FILE (one key, version 1) or BASTION_MASTER_KEY_DIR
# (versioned files; rotation needs this form).
MASTER_KEY_DIR = Path(env_str("BASTION_MASTER_KEY_DIR", str(KEYS_DIR))).resolve()
MASTER_KEY_FILE = env_str("BASTION_MASTER_KEY_FILE")
VAULT_KEY_PROVIDER = env_str("BASTION_VAULT_KEY_PROVIDER", "bastion.vault.keys.FileKeyProvider")
VAULT_BLOB_STORAGE = "bastion.vault.storage.FileSystemBlobStorage"
VAULT_BLOB_DIR = FILES_DIR
# Beside the master key, never inside an archive: the shred ledger (re-applied on every restore) and
# the sealed restore-drill key. Keep it on the master key's volume, off the data disk.
_KEY_HOME = Path(MASTER_KEY_FILE).parent if MASTER_KEY_FILE else MASTER_KEY_DIR
VAULT_STATE_DIR = Path(env_str("BASTION_VAULT_STATE_DIR", str(_KEY_HOME))).resolve()
# Shell-words command for the KMS-style provider (bastion.vault.keys.CommandKeyProvider).
VAULT_KEY_COMMAND = env_str("BASTION_MASTER_KEY_COMMAND")
# Rewrap this many data keys per transaction during `bastion keys rotate`.
VAULT_ROTATE_BATCH = env_int("BASTION_KEYS_ROTATE_BATCH", 1000, minimum=1, maximum=100_000)

# --- Vault: backups -------------------------------------------------------------------------------
# Where `bastion backup` writes (separated by spaces): directories (meant for other disks or
# mounts) and S3 buckets, e.g. "/mnt/disk2/bastion s3://bucket/prefix?endpoint=https://…&keep=7d,4w,12m".
BACKUP_DESTINATIONS = env_str("BASTION_BACKUP_TO").split()
# Default retention for a destination that names none: daily, weekly and monthly archives to keep.
BACKUP_KEEP = env_str("BASTION_BACKUP_KEEP", "7d,4w,12m")
# Armored OpenPGP public keys (files) every archive is encrypted to, besides the drill key.
BACKUP_RECIPIENTS = env_list("BASTION_BACKUP_RECIPIENTS", [])
# Scratch space for snapshots and restore drills; a drill needs room for one whole restore.
BACKUP_WORK_DIR = Path(env_str("BASTION_BACKUP_WORK_DIR", str(DATA_DIR / "backup-work"))).resolve()
# Alert when no verified backup is newer than this.
BACKUP_MAX_AGE_HOURS = env_int("BASTION_BACKUP_MAX_AGE_HOURS", 26, minimum=1)

# --- Core ----------------------------------------------------------------------------------------
DEBUG = env_bool("BASTION_DEBUG", False)
HTTPS = env_bool("BASTION_HTTPS", False)
LISTEN = env_listen("BASTION_LISTEN", "127.0.0.1:8000")
SITE_NAME = env_str("BASTION_SITE_NAME", "Bastion")
# The public origin, used in links that leave the site (setup links, emails).
BASE_URL = env_str("BASTION_BASE_URL", f"{'https' if HTTPS else 'http'}://{LISTEN[0]}:{LISTEN[1]}").rstrip(
    "/"
)
if not BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"BASTION_BASE_URL: must start with http:// or https://, got {BASE_URL!r}")

_secret = env_str("BASTION_SECRET_KEY")
# Without an explicit secret, one is generated once into the data dir (0600). It is per-instance
# random, so it is never a shared default; production checks still ask for it to live elsewhere.
SECRET_KEY = _secret or secret_from_file(KEYS_DIR / "secret_key")
SECRET_KEY_FROM_DATA_DIR = not _secret

ALLOWED_HOSTS = env_list("BASTION_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("BASTION_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "bastion",
    "bastion.accounts",
    "bastion.audit",
    "bastion.worker",
    "bastion.vault",
    "bastion.reports",
    "bastion.intake",
    "bastion.portal",
    "bastion.triage",
    "bastion.disclosure",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "csp",
    "django_tasks",
    "django_tasks_db",
    # For the API docs' assets (Swagger UI), served from our own /static/ under the strict CSP.
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bastion.accounts.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "bastion.accounts.middleware.RequireMFAMiddleware",
    # Axes last: it must see the authenticated user to reset or count failures.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bastion.urls"
WSGI_APPLICATION = "bastion.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bastion.context_processors.site",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL")
DATABASES = {
    "default": database_from_url(_database_url)
    if _database_url
    else sqlite_database(DATA_DIR / "bastion.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first, so a locked-out login is refused before the password is even checked.
    "axes.backends.AxesBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# allauth: staff log in by email; there is no public signup (the adapter closes it).
ACCOUNT_ADAPTER = "bastion.accounts.adapters.StaffAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("BASTION_REAUTH_SECONDS", 300, minimum=30)
# Password reset for an unknown address sends nothing: no mail to strangers, and the page looks
# the same either way, so it does not reveal who is staff.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# allauth's own limit fires before axes' lockout: it slows a guesser per IP and per account,
# while axes (below) locks the account after BASTION_LOCKOUT_FAILURES failures.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
}
MFA_ADAPTER = "bastion.accounts.adapters.StaffMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = SITE_NAME
# WebAuthn needs a secure context; plain http://localhost is one, other plain origins are not.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not HTTPS

AXES_FAILURE_LIMIT = env_int("BASTION_LOCKOUT_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("BASTION_LOCKOUT_MINUTES", 30, minimum=1) / 60  # hours
# Lock the account (username), whatever IP the guesses come from; a per-IP lock alone lets a
# botnet keep guessing one password.
AXES_LOCKOUT_PARAMETERS = ["username"]
# allauth posts the address as "login": without this, axes records the username as None.
AXES_USERNAME_FORM_FIELD = "login"
AXES_USERNAME_CALLABLE = "bastion.accounts.lockout.username_from_request"
AXES_LOCKOUT_CALLABLE = "bastion.accounts.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True
# axes.W006 warns that locking by username alone lets anyone lock an account out. That is the
# trade we chose: a locked staff account is an annoyance an admin can lift, an unlocked one under a
# botnet's guesses is a breach (allauth still rate-limits each IP before the lockout).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_VERBOSE = False
# Behind a reverse proxy, set BASTION_TRUST_X_FORWARDED_FOR so lockouts see the client address.
ALLAUTH_TRUSTED_PROXY_COUNT = 1 if env_bool("BASTION_TRUST_X_FORWARDED_FOR") else 0
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if env_bool("BASTION_TRUST_X_FORWARDED_FOR") else ["REMOTE_ADDR"]
)

SETUP_LINK_HOURS = env_int("BASTION_SETUP_LINK_HOURS", 24, minimum=1)
INVITATION_DAYS = env_int("BASTION_INVITATION_DAYS", 7, minimum=1)

# --- Sessions, cookies, transport security -------------------------------------------------------
SESSION_COOKIE_AGE = env_int("BASTION_SESSION_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("BASTION_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BASTION_TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if HTTPS:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# Strict CSP: nothing inline, nothing from another origin. Every script is a file under /static.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Static files --------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": FILES_DIR}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from the app directories, so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Mail ----------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("BASTION_FROM_EMAIL", "security@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_smtp_host = env_str("BASTION_SMTP_HOST")
if _smtp_host:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _smtp_host
    EMAIL_PORT = env_int("BASTION_SMTP_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("BASTION_SMTP_USER")
    EMAIL_HOST_PASSWORD = env_str("BASTION_SMTP_PASSWORD")
    EMAIL_USE_TLS = env_bool("BASTION_SMTP_STARTTLS", True)
    EMAIL_USE_SSL = env_bool("BASTION_SMTP_SSL", False)
    EMAIL_TIMEOUT = 30
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("BASTION_SMTP_STARTTLS and BASTION_SMTP_SSL: choose one, not both")
else:
    # The local default: each message becomes an .eml file under var/outbox/.
    EMAIL_BACKEND = "bastion.lib.emails.OutboxBackend"

# --- Mail intake (adapters) ----------------------------------------------------------------------
# security@ reaches receive_email three ways: `bastion mailgate` (an MTA's pipe), the LMTP listener
# that `bastion run` starts, and an IMAP poll of a hosted mailbox. Larger messages are refused with a
# bounce that says what to do instead.
MAIL_MAX_BYTES = env_int("BASTION_MAIL_MAX_BYTES", 25 * 1024 * 1024, minimum=64 * 1024, maximum=1024**3)
LMTP_ENABLED = env_bool("BASTION_LMTP_ENABLED", True)
# Loopback unless set otherwise: LMTP has no authentication, and whoever reaches it skips the MTA's
# checks (and could forge the Authentication-Results header the MTA would have written).
LMTP_LISTEN = env_listen("BASTION_LMTP_LISTEN", "127.0.0.1:8024")
IMAP_HOST = env_str("BASTION_IMAP_HOST")
IMAP_SECURITY = env_str("BASTION_IMAP_SECURITY", "ssl")
if IMAP_SECURITY not in {"ssl", "starttls", "plain"}:
    raise ImproperlyConfigured(
        f"BASTION_IMAP_SECURITY: expected ssl, starttls or plain, got {IMAP_SECURITY!r}"
    )
if IMAP_HOST and IMAP_SECURITY == "plain" and IMAP_HOST not in {"localhost", "127.0.0.1", "::1"}:
    # The password and every report would cross the network in clear.
    raise ImproperlyConfigured("BASTION_IMAP_SECURITY=plain is only allowed for a loopback BASTION_IMAP_HOST")
IMAP_PORT = env_int("BASTION_IMAP_PORT", 993 if IMAP_SECURITY == "ssl" else 143, minimum=1, maximum=65535)
IMAP_USER = env_str("BASTION_IMAP_USER")
IMAP_PASSWORD = env_str("BASTION_IMAP_PASSWORD")
if IMAP_HOST and not (IMAP_USER and IMAP_PASSWORD):
    raise ImproperlyConfigured(
        "BASTION_IMAP_HOST is set: set BASTION_IMAP_USER and BASTION_IMAP_PASSWORD too"
    )
# A CA bundle to trust instead of the system's (a private CA, or a test server's own certificate).
IMAP_CA_FILE = env_str("BASTION_IMAP_CA_FILE")
IMAP_FOLDER = env_str("BASTION_IMAP_FOLDER", "INBOX")
# "/" separates levels and becomes the server's own delimiter. Empty: flag \Seen instead of moving.
IMAP_DONE_FOLDER = env_str("BASTION_IMAP_DONE_FOLDER", "Bastion/Processed")
IMAP_REFUSED_FOLDER = env_str("BASTION_IMAP_REFUSED_FOLDER", "Bastion/Refused")
# The scheduler's floor is 10 s; a poll also stops after IMAP_BATCH messages, so each run stays short.
IMAP_POLL_SECONDS = env_int("BASTION_IMAP_POLL_SECONDS", 60, minimum=10)
IMAP_BATCH = env_int("BASTION_IMAP_BATCH", 50, minimum=1, maximum=1000)

# --- Mail intake (reading) -----------------------------------------------------------------------
# The addresses we take mail for (LMTP refuses others at RCPT); the first is security@ itself.
MAIL_ADDRESSES = env_list("BASTION_MAIL_ADDRESSES", [DEFAULT_FROM_EMAIL]) or [DEFAULT_FROM_EMAIL]
# "count/seconds": mail over these is kept unread in the flood bucket and not answered; staff are
# alerted once per window. Check intake.E001 validates them at start-up.
MAIL_LIMIT_PER_SENDER = env_str("BASTION_MAIL_LIMIT_PER_SENDER", "30/3600")
MAIL_LIMIT_GLOBAL = env_str("BASTION_MAIL_LIMIT_GLOBAL", "1000/3600")
# Authentication-Results headers are shown only when written by these authserv-ids (our own MTA
# or mail provider): anyone can put such a header into the mail they send.
MAIL_TRUSTED_AUTHSERV_IDS = env_list("BASTION_MAIL_TRUSTED_AUTHSERV_IDS", [])
# Check DKIM signatures against the sender's DNS (dkimpy, through dnspython). Off: shown "unchecked".
MAIL_DKIM_CHECK = env_bool("BASTION_MAIL_DKIM_CHECK", True)

# --- Background work -----------------------------------------------------------------------------
_TASK_BACKENDS = {
    "database": "bastion.worker.backend.DatabaseBackend",
    # Runs each task inline at enqueue time: for the test suite and for debugging.
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
_task_backend = env_str("BASTION_TASKS_BACKEND", "database")
if _task_backend not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"BASTION_TASKS_BACKEND: expected database or immediate, got {_task_backend!r}"
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[_task_backend]}}
WORKER_POLL_SECONDS = env_int("BASTION_WORKER_POLL_SECONDS", 1, minimum=1)
# A task RUNNING longer than this with no live worker behind it is put back in the queue.
WORKER_STALE_SECONDS = env_int("BASTION_WORKER_STALE_SECONDS", 600, minimum=10)

# --- Intake: flood control and the proof-of-work challenge ----------------------------------------
# "count/seconds" per fixed window. Over a limit a submission needs a solved proof-of-work challenge;
# an IP over 5x its limit is refused (429). Check intake.E001 validates these at start-up.
INTAKE_LIMIT_PER_IP = env_str("BASTION_INTAKE_LIMIT_PER_IP", "10/3600")
INTAKE_LIMIT_PER_EMAIL = env_str("BASTION_INTAKE_LIMIT_PER_EMAIL", "5/3600")
INTAKE_LIMIT_GLOBAL = env_str("BASTION_INTAKE_LIMIT_GLOBAL", "100/3600")
INTAKE_CHALLENGE_MAX_NUMBER = env_int(
    "BASTION_INTAKE_CHALLENGE_MAX_NUMBER", 100_000, minimum=1000, maximum=10_000_000
)
INTAKE_CHALLENGE_SECONDS = env_int("BASTION_INTAKE_CHALLENGE_SECONDS", 600, minimum=60, maximum=3600)

# --- Intake: size limits of a submission (web form and API) ----------------------------------------
# Over a limit the request is refused with HTTP 413 naming it. Text fields are capped per field;
# the services' own ceiling is 100 000 characters, so that is also the most this may be.
INTAKE_MAX_BODY_CHARS = env_int("BASTION_INTAKE_MAX_BODY_CHARS", 100_000, minimum=1000, maximum=100_000)
INTAKE_MAX_ATTACHMENTS = env_int("BASTION_INTAKE_MAX_ATTACHMENTS", 10, minimum=0, maximum=100)
INTAKE_MAX_ATTACHMENT_BYTES = env_int(
    "BASTION_INTAKE_MAX_ATTACHMENT_BYTES", 25 * 1024 * 1024, minimum=1024, maximum=1024 * 1024 * 1024
)
# The only upload handler: every uploaded file is sealed on the fly, so no plaintext reaches the
# disk (Django's defaults keep it in memory or write it, in clear, to a temporary file).
FILE_UPLOAD_HANDLERS = ["bastion.reports.uploads.SealedUploadHandler"]

# --- Disclosure: embargoes, upstream hand-off, advisories, exports, security.txt -------------------
# Reminders go to every party of an embargo this many hours before it ends (one per step).
EMBARGO_REMINDER_HOURS = env_int_list("BASTION_EMBARGO_REMINDER_HOURS", [168, 24, 1], minimum=1)
# A break-glass look at an embargoed report lasts this long, then needs a new reason.
BREAK_GLASS_HOURS = env_int("BASTION_BREAK_GLASS_HOURS", 4, minimum=1, maximum=72)
# Reminders to staff before an upstream's deadline.
UPSTREAM_REMINDER_HOURS = env_int_list("BASTION_UPSTREAM_REMINDER_HOURS", [168, 24], minimum=1)
# Advisories are named PREFIX-YYYY-NNNN; the publisher fields of every export come from these.
ADVISORY_PREFIX = env_str("BASTION_ADVISORY_PREFIX", "BASTION-SA")
PUBLISHER_NAME = env_str("BASTION_PUBLISHER_NAME", SITE_NAME)
PUBLISHER_NAMESPACE = env_str("BASTION_PUBLISHER_NAMESPACE", BASE_URL)

# Exports (CVE JSON 5.1): the CVE Program orgId (a UUID) of the CNA that submits Bastion's CVE
# records: yours if you are a CNA, else the CNA you hand them to. Unset, an advisory with a CVE ID
# cannot pass the pre-publish checklist: the CVE schema requires it and none is made up.
# A value that is no UUID is refused by the same checklist, which says so.
CVE_ORG_ID = env_str("BASTION_CVE_ORG_ID", "").lower()

# security.txt (RFC 9116, the credit/thanks/security.txt area): Expires is this many days after each
# signing, never past the org key's own expiry. RFC 9116 asks for less than a year; the daily renewal
# re-signs 30 days before Expires, so anything up to 30 days would be re-signed every day.
SECURITY_TXT_DAYS = env_int("BASTION_SECURITY_TXT_DAYS", 180, minimum=31, maximum=364)
# Preferred-Languages: RFC 5646 tags, most preferred first ("en,fr").
SECURITY_TXT_LANGUAGES = env_list("BASTION_SECURITY_TXT_LANGUAGES", ["en"]) or ["en"]
for _language in SECURITY_TXT_LANGUAGES:
    _primary, *_subtags = _language.split("-")
    if not (
        _primary.isascii()
        and _primary.isalpha()
        and 2 <= len(_primary) <= 8
        and all(tag.isascii() and tag.isalnum() and 1 <= len(tag) <= 8 for tag in _subtags)
    ):
        raise ImproperlyConfigured(
            f"BASTION_SECURITY_TXT_LANGUAGES: {_language!r} is not a language tag such as en or pt-BR"
        )

# --- Logging: to stderr, never report content -----------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": env_str("BASTION_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # Request errors are logged by status line only; the default handler would dump
        # request bodies (report content) into the log on a 500.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Upload ceilings; intake sets its own, tighter, per-field limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
