//! Helpers shared by the crate's unit tests.

/// A small xorshift generator: deterministic random input for the tests that
/// feed decoders garbage and expect no panic.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fewer than `max_len` random bytes.
    pub(crate) fn bytes(&mut self, max_len: u64) -> Vec<u8> {
        let len = self.next() % max_len;
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Fewer than `max_len` bytes drawn from `alphabet`.
    pub(crate) fn bytes_from(&mut self, alphabet: &[u8], max_len: u64) -> Vec<u8> {
        let len = self.next() % max_len;
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}
