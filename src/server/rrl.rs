//! Response rate limiting (RRL) for UDP, as BIND and Knot do it.
//!
//! A reflection attack sends queries with the victim's address as source;
//! the server's answers, larger than the queries, flood the victim. The
//! limiter counts responses per client prefix (/24 for IPv4, /56 for IPv6)
//! and per kind of response, in token buckets of `rate` per second: an
//! answer counts against the query's name and type (a resolver asking for
//! many names is not limited); NXDOMAIN, referrals and answers made from a
//! wildcard against their zone (random names under one zone are one
//! flood); errors against the prefix.
//! Past the rate, responses are dropped, except every `slip`-th, which
//! goes out truncated (TC, no records), so that a real resolver behind the
//! prefix retries over TCP, which is never limited: a spoofed source cannot
//! complete a TCP handshake.
//!
//! The buckets sit in a table of fixed size, each one 64-bit word updated
//! with compare-and-swap: no lock on the UDP path, and memory that a flood
//! of unique names cannot grow. Keys that share a slot share its tokens,
//! which only ever limits sooner; with [`SLOTS`] slots, a flood of 200,000
//! distinct keys a second leaves under one response a second per slot.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base::header::{flag, rcode};
use base::netmask::Netmask;

/// Buckets in the table: 2^18, 2 MiB.
const SLOTS: usize = 1 << 18;

/// What the limiter does with one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Over the rate: send it truncated, without records.
    Slip,
    /// Over the rate: send nothing.
    Drop,
    /// Over the rate, but sent: the limiter only counts (log-only mode).
    Logged,
}

/// The kinds of response that count separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Data, or no data for the type (NODATA).
    Answer,
    /// An answer made from a wildcard, for a name that does not exist.
    Wildcard,
    NxDomain,
    Referral,
    /// Every other RCODE: REFUSED, SERVFAIL, FORMERR, NOTIMP.
    Error,
}

impl Kind {
    /// The kind of `response`, a complete DNS message, made from a
    /// wildcard or not.
    pub fn of(response: &[u8], wildcard: bool) -> Kind {
        let Some(header) = response.get(..12) else {
            return Kind::Error;
        };
        let flags = u16::from_be_bytes([header[2], header[3]]);
        let answers = u16::from_be_bytes([header[6], header[7]]);
        let authority = u16::from_be_bytes([header[8], header[9]]);
        match flags & 0x000f {
            rcode::NOERROR if answers == 0 && authority > 0 && flags & flag::AA == 0 => Kind::Referral,
            rcode::NOERROR if wildcard => Kind::Wildcard,
            rcode::NOERROR => Kind::Answer,
            rcode::NXDOMAIN => Kind::NxDomain,
            _ => Kind::Error,
        }
    }
}

/// `[rrl]` as the limiter uses it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Responses a second per prefix and kind.
    pub rate: u32,
    /// Every `slip`-th limited response goes out truncated; 0: none.
    pub slip: u32,
    /// Clients never limited.
    pub exempt: Vec<Netmask>,
    /// Count what would be limited, limit nothing.
    pub log_only: bool,
}

/// The token buckets, shared by every UDP worker.
pub struct RateLimiter {
    settings: Settings,
    buckets: Box<[AtomicU64]>,
    /// Seeded at random, so that no one can aim keys at a victim's slot.
    hasher: foldhash::fast::RandomState,
    started: Instant,
}

impl RateLimiter {
    pub fn new(settings: Settings) -> RateLimiter {
        RateLimiter {
            settings,
            buckets: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::RandomState::default(),
            started: Instant::now(),
        }
    }

    /// Whether to send a response of `kind` to `client`. `name` is the
    /// query's lowercased name and type for an answer, the zone's apex for
    /// the other kinds that have one; `limited` counts this worker's
    /// limited responses, for the slip.
    pub fn check(&self, client: IpAddr, kind: Kind, name: &[u8], qtype: u16, limited: &mut u32) -> Verdict {
        // Second 0 is that of an unused bucket.
        let now = self.started.elapsed().as_secs() as u32 + 1;
        self.check_at(now, client, kind, name, qtype, limited)
    }

