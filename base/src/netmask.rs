//! Netmasks as LUA records and access lists write them: `192.0.2.0/24`,
//! `2001:db8::/32`, or a bare address meaning a single host.

use std::net::IpAddr;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Netmask {
    network: IpAddr,
    prefix: u8,
}

impl Netmask {
    /// Whether `address` lies inside. An IPv4 address never matches an
    /// IPv6 netmask, nor the other way round.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Netmask {
    type Err = ();

    fn from_str(text: &str) -> Result<Netmask, ()> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| ())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().map_err(|_| ())?,
            None => max,
        };
        if prefix > max {
            return Err(());
        }
        Ok(Netmask { network, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_prefix() {
        let mask: Netmask = "192.0.2.0/24".parse().expect("netmask");
        assert!(mask.contains("192.0.2.77".parse().expect("address")));
        assert!(!mask.contains("192.0.3.1".parse().expect("address")));
        assert!(!mask.contains("::1".parse().expect("address")));
        let all: Netmask = "0.0.0.0/0".parse().expect("netmask");
        assert!(all.contains("203.0.113.9".parse().expect("address")));
        let host: Netmask = "2001:db8::1".parse().expect("netmask");
        assert!(host.contains("2001:db8::1".parse().expect("address")));
        assert!(!host.contains("2001:db8::2".parse().expect("address")));
        for bad in ["192.0.2.0/33", "x/8", "::/129", "", "1.2.3.4/"] {
            assert!(bad.parse::<Netmask>().is_err(), "{bad}");
        }
    }
}
