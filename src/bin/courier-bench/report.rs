//! Results: metrics, verification outcome, targets; printed as a table and written as JSON.

use serde_json::{json, Map, Value};

/// What a run verified, and every way it failed (the first few kept as examples).
#[derive(Default, Debug)]
pub struct Checks {
    pub verified: Vec<String>,
    pub failures: u64,
    pub examples: Vec<String>,
}

impl Checks {
    pub fn fail(&mut self, msg: impl Into<String>) {
        self.failures += 1;
        if self.examples.len() < 20 {
            self.examples.push(msg.into());
        }
    }
    pub fn merge(&mut self, other: Checks) {
        self.failures += other.failures;
        for e in other.examples {
            if self.examples.len() < 20 {
                self.examples.push(e);
            }
        }
    }
    /// Records that `what` was checked (shown in the report).
    pub fn verified(&mut self, what: impl Into<String>) {
        self.verified.push(what.into());
    }
    pub fn ok(&self) -> bool {
        self.failures == 0
    }
}

pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
}

pub struct TargetCheck {
    pub name: String,
    pub value: f64,
    pub threshold: f64,
    /// true: value must be ≥ threshold; false: ≤.
    pub at_least: bool,
    pub unit: &'static str,
    /// Whether the run's sizes are those the target is stated for.
    pub applies: bool,
}

impl TargetCheck {
    pub fn met(&self) -> bool {
        if self.at_least {
            self.value >= self.threshold
        } else {
            self.value <= self.threshold
        }
    }
}

pub struct Report {
    pub scenario: String,
    pub params: Value,
    pub metrics: Vec<Metric>,
    pub targets: Vec<TargetCheck>,
    pub checks: Checks,
    pub notes: Vec<String>,
    pub started_at: String,
    pub started: std::time::Instant,
    pub seconds: f64,
    pub load_before: String,
    pub load_after: String,
}

impl Report {
    pub fn new(scenario: &str, params: Value) -> Report {
        Report {
            scenario: scenario.to_string(),
            params,
            metrics: Vec::new(),
            targets: Vec::new(),
            checks: Checks::default(),
            notes: Vec::new(),
            started_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            started: std::time::Instant::now(),
            seconds: 0.0,
            load_before: crate::server::loadavg(),
            load_after: String::new(),
        }
    }

    pub fn metric(&mut self, name: &str, value: f64, unit: &'static str) {
        self.metrics.push(Metric {
            name: name.to_string(),
            value,
            unit,
        });
    }

    pub fn metric_opt(&mut self, name: &str, value: Option<f64>, unit: &'static str) {
        match value {
            Some(v) => self.metric(name, v, unit),
            None => self.note(format!(
                "{name}: not measured (server pid unknown: pass --server-pid)"
            )),
        }
    }

    pub fn target(
        &mut self,
        name: &str,
        metric: &str,
        threshold: f64,
        at_least: bool,
        applies: bool,
    ) {
        if let Some(m) = self.metrics.iter().find(|m| m.name == metric) {
            let (value, unit) = (m.value, m.unit);
            self.targets.push(TargetCheck {
                name: name.to_string(),
                value,
                threshold,
                at_least,
                unit,
                applies,
            });
        }
    }

    pub fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }

    pub fn verified(&self) -> bool {
        self.checks.ok()
    }

    pub fn print(&self) {
        let status = if self.verified() {
            "VERIFIED"
        } else {
            "VERIFICATION FAILED — numbers do not count"
        };
        println!();
        println!(
            "== {} — {} ({:.1} s, load {} → {}) ==",
            self.scenario, status, self.seconds, self.load_before, self.load_after
        );
        println!("   params: {}", self.params);
        println!("   {:<44} {:>16}  unit", "metric", "value");
        for m in &self.metrics {
            println!("   {:<44} {:>16}  {}", m.name, fmt_value(m.value), m.unit);
        }
        for t in &self.targets {
            let verdict = match (self.verified(), t.met()) {
                (false, _) => "NOT COUNTED",
                (true, true) => "met",
                (true, false) => "MISSED",
            };
            let cmp = if t.at_least { "≥" } else { "≤" };
            let scope = if t.applies {
                ""
            } else {
                " (sizes differ from the target's; informative)"
            };
            println!(
                "   target {:<38} {} {} {}: {} → {}{}",
                t.name,
                cmp,
                fmt_value(t.threshold),
                t.unit,
                fmt_value(t.value),
                verdict,
                scope
            );
        }
        for v in &self.checks.verified {
            println!("   verified: {v}");
        }
        if !self.checks.ok() {
            println!("   {} verification failure(s), e.g.:", self.checks.failures);
            for e in &self.checks.examples {
                println!("     - {e}");
            }
        }
        for n in &self.notes {
            println!("   note: {n}");
        }
    }

    pub fn to_json(&self) -> Value {
        let mut metrics = Map::new();
        for m in &self.metrics {
            metrics.insert(m.name.clone(), json!({ "value": m.value, "unit": m.unit }));
        }
        json!({
            "scenario": self.scenario,
            "started_at": self.started_at,
            "seconds": self.seconds,
            "verified": self.verified(),
            "verification": {
                "checked": self.checks.verified,
                "failures": self.checks.failures,
                "failure_examples": self.checks.examples,
            },
            "params": self.params,
            "metrics": metrics,
            "metric_order": self.metrics.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            "targets": self.targets.iter().map(|t| json!({
                "name": t.name,
                "value": t.value,
                "threshold": t.threshold,
                "comparison": if t.at_least { ">=" } else { "<=" },
                "unit": t.unit,
                "applies_to_these_sizes": t.applies,
                "met": self.verified() && t.met(),
            })).collect::<Vec<_>>(),
            "notes": self.notes,
            "load_before": self.load_before,
            "load_after": self.load_after,
        })
    }
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Microsecond histogram summary helpers (values recorded in µs, reported in ms).
pub fn hist_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

pub fn new_hist() -> hdrhistogram::Histogram<u64> {
    // 1 µs .. 1 hour, 3 significant digits; bounds are valid, so this cannot fail.
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}