    /// [`RateLimiter::check`] in second `now` of the limiter's life.
    fn check_at(&self, now: u32, client: IpAddr, kind: Kind, name: &[u8], qtype: u16, limited: &mut u32) -> Verdict {
        if self.settings.exempt.iter().any(|network| network.contains(client)) {
            return Verdict::Send;
        }
        let prefix: u64 = match client {
            IpAddr::V4(v4) => u64::from(u32::from(v4) >> 8),
            IpAddr::V6(v6) => (u128::from(v6) >> 72) as u64 | 1 << 63,
        };
        let key = match kind {
            Kind::Answer => self.hasher.hash_one((prefix, kind, name, qtype)),
            Kind::Wildcard | Kind::NxDomain | Kind::Referral => self.hasher.hash_one((prefix, kind, name)),
            Kind::Error => self.hasher.hash_one((prefix, kind)),
        };
        if self.take(&self.buckets[key as usize % SLOTS], now) {
            return Verdict::Send;
        }
        if self.settings.log_only {
            return Verdict::Logged;
        }
        *limited = limited.wrapping_add(1);
        if self.settings.slip > 0 && *limited % self.settings.slip == 0 {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }

    /// Takes a token from `bucket`, which holds the second it was last
    /// used in (high half) and the tokens left in that second (low half);
    /// a new second brings `rate` tokens. False when none is left.
    fn take(&self, bucket: &AtomicU64, now: u32) -> bool {
        let mut current = bucket.load(Ordering::Relaxed);
        loop {
            let (second, left) = ((current >> 32) as u32, current as u32);
            let left = if second == now { left } else { self.settings.rate };
            if left == 0 {
                return false;
            }
            let next = u64::from(now) << 32 | u64::from(left - 1);
            match bucket.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }
}

/// Cuts `response` to its header and question, truncated (TC) and
/// without records: the slip response, which asks a real client to retry
/// over TCP and gives an attacker nothing to amplify.
pub fn slip(response: &mut Vec<u8>) {
    if response.len() < 12 {
        return;
    }
    let questions = u16::from_be_bytes([response[4], response[5]]);
    let mut end = 12;
    if questions > 0 {
        // The question's name is never compressed: it is the first name.
        while let Some(&length) = response.get(end) {
            end += 1 + usize::from(length);
            if length == 0 {
                break;
            }
        }
        end += 4;
    }
    if end > response.len() {
        end = 12;
        response[4..6].fill(0);
    }
    response.truncate(end);
    response[2] |= (flag::TC >> 8) as u8;
    response[6..12].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, slip: u32) -> RateLimiter {
        RateLimiter::new(Settings {
            rate,
            slip,
            exempt: vec!["10.0.0.0/8".parse().expect("network")],
            log_only: false,
        })
    }

    #[test]
    fn buckets_hold_the_rate_per_prefix_kind_and_name() {
        let limiter = limiter(5, 2);
        let mut limited = 0;
        let client: IpAddr = "192.0.2.7".parse().expect("address");
        let verdicts: Vec<Verdict> = (0..20)
            .map(|_| limiter.check_at(1, client, Kind::Answer, b"\x03www\x00", 1, &mut limited))
            .collect();
        assert!(verdicts[..5].iter().all(|&v| v == Verdict::Send), "{verdicts:?}");
        assert_eq!(
            verdicts.iter().filter(|&&v| v == Verdict::Send).count(),
            5,
            "{verdicts:?}"
        );
        assert_eq!(
            verdicts.iter().filter(|&&v| v == Verdict::Slip).count(),
            15 / 2,
            "{verdicts:?}"
        );
        // Same /24: the same bucket. Another name, type, kind or prefix,
        // or a new second: others, or the same refilled.
        let mut send = |second, who: &str, kind, name: &[u8], qtype| {
            let who: IpAddr = who.parse().expect("address");
            limiter.check_at(second, who, kind, name, qtype, &mut limited) == Verdict::Send
        };
        assert!(!send(1, "192.0.2.200", Kind::Answer, b"\x03www\x00", 1));
        assert!(send(1, "192.0.2.200", Kind::Answer, b"\x04mail\x00", 1));
        assert!(send(1, "192.0.2.7", Kind::Answer, b"\x03www\x00", 28));
        assert!(send(1, "192.0.2.7", Kind::NxDomain, b"\x00", 1));
        assert!(send(1, "192.0.3.7", Kind::Answer, b"\x03www\x00", 1));
        assert!(
            send(2, "192.0.2.7", Kind::Answer, b"\x03www\x00", 1),
            "a new second brings new tokens"
        );
        assert!(
            (0..20).all(|_| send(1, "10.1.2.3", Kind::Answer, b"\x03www\x00", 1)),
            "exempt"
        );
    }

    #[test]
    fn nxdomain_counts_per_zone_and_ipv6_per_56() {
        let limiter = limiter(3, 0);
        let mut limited = 0;
        let a: IpAddr = "2001:db8:0:1::1".parse().expect("address");
        let b: IpAddr = "2001:db8:0:ff::2".parse().expect("address");
        let c: IpAddr = "2001:db8:0:100::2".parse().expect("address");
        let verdicts: Vec<Verdict> = (0..10)
            .map(|n| {
                let client = if n % 2 == 0 { a } else { b };
                limiter.check_at(1, client, Kind::NxDomain, b"\x04zone\x00", 1, &mut limited)
            })
            .collect();
        assert_eq!(
            verdicts.iter().filter(|&&v| v == Verdict::Send).count(),
            3,
            "one /56, one zone"
        );
        assert!(
            verdicts[3..].iter().all(|&v| v == Verdict::Drop),
            "slip 0 drops every limited response"
        );
        assert_eq!(
            limiter.check_at(1, c, Kind::NxDomain, b"\x04zone\x00", 1, &mut limited),
            Verdict::Send
        );
    }

    #[test]
    fn log_only_limits_nothing() {
        let limiter = RateLimiter::new(Settings {
            rate: 1,
            slip: 2,
            exempt: Vec::new(),
            log_only: true,
        });
        let mut limited = 0;
        let client: IpAddr = "192.0.2.7".parse().expect("address");
        let verdicts: Vec<Verdict> = (0..4)
            .map(|_| limiter.check_at(1, client, Kind::Error, b"", 0, &mut limited))
            .collect();
        assert_eq!(
            verdicts,
            [Verdict::Send, Verdict::Logged, Verdict::Logged, Verdict::Logged]
        );
    }

    #[test]
    fn slip_keeps_header_and_question_only() {
        // id, flags (QR AA), 1 question, 1 answer, 0, 1 additional.
        let mut response = vec![0, 7, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 1];
        response.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        let question_end = response.len();
        response.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        response.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        slip(&mut response);
        assert_eq!(response.len(), question_end);
        assert_eq!(response[2] & 0x02, 0x02, "TC set");
        assert_eq!(&response[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Kind::of(&response, false), Kind::Answer);
        assert_eq!(Kind::of(&response, true), Kind::Wildcard);
    }
}
