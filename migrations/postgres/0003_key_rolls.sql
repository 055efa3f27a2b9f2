-- Key rollovers: which keys the parent's DS set should point at, and the
-- state of a rollover in progress, so a restart carries on where it was.

-- 1 when this key (KSK or CSK) should have a DS at the parent: it gets CDS
-- and CDNSKEY records, and a parent served here gets its DS.
ALTER TABLE dnssec_keys ADD COLUMN ds BIGINT NOT NULL DEFAULT 0;
UPDATE dnssec_keys SET ds = 1 WHERE role IN ('csk', 'ksk');

-- At most one rollover per zone.
CREATE TABLE dnssec_rolls (
    zone_id     BIGINT  PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
    -- Role of the keys rolled: "csk", "ksk" or "zsk".
    role        TEXT    NOT NULL,
    old_key_id  BIGINT  NOT NULL,
    new_key_id  BIGINT  NOT NULL,
    -- "publish", "ds-wait" or "retire" (see src/dnssec/roll.rs).
    phase       TEXT    NOT NULL,
    -- Unix time the current phase may end.
    next_at     BIGINT  NOT NULL,
    -- Unix time the parent was first seen with the new DS, if it was.
    ds_seen_at  BIGINT,
    started_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
