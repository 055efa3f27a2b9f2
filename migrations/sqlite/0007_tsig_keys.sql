-- TSIG keys made with `pooldns tsig add`, beside those of [[tsig]].
CREATE TABLE tsig_keys (
    -- Absolute, lowercase: "acme-update."
    name       TEXT    PRIMARY KEY,
    -- "hmac-sha256", "hmac-sha512" or "hmac-sha1".
    algorithm  TEXT    NOT NULL,
    -- "plain:<base64>", or "v1:<base64>" when sealed with the configured
    -- key-encryption key.
    secret     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
