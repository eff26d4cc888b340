"""The tables (design §2), in SQLAlchemy Core so SQLite and PostgreSQL share one definition.

Geometry is stored as GeoJSON text in WGS84: portable across both databases, and exactly what
pydeck sends to the browser, so a map needs no conversion at request time.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text,
    UniqueConstraint,
)

metadata = MetaData()

dataset = Table(
    "dataset", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # kind + name identify an import: re-importing the same source replaces it whole.
    Column("kind", String(40), nullable=False),
    Column("name", String(300), nullable=False),
    Column("file_name", String(300), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", String(100), nullable=False),
    UniqueConstraint("kind", "name", name="uq_dataset_kind_name"),
)

area = Table(
    "area", metadata,
    Column("code", String(12), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("level", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("gemeente_code", String(6), nullable=False),
    Column("geometry", Text, nullable=False),
    Column("dataset_id", Integer, ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
    Index("ix_area_level_year_gemeente", "level", "year", "gemeente_code"),
)

school = Table(
    "school", metadata,
    Column("id", String(8), primary_key=True),  # BRIN (4) + vestiging (2)
    Column("brin", String(4), nullable=False),
    Column("name", String(200), nullable=False),
    Column("sector", String(2), nullable=False),  # PO / VO
    Column("gemeente_code", String(6), nullable=False),
    Column("postcode", String(6)),
    Column("plaats", String(100)),
    Column("lon", Float),
    Column("lat", Float),
    Column("wijk_code", String(8)),
    Column("dataset_id", Integer, ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
    Index("ix_school_gemeente", "gemeente_code"),
)

indicator = Table(
    "indicator", metadata,
    Column("key", String(60), primary_key=True),
    Column("label", String(200), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("level", String(10), nullable=False),
    Column("source", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("higher_is_better", Boolean),
    Column("restricted", Boolean, nullable=False),
)

observation = Table(
    "observation", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("indicator_key", String(60), nullable=False),
    Column("subject", String(12), nullable=False),
    # Denormalised so that the scope filter is one indexed WHERE on every read.
    Column("gemeente_code", String(6), nullable=False),
    Column("period", String(9), nullable=False),
    Column("period_start", Integer, nullable=False),
    Column("period_end", Integer, nullable=False),
    Column("group", String(20), nullable=False, default=""),
    Column("value", Float),  # NULL = missing at the source (CBS sentinel, DUO blank)
    Column("n", Integer),
    # A figure built partly from cells the source estimated (DUO's '<5'): how many of its n pupils
    # sit in such cells, and the variance the estimation adds (between imputations); NULL: none.
    Column("n_estimated", Integer),
    Column("imputation_var", Float),
    Column("dataset_id", Integer, ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("indicator_key", "subject", "period", "group", name="uq_observation"),
    Index("ix_observation_lookup", "indicator_key", "gemeente_code", "period"),
    Index("ix_observation_dataset", "dataset_id"),
)

apcg_list = Table(
    "apcg_list", metadata,
    # The PC4 areas of one APCG list (e.g. "L+A 2014"), kept so that pupils by home postcode can be
    # matched to the newest list not later than their school year, and re-matched when a list comes.
    Column("list", String(20), nullable=False),  # the list's first year, e.g. "2014", "2011-2012"
    Column("first_year", Integer, nullable=False),
    Column("pc4", String(4), nullable=False),
    Column("dataset_id", Integer, ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("list", "pc4", name="uq_apcg_list_pc4"),
)

pupil_postcode = Table(
    "pupil_postcode", metadata,
    # DUO's pupils per school vestiging by the pupil's home PC4 (and leerjaar in the vo), as
    # published: a '<5' cell is kept as such (masked_cells), never as a number it is not.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(8), nullable=False),
    Column("sector", String(2), nullable=False),
    Column("gemeente_code", String(6), nullable=False),  # the school's gemeente: the scope of the row
    Column("period", String(9), nullable=False),  # school year of the peildatum (1 October)
    Column("pc4", String(4)),  # NULL: the file gives no Dutch postcode (abroad, unknown)
    Column("home_gemeente", String(6)),  # the pupil's gemeente where the file names it
    Column("leerjaar", String(10), nullable=False, default=""),
    Column("pupils", Integer, nullable=False),  # the counted part of the cell
    Column("masked_cells", Integer, nullable=False, default=0),  # '<5' counts in it (1-4 pupils each)
    Column("dataset_id", Integer, ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
    Index("ix_pupil_postcode_school", "school_id", "period"),
    Index("ix_pupil_postcode_dataset", "dataset_id"),
)

user = Table(
    "app_user", metadata,  # "user" is reserved in PostgreSQL
    Column("username", String(60), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(200), nullable=False, default=""),
    Column("password_hash", String(100), nullable=False),
    Column("role", String(12), nullable=False),
    Column("gemeenten", Text, nullable=False, default=""),  # comma-separated GM codes
    Column("demo", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # For the access review (BIO2 5.18): who gave the current role and scope, the last login, and
    # whether the account was switched off (unused too long); a switched-off account logs in nowhere.
    Column("granted_by", String(60)),
    Column("last_login_at", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
    # The second factor (TOTP, RFC 6238): the secret sealed with the server's key, so a copy of the
    # database generates no codes; a secret being enrolled waits in totp_pending until a code
    # confirms it; the last time step used refuses a code seen twice.
    Column("totp_secret", Text),
    Column("totp_pending", Text),
    Column("totp_since", DateTime(timezone=True)),
    Column("totp_last_step", Integer),
    Column("totp_failures", Integer),  # wrong codes in a row; at second_factor.MAX_WRONG only a reset helps
    # An account of the organisation's own identity provider (OpenID Connect): which provider and
    # its stable subject; such an account has no password and takes its role from the claims.
    Column("login_via", String(40)),
    Column("external_id", String(255)),
    Index("ux_user_external", "login_via", "external_id", unique=True),
)

oidc_rule = Table(
    "oidc_rule", metadata,
    # Which claim of which provider gives which role and scope (e.g. group gka-rotterdam →
    # gemeente GM0599), kept by the beheerder; a person no rule matches gets no access.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(40), nullable=False),
    Column("claim", String(20), nullable=False),  # groups, roles or email_domain
    Column("value", String(200), nullable=False),
    Column("role", String(12), nullable=False),
    Column("gemeenten", Text, nullable=False, default=""),
    Column("created_by", String(60), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

oidc_pending = Table(
    "oidc_pending", metadata,
    # A login sent to the provider and not yet back: bound to the browser that started it (the
    # hash of a cookie only that browser holds), used once, valid for ten minutes.
    Column("state_hash", String(64), primary_key=True),
    Column("provider", String(40), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("verifier", String(128), nullable=False),
    Column("binding_hash", String(64), nullable=False),
    Column("redirect_uri", String(500), nullable=False),
    Column("return_to", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("client", String(64)),  # the address that started it: starts are counted per address
    Column("used_at", DateTime(timezone=True)),  # taken by its callback; kept until it expires, to count
    Index("ix_oidc_pending_created", "created_at"),  # expired ones are deleted at every start
    Index("ix_oidc_pending_client", "client"),
)

recovery_code = Table(
    "recovery_code", metadata,
    # One-time codes for a lost phone: only their SHA-256 (each holds 50 random bits), used once.
    Column("code_hash", String(64), primary_key=True),
    Column("username", String(60), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Index("ix_recovery_code_user", "username"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("username", String(60), nullable=False),
    Column("action", String(30), nullable=False),
    Column("detail", Text, nullable=False, default=""),  # the object: what the action was done to
    # BIO2 8.15: every line also says where it came from (the client address as our proxy passes
    # it, or "cli") and whether it succeeded.
    Column("origin", String(64)),
    Column("result", String(12)),
    Index("ix_audit_at", "at"),
)

login_session = Table(
    "login_session", metadata,
    # The cookie carries a random token; the database keeps only its SHA-256, so a copy of the
    # database (a backup, a read-only account) holds nothing that logs anyone in.
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(60), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_why", String(60)),
    # The last click: a session idle longer than the idle timeout opens nothing (sessions.py).
    Column("last_seen_at", DateTime(timezone=True)),
    Column("origin", String(64)),  # where the login came from, for the session list
    # A login through an identity provider: which, and its ID token while the session lasts, which
    # the logout hands back to the provider's end-session endpoint (cleared when the session ends).
    Column("login_via", String(40)),
    Column("id_token", Text),
    Index("ix_login_session_user", "username"),
)

cookie_ticket = Table(
    "cookie_ticket", metadata,
    # For two minutes after a login: the hash of the one-time ticket the page posts and the
    # session token sealed with the server's key; deleted when the server sets the cookie.
    Column("ticket_hash", String(64), primary_key=True),
    Column("sealed", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

login_failure = Table(
    "login_failure", metadata,
    # One row per failed password (or second-factor) check, with where it came from: a lock is
    # per account *and origin*, so a stranger who fails someone's login locks out only himself.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(60), nullable=False),
    Column("origin", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_login_failure_user_at", "username", "at"),
)

note = Table(
    "note", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("gemeente_code", String(6), nullable=False),
    Column("question", Integer, nullable=False),  # 1..4, the four questions of the gesprek
    Column("text", Text, nullable=False),
    Column("author", String(60), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_note_gemeente", "gemeente_code", "question", "at"),
)

approach = Table(
    "approach", metadata,
    # The catalogue of approaches (gesprek.approaches): lists are "|"-joined as the CSV writes them.
    Column("name", String(120), primary_key=True),
    Column("description", Text, nullable=False),
    Column("domains", Text, nullable=False),  # thuis, school, wijk
    Column("phases", Text, nullable=False),  # voorschool, po, overgang po-vo, vo
    Column("themes", Text, nullable=False),  # the GKA themes of the agenda's
    Column("factors", Text, nullable=False),  # the levels of the factors: leerling, familie, school, wijk, samenleving
    Column("topics", Text, nullable=False),  # the dashboard's indicator topics it should move
    Column("target_group", String(200), nullable=False, default=""),
    Column("age_from", Integer),
    Column("age_to", Integer),
    Column("evidence", String(60), nullable=False),
    Column("source", String(500), nullable=False),
    Column("source_date", String(10), nullable=False),
    Column("partners", Text, nullable=False),
    Column("examples", Text, nullable=False, default=""),  # "Gemeente=https://…|…"
    Column("added_by", String(60), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
)

partner = Table(
    "partner", metadata,
    # A gemeente's own partners for question 4: an organisation and its role, and at most a
    # functional contact (a team address, not a person's details); removed ones stay, marked.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("gemeente_code", String(6), nullable=False),
    Column("organisation", String(200), nullable=False),
    Column("kind", String(60), nullable=False),
    Column("role", String(300), nullable=False, default=""),
    Column("contact", String(200), nullable=False, default=""),
    Column("added_by", String(60), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True)),
    Index("ix_partner_gemeente", "gemeente_code"),
)

agreement = Table(
    "agreement", metadata,
    # An afspraak from the gesprek, versioned like the notes: each change adds a row with the next
    # version of the same key; the newest version is the agreement as it stands.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("gemeente_code", String(6), nullable=False),
    Column("highlight", String(300), nullable=False),
    Column("approach", String(120), nullable=False, default=""),
    Column("partners", Text, nullable=False, default=""),
    Column("lead", String(200), nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("subject", String(20), nullable=False),
    Column("subject_name", String(200), nullable=False),
    Column("baseline_period", String(20), nullable=False),
    Column("baseline_value", Float, nullable=False),
    Column("baseline_margin", Float),
    Column("aim", Text, nullable=False),
    Column("review_on", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("author", String(60), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("key", "version"),
    Index("ix_agreement_gemeente", "gemeente_code"),
)

setting = Table(
    "setting", metadata,
    Column("key", String(60), primary_key=True),
    Column("value", Text, nullable=False),
)
