//! The search for the sustained rate: the highest arrival rate whose sagas all complete in time.

/// Where the search stands: the highest rate sustained and the lowest not, so far.
#[derive(Debug, Default)]
pub struct RateSearch {
    highest_sustained: Option<u32>,
    lowest_failed: Option<u32>,
}

impl RateSearch {
    /// A bracket narrower than this share of its top is close enough.
    const PRECISION: f64 = 0.05;

    /// Records how `rate` went and says which rate to try next: half as much again while
    /// every rate has been sustained, then halfway between the highest sustained and the
    /// lowest failed (two thirds of the first rate while none is sustained). None once the
    /// bracket is within [`RateSearch::PRECISION`].
    pub fn next(&mut self, rate: u32, sustained: bool) -> Option<u32> {
        if sustained {
            self.highest_sustained = self.highest_sustained.max(Some(rate));
        } else {
            self.lowest_failed = Some(self.lowest_failed.map_or(rate, |r| r.min(rate)));
        }
        let next = match (self.highest_sustained, self.lowest_failed) {
            (Some(low), None) => low + (low / 2).max(1),
            (None, Some(high)) => (high * 2 / 3).max(1),
            (Some(low), Some(high)) => {
                if f64::from(high - low) <= Self::PRECISION * f64::from(high) {
                    return None;
                }
                low + (high - low) / 2
            }
            (None, None) => unreachable!("a rate was just recorded"),
        };
        (next != rate && next > 0).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_grows_by_half_then_bisects_until_the_bracket_is_narrow() {
        let mut search = RateSearch::default();
        // Sustained up to 700/s, not above.
        let holds = |rate: u32| rate <= 700;
        let mut rate = 200;
        let mut tried = vec![rate];
        while let Some(next) = search.next(rate, holds(rate)) {
            rate = next;
            tried.push(rate);
            assert!(tried.len() < 20, "{tried:?}");
        }
        assert_eq!(tried[..4], [200, 300, 450, 675]);
        assert!(search.highest_sustained.unwrap() >= 665, "{tried:?}");
        assert!(search.lowest_failed.unwrap() > 700, "{tried:?}");
        let mut failing = RateSearch::default();
        assert_eq!(failing.next(300, false), Some(200));
        assert_eq!(failing.next(200, true), Some(250));
    }
}
