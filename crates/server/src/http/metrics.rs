//! Prometheus metrics: request counts by route, method and status, and a latency histogram by
//! route and method. Exposed at `/metrics` in the text exposition format.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::Method;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(Method, &'static str, u16), u64>>,
    latency: Mutex<HashMap<(Method, &'static str), Histogram>>,
}

impl Metrics {
    pub fn observe(&self, method: &Method, route: &'static str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .unwrap()
            .entry((method.clone(), route, status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap();
        let h = latency.entry((method.clone(), route)).or_default();
        h.count += 1;
        h.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP palisade_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE palisade_http_requests_total counter\n");
        let mut rows: Vec<_> = self
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|((m, r, s), n)| (r.to_string(), m.to_string(), *s, *n))
            .collect();
        rows.sort();
        for (route, method, status, n) in rows {
            let _ = writeln!(
                out,
                "palisade_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP palisade_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE palisade_http_request_duration_seconds histogram\n");
        let latency = self.latency.lock().unwrap();
        let mut keys: Vec<_> = latency.keys().cloned().collect();
        keys.sort_by(|a, b| (a.1, a.0.as_str()).cmp(&(b.1, b.0.as_str())));
        for key in keys {
            let h = &latency[&key];
            let (method, route) = (&key.0, key.1);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "palisade_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "palisade_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "palisade_http_request_duration_seconds_sum{{route=\"{route}\",method=\"{method}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "palisade_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\"}} {}",
                h.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe(&Method::GET, "/x", 200, Duration::from_micros(300));
        m.observe(&Method::GET, "/x", 200, Duration::from_millis(30));
        m.observe(&Method::GET, "/x", 404, Duration::from_millis(2));
        let text = m.render();
        assert!(text.contains(
            "palisade_http_requests_total{route=\"/x\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "palisade_http_requests_total{route=\"/x\",method=\"GET\",status=\"404\"} 1"
        ));
        assert!(text.contains("le=\"0.0005\"} 1"));
        assert!(text.contains("le=\"0.0025\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 3"));
        assert!(text.contains(
            "palisade_http_request_duration_seconds_count{route=\"/x\",method=\"GET\"} 3"
        ));
    }
}
