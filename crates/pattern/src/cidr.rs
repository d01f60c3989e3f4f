//! The `cidr` operator: IPv4 and IPv6 networks (and exact values that read as an IP
//! address). How the operand is read, how a value is compared, and the index (a hash
//! table per prefix length).

use std::net::IpAddr;

use serde_json::Value;

use crate::error::PatternError;
use crate::ids::StateId;
use crate::place::Place;

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// `{"cidr": "..."}`.
pub(crate) fn parse(operand: &Value, place: &Place) -> Result<Cidr, PatternError> {
    match operand {
        Value::String(s) => Cidr::parse(s).map_err(|e| place.error(e)),
        _ => Err(place.error("cidr expects a string such as \"10.0.0.0/24\"")),
    }
}

/// A network such as `10.0.0.0/24` or `2001:db8::/64`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cidr {
    /// As written, for display.
    text: String,
    is_v6: bool,
    network: u128,
    mask: u128,
}

impl Cidr {
    /// Parses `address/bits`; host bits set in the address are ignored.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (address, bits) = text
            .split_once('/')
            .ok_or_else(|| format!("cidr \"{text}\" needs the form address/prefix-length"))?;
        let address = ip_address(address).ok_or_else(|| {
            format!(
                "cidr \"{text}\": \"{address}\" is not an IPv4 address (a.b.c.d) or an IPv6 address in hex and colons"
            )
        })?;
        let width = if address.is_ipv6() { 128 } else { 32 };
        // EventBridge (like event-ruler) refuses a full-length mask (/32, /128): a single
        // address is matched with an exact string instead.
        let bits: u32 = bits
            .parse()
            .ok()
            .filter(|b| *b < width)
            .ok_or_else(|| {
                format!(
                    "cidr \"{text}\": prefix length must be 0..={}; match one address with an exact value",
                    width - 1
                )
            })?;
        let mask = mask_of(bits, width);
        Ok(Self {
            text: text.to_owned(),
            is_v6: address.is_ipv6(),
            network: to_bits(address) & mask,
            mask,
        })
    }

    /// The one address an exact string value names, when it reads as an IP address:
    /// EventBridge compares such values as addresses (`FE80::` equals `fe80::`).
    pub(crate) fn single_address(text: &str) -> Option<Self> {
        let address = ip_address(text)?;
        let width = if address.is_ipv6() { 128 } else { 32 };
        let mask = mask_of(width, width);
        Some(Self {
            text: text.to_owned(),
            is_v6: address.is_ipv6(),
            network: to_bits(address) & mask,
            mask,
        })
    }

    /// The network as written (`10.0.0.0/24`).
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// `(is IPv6, prefix length, network bits)`: the key the machine's cidr index hashes.
    pub(crate) fn key(&self) -> (bool, u32, u128) {
        (self.is_v6, self.mask.count_ones(), self.network)
    }

    /// Whether `value` is an IP address of the same family inside this network.
    pub(crate) fn contains(&self, value: &str) -> bool {
        match ip_address(value) {
            Some(ip) if ip.is_ipv6() == self.is_v6 => to_bits(ip) & self.mask == self.network,
            // EventBridge (event-ruler) compares addresses as hex digit strings, an IPv4
            // network against the first 8 digits: an IPv6 address falls in an IPv4 network
            // when its top 32 bits do (every IPv6 address is in 0.0.0.0/0).
            Some(IpAddr::V6(v6)) => (u128::from(v6) >> 96) & self.mask == self.network,
            Some(IpAddr::V4(_)) => false,
            None => false,
        }
    }
}

/// An IP address as EventBridge (event-ruler, through Java's `InetAddress`) reads one:
/// IPv4 as four dot-separated decimal numbers up to 255, leading zeros allowed
/// (`010.000.000.001` is `10.0.0.1`); IPv6 in hex digits and colons only (no embedded
/// IPv4 part), any case; an IPv4-mapped IPv6 address (`::ffff:a00:1`) is its IPv4 address.
fn ip_address(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        if !text.chars().all(|c| c == ':' || c.is_ascii_hexdigit()) {
            return None;
        }
        let v6: std::net::Ipv6Addr = text.parse().ok()?;
        return Some(match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        });
    }
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 10 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = u8::try_from(part.parse::<u32>().ok()?).ok()?;
    }
    parts.next().is_none().then(|| IpAddr::V4(octets.into()))
}

