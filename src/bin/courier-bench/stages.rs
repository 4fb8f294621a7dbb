//! Where the server's time goes: snapshots of its `/metrics` before and after a run, turned into
//! per-stage figures — `courier_send_stage_seconds{stage}` (queue, begin, statements, commit,
//! push) and `courier_send_to_sent_seconds` (the server's own receive → commit → reply time).
//!
//! The histograms give exact means (sum ÷ count) and bucketed quantiles: a p99 here is the upper
//! bound of the bucket it falls in, so read it as "at most".

use std::collections::BTreeMap;
use std::time::Duration;

use crate::report::Report;

/// The stages, in the order a send goes through them.
pub const STAGES: [&str; 5] = ["queue", "begin", "statements", "commit", "push"];

#[derive(Default, Clone)]
struct Hist {
    sum: f64,
    count: f64,
    /// (upper bound in seconds, cumulative count), ascending.
    buckets: Vec<(f64, f64)>,
}

/// One scrape of the histograms this module reads.
#[derive(Default)]
pub struct Snapshot {
    hists: BTreeMap<String, Hist>,
}

impl Snapshot {
    /// Scrapes `url` (the server's `/metrics`); None when it does not answer.
    pub async fn take(http: &reqwest::Client, url: &str) -> Option<Snapshot> {
        let text = http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(Snapshot::parse(&text))
    }

    pub fn parse(text: &str) -> Snapshot {
        let mut s = Snapshot::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (series, ""),
            };
            let label = |key: &str| {
                labels.split(',').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == key).then(|| v.trim_matches('"').to_string())
                })
            };
            let (base, part) = if let Some(b) = name.strip_suffix("_bucket") {
                (b, "bucket")
            } else if let Some(b) = name.strip_suffix("_sum") {
                (b, "sum")
            } else if let Some(b) = name.strip_suffix("_count") {
                (b, "count")
            } else {
                continue;
            };
            let key = match base {
                "courier_send_stage_seconds" => match label("stage") {
                    Some(stage) => stage,
                    None => continue,
                },
                "courier_send_to_sent_seconds" => "send_to_sent".to_string(),
                _ => continue,
            };
            let h = s.hists.entry(key).or_default();
            match part {
                "sum" => h.sum = value,
                "count" => h.count = value,
                _ => {
                    let le = match label("le").as_deref() {
                        Some("+Inf") | None => f64::INFINITY,
                        Some(v) => v.parse().unwrap_or(f64::INFINITY),
                    };
                    h.buckets.push((le, value));
                }
            }
        }
        for h in s.hists.values_mut() {
            h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        s
    }

    /// What happened between `before` and this snapshot, for one histogram.
    fn delta(&self, before: &Snapshot, key: &str) -> Option<Hist> {
        let a = self.hists.get(key)?;
        let empty = Hist::default();
        let b = before.hists.get(key).unwrap_or(&empty);
        let count = a.count - b.count;
        if count <= 0.0 {
            return None;
        }
        let buckets = a
            .buckets
            .iter()
            .map(|(le, c)| {
                let prev = b
                    .buckets
                    .iter()
                    .find(|(l, _)| l == le)
                    .map(|(_, c)| *c)
                    .unwrap_or(0.0);
                (*le, c - prev)
            })
            .collect();
        Some(Hist {
            sum: a.sum - b.sum,
            count,
            buckets,
        })
    }

    /// Adds the per-stage figures of the run between `before` and `self` to the report:
    /// `server_<stage>_mean` and `server_<stage>_p99` (bucket bound) in µs, and how many times the
    /// per-batch stages ran (`server_batches`).
    pub fn report_since(&self, before: &Snapshot, report: &mut Report) {
        let mut any = false;
        for key in STAGES.iter().copied().chain(["send_to_sent"]) {
            let Some(h) = self.delta(before, key) else {
                continue;
            };
            any = true;
            report.metric(&format!("server_{key}_mean"), h.sum / h.count * 1e6, "µs");
            if let Some(p99) = quantile_bound(&h, 0.99) {
                report.metric(&format!("server_{key}_p99_at_most"), p99 * 1e6, "µs");
            }
            if key == "commit" {
                report.metric("server_batches", h.count, "batches");
            }
        }
        if !any {
            report.note("server stage timings: no sends observed in /metrics");
        }
    }
}

/// The upper bound of the bucket holding quantile `q` (None if it is the +Inf bucket).
fn quantile_bound(h: &Hist, q: f64) -> Option<f64> {
    let rank = q * h.count;
    h.buckets
        .iter()
        .find(|(_, c)| *c >= rank)
        .map(|(le, _)| *le)
        .filter(|le| le.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP courier_send_stage_seconds x
courier_send_stage_seconds_sum{stage="commit"} 0.5
courier_send_stage_seconds_count{stage="commit"} 100
courier_send_stage_seconds_bucket{le="0.001",stage="commit"} 10
courier_send_stage_seconds_bucket{le="0.01",stage="commit"} 100
courier_send_stage_seconds_bucket{le="+Inf",stage="commit"} 100
courier_send_to_sent_seconds_sum 1.0
courier_send_to_sent_seconds_count 100
courier_send_to_sent_seconds_bucket{le="0.02"} 100
courier_send_to_sent_seconds_bucket{le="+Inf"} 100
"#;

    #[test]
    fn a_delta_of_two_scrapes_gives_means_and_bucket_bounds() {
        let before = Snapshot::parse(&TEXT.replace(" 100\n", " 50\n").replace("0.5\n", "0.25\n"));
        let after = Snapshot::parse(TEXT);
        let commit = after.delta(&before, "commit").unwrap();
        assert_eq!(commit.count, 50.0);
        assert!((commit.sum / commit.count - 0.005).abs() < 1e-12);
        // The first scrape already held the 10 fast ones: all 50 new ones are in the 10 ms bucket.
        assert_eq!(quantile_bound(&commit, 0.99), Some(0.01));
        assert_eq!(quantile_bound(&commit, 0.01), Some(0.01));
        assert_eq!(
            quantile_bound(&after.delta(&Snapshot::default(), "commit").unwrap(), 0.1),
            Some(0.001)
        );
        let s2s = after.delta(&before, "send_to_sent").unwrap();
        assert_eq!(s2s.count, 50.0);
        assert!(after.delta(&before, "queue").is_none());
    }
}
