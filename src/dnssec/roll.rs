//! Key rollovers as a state machine over stored key flags (RFC 6781 §4.1,
//! RFC 7583 §3).
//!
//! Every roll starts by adding the new key and ends by deleting the old
//! one; what happens between depends on the role rolled:
//!
//! ```text
//! ZSK, pre-publication (RFC 7583 §3.2):
//!   publish  new published, not signing     wait Dprp + TTLkey
//!   retire   new signs, old only published  wait Dprp + TTLsig
//!   done     old deleted
//!
//! KSK, double-KSK with CDS (RFC 7583 §3.3.2, RFC 7344 §4):
//!   publish  new published and signing DNSKEY; CDS still old   wait Dprp + TTLkey
//!   ds-wait  CDS/DS target new only; wait until the parent shows the new DS,
//!            then its TTL + Dprp
//!   done     old deleted
//!
//! CSK (RFC 7583 §3.3.3, with double signatures while the DS changes):
//!   publish  new published, not signing; CDS still old          wait Dprp + TTLkey
//!   ds-wait  both sign everything; CDS/DS target new only; wait until the
//!            parent shows the new DS, then max(its TTL, TTLsig) + Dprp
//!   done     old deleted
//! ```
//!
//! Dprp is the configured propagation delay, TTLkey the DNSKEY TTL and
//! TTLsig the largest TTL in the zone. Each step is stored before it takes
//! effect, so a restart carries on from the stored phase.

use std::fmt;
use std::str::FromStr;

use super::KeyRole;

/// Where a roll stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The new key is in the DNSKEY RRset, waiting to reach caches.
    Publish,
    /// Waiting for the parent's DS to follow the CDS (KSK and CSK).
    DsWait,
    /// The old key no longer signs, waiting for its signatures to expire
    /// from caches (ZSK).
    Retire,
}

impl Phase {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Publish => "publish",
            Phase::DsWait => "ds-wait",
            Phase::Retire => "retire",
        }
    }
}

impl FromStr for Phase {
    type Err = String;

    fn from_str(text: &str) -> Result<Phase, String> {
        match text {
            "publish" => Ok(Phase::Publish),
            "ds-wait" => Ok(Phase::DsWait),
            "retire" => Ok(Phase::Retire),
            other => Err(format!("unknown roll phase {other:?}")),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The intervals a roll waits, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Dprp: how long a change takes to reach every secondary.
    pub propagation: u64,
    /// TTLkey: the DNSKEY RRset's TTL.
    pub dnskey_ttl: u64,
    /// TTLsig: the largest TTL of any signed RRset in the zone.
    pub max_ttl: u64,
}

/// The flags of one key: in DNSKEY, signing, and the parent's DS target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFlags {
    pub published: bool,
    pub active: bool,
    pub ds: bool,
}

/// What a roll does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet; look again at `next_at`.
    Wait { next_at: u64 },
    /// Move to `phase` with these key flags, until `next_at`.
    Advance {
        phase: Phase,
        old: KeyFlags,
        new: KeyFlags,
        next_at: u64,
    },
    /// The parent was first seen with the new DS: wait until `next_at`.
    DsSeen { next_at: u64 },
    /// Delete the old key; the roll is over.
    Finish,
}

/// The flags of the new key when a roll of `role` starts, and when the
/// publish phase may end.
pub fn start(role: KeyRole, timing: Timing, now: u64) -> (KeyFlags, u64) {
    let new = KeyFlags {
        published: true,
        // A new KSK signs the DNSKEY RRset at once (double-KSK); a new ZSK
        // or CSK waits until its DNSKEY is in caches.
        active: role == KeyRole::Ksk,
        ds: false,
    };
    (new, now + timing.propagation + timing.dnskey_ttl)
}

