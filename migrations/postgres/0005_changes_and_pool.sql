-- The one write path: every change to a zone bumps its SOA serial (per the
-- zone's policy) and leaves a journal entry, from which IXFR is served.
-- Pool allocations and the audit trail of the HTTP API.

-- "increment" (serial + 1) or "date" (YYYYMMDDnn, RFC 1912 §2.2).
ALTER TABLE zones ADD COLUMN serial_policy TEXT NOT NULL DEFAULT 'increment';

-- One row per applied change of a zone.
CREATE TABLE zone_changes (
    id         BIGSERIAL PRIMARY KEY,
    -- Zone name as in zones.name; kept after the zone is deleted.
    zone       TEXT    NOT NULL,
    -- "create", "update" or "delete".
    kind       TEXT    NOT NULL,
    -- SOA serials before and after; NULL where the zone did not exist.
    old_serial BIGINT,
    new_serial BIGINT,
    -- JSON arrays of [name, type, ttl, content]: what the change took out
    -- and put in, SOA included. Empty for create and delete.
    removed    TEXT    NOT NULL,
    added      TEXT    NOT NULL,
    -- Who made it: "cli", "api:<key name>", "pool", "reconciler".
    author     TEXT    NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX zone_changes_zone ON zone_changes (zone, id);

-- One row per allocated <subdomain>.<pool_domain>.
CREATE TABLE pool_allocations (
    pool_domain      TEXT    NOT NULL,
    subdomain        TEXT    NOT NULL,
    -- "reserved", "active" or "releasing".
    state            TEXT    NOT NULL,
    reserved_at      BIGINT NOT NULL,
    -- While reserved: when the reservation lapses.
    expires_at       BIGINT,
    committed_at     BIGINT,
    -- Hex SHA-256 of the reservation token; the token itself is never stored.
    token_hash       TEXT    NOT NULL,
    created_by       TEXT    NOT NULL,
    sovereign_fqdn   TEXT,
    load_balancer_ip TEXT,
    -- JSON array of {name, ips, healthUrl}, when committed with regions.
    regions          TEXT,
    -- For pools delegated through a registrar: 1 once the registrar holds
    -- the NS and DS records the allocation needs (or, while releasing, no
    -- longer holds any).
    delegated        BIGINT NOT NULL DEFAULT 0,
    -- Reconciler backoff for registrar work.
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (pool_domain, subdomain)
);

-- One row per mutating API request.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    key_name    TEXT    NOT NULL,
    route       TEXT    NOT NULL,
    -- "<subdomain>.<pool>" or the domain acted on.
    subject     TEXT    NOT NULL,
    status      BIGINT NOT NULL,
    -- "ok" or the error code answered.
    outcome     TEXT    NOT NULL
);
