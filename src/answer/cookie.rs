//! DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018).
//!
//! A client sends a cookie of its own; the server answers with it and a
//! server cookie, a keyed hash of the client cookie, a timestamp and the
//! client's address. A client that sends that server cookie back proves it
//! receives what is sent to its address: its source is not forged. Such
//! clients are exempt from response rate limiting, as Knot exempts them.
//! Queries without a valid server cookie are answered as before (with a
//! fresh one): pooldns never answers BADCOOKIE, so clients that lose their
//! cookie, or reach another server behind the same address, lose nothing.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use siphasher::sip::SipHasher24;

/// A COOKIE option from a query (RFC 7873 §4): the client cookie and,
/// when the client has one, the server cookie it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookie {
    pub client: [u8; 8],
    server: [u8; 32],
    server_len: u8,
}

impl Cookie {
    /// The option's value: 8 octets of client cookie, then nothing or 8 to
    /// 32 octets of server cookie; `None` for any other length (FORMERR,
    /// RFC 7873 §5.2.2).
    pub fn parse(value: &[u8]) -> Option<Cookie> {
        if !(value.len() == 8 || (16..=40).contains(&value.len())) {
            return None;
        }
        let mut cookie = Cookie {
            client: [0; 8],
            server: [0; 32],
            server_len: (value.len() - 8) as u8,
        };
        cookie.client.copy_from_slice(&value[..8]);
        cookie.server[..value.len() - 8].copy_from_slice(&value[8..]);
        Some(cookie)
    }

    pub fn server(&self) -> &[u8] {
        &self.server[..usize::from(self.server_len)]
    }
}

/// Octets of the COOKIE option pooldns answers with: the client cookie
/// and a server cookie of version 1 (RFC 9018 §4.2).
pub const ANSWER_LEN: usize = 8 + 16;

/// Seconds a server cookie stays valid, and how far in the future its
/// timestamp may lie (RFC 9018 §4.3).
const LIFETIME: u32 = 3600;
const AHEAD: u32 = 300;

/// The secret server cookies are made with. Not shown by `Debug`.
#[derive(Clone)]
pub struct Cookies {
    secret: [u8; 16],
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cookies { .. }")
    }
}

impl Cookies {
    pub const fn new(secret: [u8; 16]) -> Cookies {
        Cookies { secret }
    }

    /// A secret of this process: cookies it gives are valid here only.
    pub fn random() -> Cookies {
        let mut secret = [0; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
            .expect("the system's random source works");
        Cookies { secret }
    }

    /// The COOKIE option value to answer `cookie` from `client` with.
    pub fn answer(&self, cookie: &Cookie, client: IpAddr) -> [u8; ANSWER_LEN] {
        self.answer_at(cookie, client, now())
    }

    fn answer_at(&self, cookie: &Cookie, client: IpAddr, now: u32) -> [u8; ANSWER_LEN] {
        let mut value = [0; ANSWER_LEN];
        value[..8].copy_from_slice(&cookie.client);
        // Version 1, three reserved octets, the timestamp, the hash.
        value[8] = 1;
        value[12..16].copy_from_slice(&now.to_be_bytes());
        let hash = self.hash(&value[..16], client);
        value[16..].copy_from_slice(&hash);
        value
    }

    /// Whether `cookie` carries a server cookie this server gave `client`
    /// within its lifetime.
    pub fn is_valid(&self, cookie: &Cookie, client: IpAddr) -> bool {
        self.is_valid_at(cookie, client, now())
    }

    fn is_valid_at(&self, cookie: &Cookie, client: IpAddr, now: u32) -> bool {
        let server = cookie.server();
        if server.len() != 16 || server[0] != 1 {
            return false;
        }
        let issued = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        // Serial-number arithmetic (RFC 1982), as RFC 9018 §4.3 asks.
        let age = now.wrapping_sub(issued);
        if age > LIFETIME && issued.wrapping_sub(now) > AHEAD {
            return false;
        }
        let mut signed = [0u8; 16];
        signed[..8].copy_from_slice(&cookie.client);
        signed[8..].copy_from_slice(&server[..8]);
        self.hash(&signed, client) == server[8..]
    }

    /// SipHash-2-4 of the client cookie, version, reserved octets and
    /// timestamp (`head`) and the client's address (RFC 9018 §4.4).
    fn hash(&self, head: &[u8], client: IpAddr) -> [u8; 8] {
        let mut hasher = SipHasher24::new_with_key(&self.secret);
        std::hash::Hasher::write(&mut hasher, head);
        match client {
            IpAddr::V4(v4) => std::hash::Hasher::write(&mut hasher, &v4.octets()),
            IpAddr::V6(v6) => std::hash::Hasher::write(&mut hasher, &v6.octets()),
        }
        std::hash::Hasher::finish(&hasher).to_le_bytes()
    }
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_cookie_is_valid_for_its_client_and_lifetime_only() {
        let cookies = Cookies::new([7; 16]);
        let client: IpAddr = "192.0.2.1".parse().expect("address");
        let first = Cookie::parse(b"clientck").expect("client cookie");
        assert_eq!(first.server(), b"");
        assert!(!cookies.is_valid_at(&first, client, 1000));
        let answer = cookies.answer_at(&first, client, 1000);
        assert_eq!(&answer[..8], b"clientck");
        let back = Cookie::parse(&answer).expect("full cookie");
        assert!(cookies.is_valid_at(&back, client, 1000));
        assert!(cookies.is_valid_at(&back, client, 1000 + LIFETIME));
        assert!(!cookies.is_valid_at(&back, client, 1001 + LIFETIME), "expired");
        assert!(
            cookies.is_valid_at(&back, client, 1000 - AHEAD),
            "a clock a little behind"
        );
        assert!(!cookies.is_valid_at(&back, client, 999 - AHEAD), "from too far ahead");
        assert!(
            !cookies.is_valid_at(&back, "192.0.2.2".parse().expect("address"), 1000),
            "another client"
        );
        assert!(
            !Cookies::new([8; 16]).is_valid_at(&back, client, 1000),
            "another secret"
        );
        let mut forged = answer;
        forged[23] ^= 1;
        assert!(!cookies.is_valid_at(&Cookie::parse(&forged).expect("cookie"), client, 1000));
        // A timestamp close to the wrap of 32-bit time still works.
        let late = cookies.answer_at(&first, client, u32::MAX - 10);
        assert!(cookies.is_valid_at(&Cookie::parse(&late).expect("cookie"), client, 20));
    }

    #[test]
    fn cookie_lengths_follow_rfc_7873() {
        for len in [0, 1, 7, 9, 15, 41] {
            assert!(Cookie::parse(&vec![1; len]).is_none(), "{len} octets");
        }
        for len in [8, 16, 40] {
            assert!(Cookie::parse(&vec![1; len]).is_some(), "{len} octets");
        }
        assert_eq!(format!("{:?}", Cookies::new([9; 16])), "Cookies { .. }");
    }
}
