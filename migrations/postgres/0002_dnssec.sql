-- DNSSEC: which zones are signed, how, and with which keys.

-- One row per secured zone.
CREATE TABLE dnssec_zones (
    zone_id       BIGINT PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
    -- "nsec" or "nsec3" (RFC 5155 with RFC 9276 parameters).
    denial        TEXT    NOT NULL,
    -- 1 when NSEC3 opt-out skips unsigned delegations.
    nsec3_opt_out BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL
);

-- One row per key of a secured zone.
CREATE TABLE dnssec_keys (
    id          BIGSERIAL PRIMARY KEY,
    zone_id     BIGINT  NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    -- "csk", "ksk" or "zsk".
    role        TEXT    NOT NULL,
    -- DNSSEC algorithm number (13 ECDSAP256SHA256, 15 ED25519).
    algorithm   BIGINT  NOT NULL,
    -- DNSKEY RDATA, base64: the public half, readable without any secret.
    dnskey      TEXT    NOT NULL,
    -- PKCS#8 private key: "plain:<base64>", or "v1:<base64>" when sealed
    -- with the configured key-encryption key.
    private_key TEXT    NOT NULL,
    -- 1 when the DNSKEY is in the zone's DNSKEY RRset.
    published   BIGINT  NOT NULL,
    -- 1 when the key signs.
    active      BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE INDEX dnssec_keys_zone_id ON dnssec_keys (zone_id);
