//! Incremental Gaussian elimination over GF(2) for fountain-coded fragments.
//!
//! Each received part is a row: a bit set of the fragments XOR-ed into it and the
//! XOR of their bytes. Rows are kept in echelon form keyed by their lowest set bit,
//! so a new row is useful exactly when it raises the rank. With rank K the system is
//! solved by back substitution. Unlike a peeling decoder, which must wait until some
//! part reduces to a single fragment, this completes as soon as the received parts
//! span all K fragments: about K + 2 parts for the UR degree distribution.

/// One equation: `bits` names the fragments XOR-ed together into `data`.
#[derive(Clone, Debug)]
struct Row {
    bits: Vec<u64>,
    data: Vec<u8>,
}

impl Row {
    fn lowest_bit(&self) -> Option<usize> {
        self.bits
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }

    fn xor_with(&mut self, other: &Row) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a ^= b;
        }
        xor_into(&mut self.data, &other.data);
    }

    fn has_bit(&self, bit: usize) -> bool {
        self.bits
            .get(bit / 64)
            .is_some_and(|w| w & (1u64 << (bit % 64)) != 0)
    }
}

pub(crate) fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (a, b) in dst.iter_mut().zip(src) {
        *a ^= b;
    }
}

/// Solver for `k` unknown fragments of `fragment_len` bytes each.
#[derive(Debug)]
pub(crate) struct Gf2Solver {
    k: usize,
    fragment_len: usize,
    pivots: Vec<Option<Row>>,
    rank: usize,
}

impl Gf2Solver {
    pub(crate) fn new(k: usize, fragment_len: usize) -> Self {
        Self {
            k,
            fragment_len,
            pivots: vec![None; k],
            rank: 0,
        }
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.rank == self.k
    }

    /// Adds an equation. Returns true when it raised the rank (the part was useful).
    /// Indexes at or beyond `k` are ignored (callers validate them first); `data`
    /// must be `fragment_len` bytes.
    pub(crate) fn insert(&mut self, indexes: &[usize], data: &[u8]) -> bool {
        if data.len() != self.fragment_len {
            return false;
        }
        let mut row = Row {
            bits: vec![0; self.k.div_ceil(64)],
            data: data.to_vec(),
        };
        for &i in indexes.iter().filter(|&&i| i < self.k) {
            // XOR, not OR: a fragment named twice cancels out of the sum.
            if let Some(w) = row.bits.get_mut(i / 64) {
                *w ^= 1u64 << (i % 64);
            }
        }
        while let Some(bit) = row.lowest_bit() {
            match self.pivots.get(bit) {
                Some(Some(pivot)) => row.xor_with(pivot),
                Some(None) => {
                    self.pivots[bit] = Some(row);
                    self.rank += 1;
                    return true;
                }
                None => return false,
            }
        }
        false
    }

    /// The fragments in order, once the rank is full.
    pub(crate) fn solve(&self) -> Option<Vec<Vec<u8>>> {
        if !self.is_complete() {
            return None;
        }
        let mut solved: Vec<Vec<u8>> = vec![Vec::new(); self.k];
        // Pivot p's row holds bit p and only higher bits, so solving from the top down
        // needs only fragments already solved.
        for p in (0..self.k).rev() {
            let row = self.pivots.get(p)?.as_ref()?;
            let mut data = row.data.clone();
            for (c, fragment) in solved.iter().enumerate().skip(p + 1) {
                if row.has_bit(c) {
                    xor_into(&mut data, fragment);
                }
            }
            solved[p] = data;
        }
        Some(solved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_mixed_system_that_peeling_cannot_start() {
        // No part names a single fragment, so a peeling decoder is stuck; elimination is not.
        let f = [vec![1u8, 2], vec![3, 4], vec![5, 6]];
        let x = |idx: &[usize]| {
            let mut d = vec![0u8; 2];
            for &i in idx {
                xor_into(&mut d, &f[i]);
            }
            d
        };
        let mut s = Gf2Solver::new(3, 2);
        assert!(s.insert(&[0, 1], &x(&[0, 1])));
        assert!(s.insert(&[1, 2], &x(&[1, 2])));
        assert!(
            !s.insert(&[0, 2], &x(&[0, 2])),
            "dependent row must not count"
        );
        assert!(s.solve().is_none());
        assert!(s.insert(&[0, 1, 2], &x(&[0, 1, 2])));
        assert_eq!(s.solve().unwrap(), f.to_vec());
    }

    #[test]
    fn fail_wrong_length_or_out_of_range_is_not_useful() {
        let mut s = Gf2Solver::new(2, 4);
        assert!(!s.insert(&[0], &[1, 2, 3]));
        assert!(!s.insert(&[7], &[1, 2, 3, 4]));
        assert_eq!(s.rank(), 0);
    }
}
