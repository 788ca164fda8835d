//! Random addresses, ports, process ids and seeded helper functions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An independent random stream of the run's seed.
pub(crate) fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// SplitMix64 finaliser: a well-mixed hash of `z`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)` from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn reserved_v4(a: u8, b: u8) -> bool {
    matches!(
        (a, b),
        (0, _) | (10, _) | (127, _) | (169, 254) | (192, 168) | (198, 18) | (198, 19)
    ) || (a == 100 && (64..128).contains(&b))
        || (a == 172 && (16..32).contains(&b))
        || a >= 224
}

fn is_public_v4(x: u32) -> bool {
    let [a, b, c, d] = x.to_be_bytes();
    !(reserved_v4(a, b) || (a == 192 && b == 0 && c == 0) || d == 0 || d == 255)
}

/// A global unicast IPv4 address outside private and reserved ranges.
pub(crate) fn public_v4(rng: &mut ChaCha8Rng) -> Ipv4Addr {
    loop {
        let x = rng.gen::<u32>();
        if is_public_v4(x) {
            return Ipv4Addr::from(x);
        }
    }
}

/// A bijection of `u32` (xor-shift and odd-multiply steps, each invertible).
fn permute(mut x: u32, key: u32) -> u32 {
    x ^= key;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Public IPv4 addresses that never repeat (for 2^32 draws): successive
/// counter values through a keyed bijection.
pub(crate) struct DistinctV4 {
    counter: u32,
    key: u32,
}

impl DistinctV4 {
    pub(crate) fn new(rng: &mut ChaCha8Rng) -> Self {
        DistinctV4 {
            counter: rng.gen(),
            key: rng.gen(),
        }
    }

    pub(crate) fn next_ip(&mut self) -> Ipv4Addr {
        loop {
            let x = permute(self.counter, self.key);
            self.counter = self.counter.wrapping_add(1);
            if is_public_v4(x) {
                return Ipv4Addr::from(x);
            }
        }
    }
}

/// Hosting-provider style IPv6 prefixes (first 32 bits), plus documentation.
const V6_PREFIXES: [[u16; 2]; 8] = [
    [0x2a01, 0x04f8],
    [0x2604, 0xa880],
    [0x2001, 0x41d0],
    [0x2400, 0x6180],
    [0x2a03, 0xb0c0],
    [0x2605, 0x6400],
    [0x2a05, 0xd014],
    [0x2001, 0x0db8],
];

/// A global IPv6 address.
pub(crate) fn public_v6(rng: &mut ChaCha8Rng) -> Ipv6Addr {
    let p = V6_PREFIXES[rng.gen_range(0..V6_PREFIXES.len())];
    let mut s = [0u16; 8];
    s[0] = p[0];
    s[1] = p[1];
    s[2] = rng.gen_range(0..0x1000);
    s[3] = rng.gen();
    if rng.gen_bool(0.5) {
        s[7] = rng.gen_range(1..0x100);
    } else {
        for x in &mut s[4..] {
            *x = rng.gen();
        }
    }
    Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
}

/// A public address, IPv6 with probability `v6`.
pub(crate) fn public_ip(rng: &mut ChaCha8Rng, v6: f64) -> IpAddr {
    if rng.gen_bool(v6) {
        IpAddr::V6(public_v6(rng))
    } else {
        IpAddr::V4(public_v4(rng))
    }
}

/// An ephemeral client port of a Linux client.
pub(crate) fn client_port(rng: &mut ChaCha8Rng) -> u16 {
    rng.gen_range(32_768..61_000)
}

/// Any unprivileged source port (scanners and attack tools).
pub(crate) fn any_port(rng: &mut ChaCha8Rng) -> u16 {
    rng.gen_range(1_024..=65_535)
}

pub(crate) fn pid(rng: &mut ChaCha8Rng) -> u32 {
    rng.gen_range(1_200..99_000)
}

/// A log-normal duration in seconds with the given median, clamped. Only
/// basic arithmetic is used, so results do not depend on the platform's libm.
pub(crate) fn lognormal_secs(rng: &mut ChaCha8Rng, median: f64, sigma: f64, min: i64, max: i64) -> i64 {
    // Irwin–Hall: the sum of 12 uniforms minus 6 is close to standard normal.
    let z: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
    ((median * exp(sigma * z)) as i64).clamp(min, max)
}

/// `e^x` by range reduction and a Taylor series (for |x| up to a few dozen).
fn exp(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    let k = (x / LN2).round().clamp(-1000.0, 1000.0);
    let r = x - k * LN2;
    let (mut term, mut sum) = (1.0, 1.0);
    for i in 1..=18 {
        term *= r / f64::from(i);
        sum += term;
    }
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_are_public() {
        let mut rng = stream_rng(7, 0);
        for _ in 0..20_000 {
            let ip = public_v4(&mut rng);
            assert!(
                !ip.is_private() && !ip.is_loopback() && !ip.is_multicast() && !ip.is_link_local(),
                "{ip}"
            );
            let [a, b, ..] = ip.octets();
            assert!(!(a == 100 && (64..128).contains(&b)) && a < 224 && a != 0, "{ip}");
        }
        let mut distinct = DistinctV4::new(&mut rng);
        let ips: std::collections::HashSet<Ipv4Addr> = (0..50_000).map(|_| distinct.next_ip()).collect();
        assert_eq!(ips.len(), 50_000);
        assert!(ips.iter().all(|ip| !ip.is_private() && !ip.is_loopback()));
        let v6 = public_v6(&mut rng);
        for x in [-6.0, -1.0, 0.0, 0.5, 3.0, 7.5] {
            assert!((exp(x) / f64::exp(x) - 1.0).abs() < 1e-12, "{x}");
        }
        assert!(v6.segments()[0] >= 0x2000 && v6.segments()[0] < 0x4000);
    }
}