/// An IP address as `(is IPv6, bits)`, read as [`Cidr::contains`] reads one.
pub(crate) fn address_bits(text: &str) -> Option<(bool, u128)> {
    ip_address(text).map(|ip| (ip.is_ipv6(), to_bits(ip)))
}

/// The mask of a prefix length in a 32- (IPv4) or 128-bit (IPv6) address.
pub(crate) fn prefix_mask(bits: u32, is_v6: bool) -> u128 {
    mask_of(bits, if is_v6 { 128 } else { 32 })
}

fn to_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn mask_of(bits: u32, width: u32) -> u128 {
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    if bits == 0 {
        0
    } else {
        all & !((1u128 << (width - bits)) - 1)
    }
}

/// `cidr` networks (and exact values that read as IP addresses): one hash table of
/// network addresses per family and prefix length.
#[derive(Debug, Clone, Default)]
pub(crate) struct CidrIndex {
    tables: Vec<CidrTable>,
}

#[derive(Debug, Clone)]
struct CidrTable {
    is_v6: bool,
    bits: u32,
    mask: u128,
    networks: Map<u128, Vec<StateId>>,
}

impl CidrIndex {
    pub(crate) fn insert(&mut self, cidr: &Cidr, next: StateId) {
        let (is_v6, bits, network) = cidr.key();
        let at = match self
            .tables
            .iter()
            .position(|t| t.is_v6 == is_v6 && t.bits == bits)
        {
            Some(at) => at,
            None => {
                self.tables.push(CidrTable {
                    is_v6,
                    bits,
                    mask: prefix_mask(bits, is_v6),
                    networks: Map::default(),
                });
                self.tables.len() - 1
            }
        };
        self.tables[at]
            .networks
            .entry(network)
            .or_default()
            .push(next);
    }

    /// Next states of the networks holding `value`, read as [`Cidr::contains`] reads it.
    pub(crate) fn collect(&self, value: &str, out: &mut Vec<StateId>) {
        if self.tables.is_empty() {
            return;
        }
        let Some((is_v6, address)) = address_bits(value) else {
            return;
        };
        for table in &self.tables {
            let probe = match (table.is_v6, is_v6) {
                (true, true) | (false, false) => address,
                // An IPv6 address falls in an IPv4 network when its top 32 bits do.
                (false, true) => address >> 96,
                (true, false) => continue,
            };
            if let Some(nexts) = table.networks.get(&(probe & table.mask)) {
                out.extend_from_slice(nexts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_of(text: &str) -> Cidr {
        Cidr::parse(text).unwrap()
    }

    #[test]
    fn ipv4_and_ipv6_membership() {
        let v4 = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(v4.contains("10.0.0.255"));
        assert!(!v4.contains("10.0.1.0"));
        assert!(!v4.contains("::1"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("::1"));
        assert!(!v6_of("2001:db8::/32").contains("10.0.0.1"));
        let v6 = Cidr::parse("2001:db8:1234:1a00::/64").unwrap();
        assert!(v6.contains("2001:db8:1234:1a00::7"));
        assert!(!v6.contains("2001:db8:1234:1a01::7"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("1.2.3.4"));
        assert!(Cidr::parse("1.2.3.4/31").unwrap().contains("1.2.3.5"));
        assert!(Cidr::parse("1.2.3.4/32").is_err());
        assert!(Cidr::parse("2001:db8::1/128").is_err());
        assert!(Cidr::parse("::ffff:10.0.0.0/120").is_err());
        assert!(v4.contains("010.000.000.001"));
        assert!(Cidr::single_address("FE80::").unwrap().contains("fe80::"));
        assert!(Cidr::single_address("10.0.0.256").is_none());
    }

    #[test]
    fn malformed_networks_are_rejected() {
        for bad in [
            "bad-filter",
            "xx.11.xx/8",
            "bad-/64filter",
            "10.0.0.0/33",
            "10.0.0.0",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
