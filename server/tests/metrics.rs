//! `GET /api/metrics` against the real server binary: the seat gauges agree with what the add-in
//! was given, a refused licence is counted with its reason, the latency histograms are consistent,
//! the whole answer parses as Prometheus text, and the API's login guards it.

mod common;

use common::*;
use licence_protocol::key::KeyKind;
use licence_protocol::series::SeriesKeys;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// One sample line: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict reading of the text format 0.0.4: every line is a `# HELP`, a `# TYPE` or a sample
/// `name{label="value",...} number`; every sample's family has HELP and TYPE before its first sample
/// and its samples are together; histogram samples end in `_bucket`, `_sum` or `_count`.
fn parse(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    let mut help: HashSet<String> = HashSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut finished: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap_or_else(|| panic!("HELP without text: {line}"));
            assert!(help.insert(name.to_owned()), "a second HELP for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("TYPE without a type: {line}"));
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
            assert!(help.contains(name), "TYPE before HELP for {name}");
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "a second TYPE for {name}");
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line: {line:?}");
        let sample = parse_sample(line);
        let family = family_of(&sample.name, &types);
        assert!(help.contains(&family), "no HELP before {line}");
        if current.as_deref() != Some(family.as_str()) {
            assert!(!finished.contains(&family), "the samples of {family} are not together");
            if let Some(previous) = current.replace(family.clone()) {
                finished.push(previous);
            }
        }
        samples.push(sample);
    }
    samples
}

/// The family a sample belongs to: itself, or a histogram's name without its suffix.
fn family_of(name: &str, types: &HashMap<String, String>) -> String {
    if types.contains_key(name) {
        return name.to_owned();
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|t| t == "histogram") {
                return base.to_owned();
            }
        }
    }
    panic!("no TYPE before a sample of {name}");
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(
        name.starts_with("licenceserver_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "bad metric name: {line}"
    );
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let end = loop {
            let (start, c) = chars.next().unwrap_or_else(|| panic!("unclosed labels: {line}"));
            if c == '}' {
                break start;
            }
            let eq = inner[start..].find("=\"").unwrap_or_else(|| panic!("label without a value: {line}")) + start;
            let key = &inner[start..eq];
            assert!(!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
            while chars.peek().is_some_and(|&(i, _)| i <= eq + 1) {
                chars.next();
            }
            let mut value = String::new();
            loop {
                match chars.next().unwrap_or_else(|| panic!("unterminated label value: {line}")).1 {
                    '"' => break,
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?}: {line}"),
                    },
                    c => value.push(c),
                }
            }
            assert!(labels.insert(key.to_owned(), value).is_none(), "a label twice: {line}");
            match chars.peek() {
                Some(&(_, ',')) => {
                    chars.next();
                }
                Some(&(_, '}')) => {}
                _ => panic!("labels not separated by commas: {line}"),
            }
        };
        rest = &inner[end + 1..];
    }
    let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("no space before the value: {line}"));
    assert!(!value.contains(' '), "a timestamp or trailing text: {line}");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("value is not a number: {line}")),
    };
    Sample { name: name.to_owned(), labels, value }
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.iter().find(|s| s.name == name && s.labels == wanted).map(|s| s.value)
}

/// The status, `Content-Type` and body of `GET /api/metrics`.
fn scrape(server: &TestServer, auth: Option<(&str, &str)>) -> (u16, String, String) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
    let mut request = agent.get(&server.url("/api/metrics"));
    if let Some(creds) = auth {
        request = request.set("Authorization", &basic(creds));
    }
    let response = match request.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET /api/metrics: {e}"),
    };
    let status = response.status();
    let content_type = response.header("Content-Type").unwrap_or_default().to_owned();
    (status, content_type, response.into_string().unwrap_or_default())
}

/// Checks each group's histogram: buckets ascend in `le` and count, and `+Inf` equals `_count`.
fn assert_histograms_consistent(samples: &[Sample]) -> Vec<String> {
    let name = "licenceserver_request_duration_seconds";
    let mut groups = Vec::new();
    for count in samples.iter().filter(|s| s.name == format!("{name}_count")) {
        let group = &count.labels["group"];
        let mut buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.name == format!("{name}_bucket") && &s.labels["group"] == group)
            .map(|s| {
                let le = &s.labels["le"];
                (if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() }, s.value)
            })
            .collect();
        assert!(buckets.len() > 2, "{group}: too few buckets");
        assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0), "{group}: le ascends in order");
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{group}: buckets are cumulative");
        let (le, inf) = buckets.pop().unwrap();
        assert_eq!((le, inf), (f64::INFINITY, count.value), "{group}: +Inf is the count");
        let sum = value(samples, &format!("{name}_sum"), &[("group", group)]).expect("a sum per group");
        assert!(sum >= 0.0 && (count.value > 0.0 || sum == 0.0), "{group}: sum {sum}");
        groups.push(group.clone());
    }
    groups.sort();
    groups
}

