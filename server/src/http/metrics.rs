//! `GET /api/metrics`: the server's counters in the Prometheus text format (version 0.0.4), and the
//! middleware that times every request for it. The route sits under `/api` so that the same gate
//! (the API switch, basic auth per `[API] Authorization`) guards it: seat counts and computer-facing
//! counters are the administrator's business.
//!
//! Gauges (licences, keys, connections) are read from the ledger at scrape time, so a scrape always
//! agrees with `/api/licences`; counters and latency come from [`crate::observe::Observe`].

use crate::app::App;
use crate::observe::{Counters, HistogramSnapshot, Route};
use axum::extract::FromRef;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use licence_protocol::key::SeriesId;
use std::collections::BTreeMap;
use std::fmt::{Display, Write};
use std::sync::Arc;
use std::time::Instant;

/// The exposition format's media type, as Prometheus asks for it.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

const PREFIX: &str = "licenceserver_";

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<App>: FromRef<S>,
{
    Router::new().route("/api/metrics", get(metrics))
}

/// Times every request and records it by route group (outside the gate, so refusals count too).
pub async fn timed(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = Route::of(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    app.observe.request(route, started.elapsed());
    response
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let live = Live::read(&app);
    let counters = app.observe.counters();
    let started = app.info.started.unix_millis() as f64 / 1000.0;
    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], render(&live, &counters, started)).into_response()
}

/// What the ledger and the keys say now.
#[derive(Debug, Default)]
struct Live {
    /// (series, licences the counting keys give, licences in use).
    series: Vec<(SeriesId, u32, u32)>,
    /// Installed keys by series and whether they are workable.
    keys: BTreeMap<(SeriesId, bool), u32>,
    connections: usize,
    sessions: usize,
}

impl Live {
    fn read(app: &App) -> Self {
        app.read(|inner, _| Self::of(inner))
    }

    fn of(inner: &crate::app::Inner) -> Self {
        let series = inner
            .standing
            .all_series()
            .map(|s| (s.series, s.capacity, inner.ledger.used_in_series(s.series)))
            .collect();
        let mut keys = BTreeMap::new();
        for key in inner.keys.values() {
            *keys.entry((key.series, key.workable)).or_default() += 1;
        }
        Live { series, keys, connections: inner.ledger.connection_count(), sessions: inner.ledger.session_count() }
    }
}

fn render(live: &Live, c: &Counters, start_time: f64) -> String {
    let mut e = Exposition::default();
    e.family("licences_capacity", "gauge", "Licences the counting keys of a series give.");
    for (series, capacity, _) in &live.series {
        e.sample("licences_capacity", &[("series", series.as_str())], capacity);
    }
    e.family("licences_used", "gauge", "Licences of a series in use.");
    for (series, _, used) in &live.series {
        e.sample("licences_used", &[("series", series.as_str())], used);
    }
    e.family("keys", "gauge", "Installed keys by series and whether they are workable on this server.");
    for ((series, workable), n) in &live.keys {
        e.sample("keys", &[("series", series.as_str()), ("workable", if *workable { "true" } else { "false" })], n);
    }
    e.family("connections", "gauge", "Live add-in connections.");
    e.sample("connections", &[], live.connections);
    e.family("sessions", "gauge", "Live 1C sessions holding a licence.");
    e.sample("sessions", &[], live.sessions);
    e.family("denials_total", "counter", "Licences refused, by series and the protocol error's name.");
    for (series, reason, n) in &c.denials {
        let series = series.as_ref().map_or("other", SeriesId::as_str);
        e.sample("denials_total", &[("series", series), ("reason", reason)], n);
    }
    e.family("leases_expired_total", "counter", "Connections and sessions ended because their lease ran out.");
    e.sample("leases_expired_total", &[("kind", "connection")], c.expired_connections);
    e.sample("leases_expired_total", &[("kind", "session")], c.expired_sessions);
    e.family("licences_granted_total", "counter", "Licences given to sessions that did not hold one.");
    e.sample("licences_granted_total", &[], c.granted);
    e.family("licences_released_total", "counter", "Licences given back by release or disconnect.");
    e.sample("licences_released_total", &[], c.released);
    e.family("addin_calls_total", "counter", "Add-in protocol calls, by call.");
    for (call, n) in &c.addin_calls {
        e.sample("addin_calls_total", &[("call", call)], n);
    }
    e.family("request_duration_seconds", "histogram", "Time to answer a request, by route group.");
    for (group, h) in &c.latency {
        e.histogram("request_duration_seconds", group.name(), h);
    }
    e.family("start_time_seconds", "gauge", "When the server started, in seconds since the Unix epoch.");
    e.sample("start_time_seconds", &[], start_time);
    e.family("uptime_seconds", "gauge", "Seconds since the server started.");
    e.sample("uptime_seconds", &[], c.uptime.as_secs_f64());
    e.out
}

#[derive(Debug, Default)]
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.out, "# HELP {PREFIX}{name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {PREFIX}{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        let _ = write!(self.out, "{PREFIX}{name}");
        if !labels.is_empty() {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let _ = write!(self.out, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.out, " {value}");
    }

    fn histogram(&mut self, name: &str, group: &str, h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        for (bound, n) in &h.buckets {
            self.sample(&bucket, &[("group", group), ("le", &bound.to_string())], n);
        }
        self.sample(&bucket, &[("group", group), ("le", "+Inf")], h.count);
        self.sample(&format!("{name}_sum"), &[("group", group)], h.sum_seconds);
        self.sample(&format!("{name}_count"), &[("group", group)], h.count);
    }
}

/// A label value as the format wants it: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// HELP text escapes only backslash and line feed.
fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(escape_help("a\\b\nc\""), "a\\\\b\\nc\"");
    }

    #[test]
    fn an_idle_server_renders_every_family_once_with_consistent_histograms() {
        let live = Live { connections: 3, ..Live::default() };
        let text = render(&live, &crate::observe::Observe::default().counters(), 1.5);
        assert!(text.contains("\nlicenceserver_connections 3\n"), "{text}");
        assert!(text.contains("\nlicenceserver_start_time_seconds 1.5\n"), "{text}");
        assert_eq!(text.matches("# TYPE licenceserver_request_duration_seconds histogram").count(), 1);
        assert!(text.contains("licenceserver_request_duration_seconds_bucket{group=\"api\",le=\"+Inf\"} 0"));
        assert!(text.contains("licenceserver_request_duration_seconds_bucket{group=\"api\",le=\"0.0005\"} 0"));
        assert!(text.ends_with('\n'));
    }
}
