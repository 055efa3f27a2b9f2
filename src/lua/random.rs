//! A fast per-thread random source for the random pickers. Not for
//! secrets: it only spreads answers.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

thread_local! {
    static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()) | 1);
}

/// xorshift64*: uniform enough for load spreading, and a few cycles.
pub fn next_u64() -> u64 {
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

pub fn next_u32() -> u32 {
    (next_u64() >> 32) as u32
}

/// A number in `0..n`; 0 when `n` is 0.
pub fn below(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    ((u128::from(next_u64()) * n as u128) >> 64) as usize
}

/// Fisher-Yates.
pub fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, below(i + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_the_range() {
        let mut seen = [0u32; 5];
        for _ in 0..5000 {
            seen[below(5)] += 1;
        }
        assert!(seen.iter().all(|&count| count > 700), "{seen:?}");
        assert_eq!(below(0), 0);
        let mut items = [1, 2, 3, 4];
        shuffle(&mut items);
        items.sort();
        assert_eq!(items, [1, 2, 3, 4]);
    }
}