/// The next step of a roll of `role` in `phase` whose wait ends at
/// `next_at`. `parent_ds_ttl` is the TTL of the parent's DS RRset when it
/// holds the new key's DS, `None` while it does not (KSK and CSK only);
/// `ds_seen` whether that was already seen.
pub fn step(
    role: KeyRole,
    phase: Phase,
    next_at: u64,
    ds_seen: bool,
    parent_ds_ttl: Option<u64>,
    timing: Timing,
    now: u64,
) -> Step {
    if now < next_at {
        return Step::Wait { next_at };
    }
    match (role, phase) {
        (KeyRole::Zsk, Phase::Publish) => Step::Advance {
            phase: Phase::Retire,
            old: KeyFlags {
                published: true,
                active: false,
                ds: false,
            },
            new: KeyFlags {
                published: true,
                active: true,
                ds: false,
            },
            next_at: now + timing.propagation + timing.max_ttl,
        },
        (KeyRole::Ksk | KeyRole::Csk, Phase::Publish) => Step::Advance {
            phase: Phase::DsWait,
            // The old key keeps signing until the parent has moved.
            old: KeyFlags {
                published: true,
                active: true,
                ds: false,
            },
            new: KeyFlags {
                published: true,
                active: true,
                ds: true,
            },
            // No time bound: the parent decides.
            next_at: now,
        },
        (KeyRole::Ksk | KeyRole::Csk, Phase::DsWait) if !ds_seen => match parent_ds_ttl {
            None => Step::Wait { next_at: now + 5 },
            Some(ds_ttl) => {
                // Validators may hold the old DS for its TTL; a CSK's old
                // signatures may be cached for the zone's largest TTL.
                let hold = match role {
                    KeyRole::Csk => ds_ttl.max(timing.max_ttl),
                    _ => ds_ttl,
                };
                Step::DsSeen {
                    next_at: now + timing.propagation + hold,
                }
            }
        },
        (KeyRole::Ksk | KeyRole::Csk, Phase::DsWait) | (KeyRole::Zsk, Phase::Retire) => Step::Finish,
        // A phase that does not belong to the role: end the roll rather
        // than loop; the new key is complete by then.
        (KeyRole::Zsk, Phase::DsWait) | (KeyRole::Ksk | KeyRole::Csk, Phase::Retire) => Step::Finish,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        propagation: 60,
        dnskey_ttl: 3600,
        max_ttl: 86_400,
    };

    #[test]
    fn zsk_roll_waits_for_the_key_then_for_the_signatures() {
        let (new, publish_until) = start(KeyRole::Zsk, TIMING, 1000);
        assert!(new.published && !new.active && !new.ds);
        assert_eq!(publish_until, 1000 + 60 + 3600);
        assert_eq!(
            step(
                KeyRole::Zsk,
                Phase::Publish,
                publish_until,
                false,
                None,
                TIMING,
                publish_until - 1
            ),
            Step::Wait { next_at: publish_until }
        );
        let Step::Advance {
            phase,
            old,
            new,
            next_at,
        } = step(
            KeyRole::Zsk,
            Phase::Publish,
            publish_until,
            false,
            None,
            TIMING,
            publish_until,
        )
        else {
            panic!("publish ends on time");
        };
        assert_eq!(phase, Phase::Retire);
        assert!(old.published && !old.active && new.active);
        assert_eq!(next_at, publish_until + 60 + 86_400);
        assert_eq!(
            step(KeyRole::Zsk, Phase::Retire, next_at, false, None, TIMING, next_at),
            Step::Finish
        );
    }

    #[test]
    fn csk_roll_waits_for_the_parent() {
        let (new, publish_until) = start(KeyRole::Csk, TIMING, 0);
        assert!(new.published && !new.active);
        let Step::Advance {
            phase,
            old,
            new,
            next_at,
        } = step(
            KeyRole::Csk,
            Phase::Publish,
            publish_until,
            false,
            None,
            TIMING,
            publish_until,
        )
        else {
            panic!("publish ends on time");
        };
        assert_eq!(phase, Phase::DsWait);
        assert!(
            old.active && new.active && new.ds && !old.ds,
            "double signatures, CDS for the new key"
        );
        // However long it takes, nothing moves until the parent shows the DS.
        let later = next_at + 10 * 86_400;
        assert!(matches!(
            step(KeyRole::Csk, Phase::DsWait, next_at, false, None, TIMING, later),
            Step::Wait { .. }
        ));
        let Step::DsSeen { next_at: hold } =
            step(KeyRole::Csk, Phase::DsWait, next_at, false, Some(3600), TIMING, later)
        else {
            panic!("parent seen");
        };
        assert_eq!(hold, later + 60 + 86_400, "a CSK also waits out the zone's largest TTL");
        assert!(matches!(
            step(KeyRole::Csk, Phase::DsWait, hold, true, Some(3600), TIMING, hold - 1),
            Step::Wait { .. }
        ));
        assert_eq!(
            step(KeyRole::Csk, Phase::DsWait, hold, true, Some(3600), TIMING, hold),
            Step::Finish
        );
    }

    #[test]
    fn ksk_signs_at_once_and_waits_for_the_ds_ttl() {
        let (new, _) = start(KeyRole::Ksk, TIMING, 0);
        assert!(new.published && new.active && !new.ds);
        let Step::DsSeen { next_at } = step(KeyRole::Ksk, Phase::DsWait, 0, false, Some(600), TIMING, 100) else {
            panic!("parent seen");
        };
        assert_eq!(next_at, 100 + 60 + 600);
    }
}
