//! Unit tests of the console's pieces that need no router (its pages through the real router are tested in `crate::web`).

use super::*;

#[test]
fn the_chart_draws_used_and_total_over_time() {
    use crate::observe::UsageSample;
    use licence_protocol::time::UtcTime;
    let at = |s: i64, used| UsageSample {
        time: UtcTime::from_unix_millis(1_700_000_000_000 + s * 1000).unwrap(),
        series: "672B".parse().unwrap(),
        used,
        total: 10,
    };
    let samples = [at(0, 1), at(60, 10), at(120, 4)];
    let svg = usage::chart("672B", &samples.iter().collect::<Vec<_>>()).into_string();
    assert!(svg.starts_with("<svg class=\"usage-chart\" data-series=\"672B\""), "{svg}");
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert!(svg.contains("points=\"40.0,10.0 375.0,10.0 710.0,10.0\""), "the total runs along the top: {svg}");
    assert!(svg.contains(
        "class=\"used\" fill=\"none\" stroke=\"#2b6fb6\" stroke-width=\"2\" points=\"40.0,159.4 375.0,10.0 "
    ));
}
