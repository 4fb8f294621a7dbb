//! Figures of the heartbeat round trips that `/message-test` shows: the summary beside the chart
//! and the chart's y scale. Pure, so host tests cover them.

/// Last, min, median and 95th percentile of the round trips (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttSummary {
    pub last: f64,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
}

/// The summary of `samples` (oldest first); `None` while there are none.
pub fn summarize(samples: &[f64]) -> Option<RttSummary> {
    let last = *samples.iter().rev().find(|v| v.is_finite())?;
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    // Nearest rank: the smallest sample with at least 95 % of the samples at or below it.
    let rank = (0.95 * n as f64).ceil() as usize;
    Some(RttSummary {
        last,
        min: sorted[0],
        median,
        p95: sorted[rank.clamp(1, n) - 1],
    })
}

/// The top of the chart's y axis: the smallest of 1, 2, 4, 6, 8 × 10ⁿ ms that is at least
/// `max` (and at least 1 ms), so that the labels at 0, ½ and the top read as round numbers.
pub fn axis_max(max: f64) -> f64 {
    if !max.is_finite() || max <= 1.0 {
        return 1.0;
    }
    let mut decade = 10f64.powf(max.log10().floor());
    loop {
        for step in [1.0, 2.0, 4.0, 6.0, 8.0] {
            let top = step * decade;
            if top >= max {
                return top;
            }
        }
        decade *= 10.0;
    }
}

/// A y-axis label: whole milliseconds, or one decimal below 10 when needed ("0.5 ms").
pub fn label(ms: f64) -> String {
    if ms.fract() == 0.0 || ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN]), None);
    }

    #[test]
    fn summary_of_one_and_of_many() {
        let one = summarize(&[7.5]).unwrap();
        assert_eq!(
            (one.last, one.min, one.median, one.p95),
            (7.5, 7.5, 7.5, 7.5)
        );

        // 1..=20 in shuffled order, the last one 3: median (10+11)/2, p95 the 19th of 20.
        let mut v: Vec<f64> = (1..=20).map(f64::from).rev().collect();
        v.retain(|&x| x != 3.0);
        v.push(3.0);
        let s = summarize(&v).unwrap();
        assert_eq!(s.last, 3.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.median, 10.5);
        assert_eq!(s.p95, 19.0);

        let odd = summarize(&[5.0, 1.0, 9.0]).unwrap();
        assert_eq!(odd.median, 5.0);
        assert_eq!(odd.p95, 9.0);
    }

    #[test]
    fn axis_is_round_and_covers_the_max() {
        assert_eq!(axis_max(0.0), 1.0);
        assert_eq!(axis_max(0.4), 1.0);
        assert_eq!(axis_max(1.0), 1.0);
        assert_eq!(axis_max(1.2), 2.0);
        assert_eq!(axis_max(3.1), 4.0);
        assert_eq!(axis_max(9.0), 10.0);
        assert_eq!(axis_max(10.0), 10.0);
        assert_eq!(axis_max(47.0), 60.0);
        assert_eq!(axis_max(81.0), 100.0);
        assert_eq!(axis_max(1234.0), 2000.0);
        assert_eq!(axis_max(f64::INFINITY), 1.0);
    }

    #[test]
    fn labels() {
        assert_eq!(label(0.0), "0 ms");
        assert_eq!(label(0.5), "0.5 ms");
        assert_eq!(label(3.0), "3 ms");
        assert_eq!(label(30.0), "30 ms");
        assert_eq!(label(1000.0), "1000 ms");
    }
}
