-- Health checks (ifportup, ifurlup, ifurlextup): the last known state of
-- each, so a restarted server answers from it instead of blind while its
-- first probes run. Rows are written by the checker; a row whose check is
-- gone stops being updated and is deleted a week later.

CREATE TABLE health_checks (
    -- Hex SHA-256 of the check's canonical spec (address, probe, options,
    -- timing; see src/health/state.rs). Header values enter only the hash.
    check_key             TEXT    PRIMARY KEY,
    -- For people reading the table: "192.0.2.1:443", "https://h/p via
    -- 192.0.2.1" or the URL of an unpinned check.
    target                TEXT    NOT NULL,
    -- "up" or "down".
    status                TEXT    NOT NULL,
    consecutive_failures  BIGINT  NOT NULL,
    consecutive_successes BIGINT  NOT NULL,
    -- Unix time the last probe started.
    last_probe_at         BIGINT,
    -- Duration of the last probe, microseconds.
    latency_us            BIGINT,
    -- Why the last probe failed, if it did.
    last_error            TEXT,
    -- The weight the last successful HTTP probe's body carried.
    weight                BIGINT,
    -- Unix time the row was last written.
    updated_at            BIGINT  NOT NULL
);