#[test]
fn metrics_show_seats_a_denial_and_consistent_latency() {
    let machine = "machine-metrics";
    let mut server = TestServer::new(machine, "");
    server.append_config("[API]\nAuthorization=1\n");
    server.start();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&series, &key_fields(&series, machine, 5150, KeyKind::Main, 2));
    server.wait_for_licences(1);
    let conn = server.connect("672B", "APPSRV", true);
    for n in 1..=2 {
        let (status, grant) = server.obtain(&conn, n, "APPSRV");
        assert_eq!(status, 200, "{grant}");
    }
    let (status, refused) = server.obtain(&conn, 3, "APPSRV");
    assert_eq!((status, &refused["Code"]), (403, &serde_json::json!(2)), "{refused}");

    let (status, content_type, text) = scrape(&server, Some(ADMIN));
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let samples = parse(&text);
    let s = &[("series", "672B")];
    assert_eq!(value(&samples, "licenceserver_licences_used", s), Some(2.0), "{text}");
    assert_eq!(value(&samples, "licenceserver_licences_capacity", s), Some(2.0), "{text}");
    let denied = &[("series", "672B"), ("reason", "NoFreeLicence")];
    assert_eq!(value(&samples, "licenceserver_denials_total", denied), Some(1.0), "{text}");
    assert_eq!(value(&samples, "licenceserver_keys", &[("series", "672B"), ("workable", "true")]), Some(1.0));
    assert_eq!(value(&samples, "licenceserver_connections", &[]), Some(1.0));
    assert_eq!(value(&samples, "licenceserver_sessions", &[]), Some(2.0));
    assert_eq!(value(&samples, "licenceserver_licences_granted_total", &[]), Some(2.0));
    assert_eq!(value(&samples, "licenceserver_addin_calls_total", &[("call", "obtain")]), Some(3.0));
    assert_eq!(value(&samples, "licenceserver_addin_calls_total", &[("call", "connect")]), Some(1.0));
    assert_eq!(assert_histograms_consistent(&samples), ["api", "console", "licence"]);
    let licence_calls = value(&samples, "licenceserver_request_duration_seconds_count", &[("group", "licence")]);
    assert_eq!(licence_calls, Some(4.0), "one connect and three obtains");
    let api_calls = value(&samples, "licenceserver_request_duration_seconds_count", &[("group", "api")]).unwrap();
    assert!(api_calls >= 2.0, "the start-up probe and the key listing at least: {api_calls}");
    let uptime = value(&samples, "licenceserver_uptime_seconds", &[]).unwrap();
    let started = value(&samples, "licenceserver_start_time_seconds", &[]).unwrap();
    assert!(uptime > 0.0 && started > 1.7e9, "uptime {uptime}, start {started}");

    // A release and a disconnect give both licences back.
    let (status, _) = server.post("/licence/disconnect", &serde_json::json!({ "ConnectionID": conn }));
    assert_eq!(status, 200);
    let samples = parse(&scrape(&server, Some(ADMIN)).2);
    assert_eq!(value(&samples, "licenceserver_licences_used", s), Some(0.0));
    assert_eq!(value(&samples, "licenceserver_licences_released_total", &[]), Some(2.0));
}

#[test]
fn metrics_need_the_api_login_when_authorization_is_1() {
    let mut server = TestServer::new("machine-metrics-auth", "");
    server.append_config("[API]\nAuthorization=1\n");
    server.start();
    let (status, _, body) = scrape(&server, None);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("licenceserver_"), "no figures without a login: {body}");
    let (status, _, _) = scrape(&server, Some(("admin", "wrong")));
    assert_eq!(status, 401);
    let (status, _, body) = scrape(&server, Some(ADMIN));
    assert_eq!(status, 200);
    assert!(!parse(&body).is_empty());
}
