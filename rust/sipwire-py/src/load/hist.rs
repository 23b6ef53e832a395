//! A log-linear histogram of microseconds: exact below 128 µs, then 64 buckets per power of
//! two (at most 1/64 relative error), a fixed 2,304 counters whatever the run's length.

const LINEAR: u64 = 128;
const SUB: u32 = 6; // 2^6 = 64 buckets per octave
const OCTAVES: usize = 34; // up to 2^41 µs, about 25 days
const SIZE: usize = LINEAR as usize + OCTAVES * (1 << SUB);

#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; SIZE],
            total: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= 7
    let sub = ((v >> (e - SUB)) & ((1 << SUB) - 1)) as usize;
    let octave = (e - 7) as usize;
    (LINEAR as usize + octave * (1 << SUB) + sub).min(SIZE - 1)
}

/// The middle of bucket `i`.
fn value(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let k = i - LINEAR as usize;
    let e = (k >> SUB) as u32 + 7;
    let sub = (k & ((1 << SUB) - 1)) as u64;
    let width = 1u64 << (e - SUB);
    (1u64 << e) + sub * width + width / 2
}

impl Histogram {
    pub fn record(&mut self, us: u64) {
        if let Some(c) = self.counts.get_mut(index(us)) {
            *c += 1;
        }
        self.total += 1;
        self.max = self.max.max(us);
        self.sum += u128::from(us);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum as f64 / self.total as f64)
    }

    /// The value at percentile `p` (0-100): the smallest bucket holding at least p % of
    /// the samples; None without samples.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(value(i).min(self.max));
            }
        }
        Some(self.max)
    }

    pub fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.total = 0;
        self.max = 0;
        self.sum = 0;
    }
}
