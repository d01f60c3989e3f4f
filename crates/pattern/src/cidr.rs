//! The `cidr` operator: IPv4 and IPv6 networks.

use std::net::IpAddr;

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
        let address: IpAddr = address.parse().map_err(|_| {
            format!("cidr \"{text}\": \"{address}\" is not an IPv4 or IPv6 address")
        })?;
        let width = if address.is_ipv6() { 128 } else { 32 };
        let bits: u32 = bits
            .parse()
            .ok()
            .filter(|b| *b <= width)
            .ok_or_else(|| format!("cidr \"{text}\": prefix length must be 0..={width}"))?;
        let mask = mask_of(bits, width);
        Ok(Self {
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

    /// Whether `value` is an IP address of the same family inside this network.
    pub(crate) fn contains(&self, value: &str) -> bool {
        match value.parse::<IpAddr>() {
            Ok(ip) => ip.is_ipv6() == self.is_v6 && to_bits(ip) & self.mask == self.network,
            Err(_) => false,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_and_ipv6_membership() {
        let v4 = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(v4.contains("10.0.0.255"));
        assert!(!v4.contains("10.0.1.0"));
        assert!(!v4.contains("::1"));
        let v6 = Cidr::parse("2001:db8:1234:1a00::/64").unwrap();
        assert!(v6.contains("2001:db8:1234:1a00::7"));
        assert!(!v6.contains("2001:db8:1234:1a01::7"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("1.2.3.4"));
        assert!(Cidr::parse("1.2.3.4/32").unwrap().contains("1.2.3.4"));
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
