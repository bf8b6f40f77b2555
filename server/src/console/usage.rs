//! Licence use over time, one inline SVG chart per series (used and total), and the latest denials —
//! what the administrator looks at when users say "no free licence".

use super::html::notice;
use super::Ctx;
use crate::observe::{Denial, UsageSample};
use axum::response::Response;
use maud::{html, Markup};
use std::collections::BTreeMap;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 24.0;

/// A line chart of one series' samples (oldest first): used solid, total dashed, with the time
/// span and the highest count as axis labels. Empty without samples.
pub fn chart(series: &str, samples: &[&UsageSample]) -> Markup {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else { return html! {} };
    let (start, end) = (first.time.unix_millis(), last.time.unix_millis());
    let span = (end - start).max(1) as f64;
    let top = samples.iter().map(|s| s.used.max(s.total)).max().unwrap_or(0).max(1);
    let plot_w = WIDTH - LEFT - 10.0;
    let plot_h = HEIGHT - BOTTOM - 10.0;
    let point = |t: i64, v: u32| {
        let x = LEFT + (t - start) as f64 / span * plot_w;
        let y = 10.0 + plot_h - f64::from(v) / f64::from(top) * plot_h;
        format!("{x:.1},{y:.1}")
    };
    let line = |value: fn(&UsageSample) -> u32| {
        samples.iter().map(|s| point(s.time.unix_millis(), value(s))).collect::<Vec<_>>().join(" ")
    };
    let base = 10.0 + plot_h;
    let right = LEFT + plot_w;
    let label_x = LEFT - 4.0;
    let time_y = HEIGHT - 6.0;
    html! {
        svg class="usage-chart" data-series=(series) xmlns="http://www.w3.org/2000/svg" width=(WIDTH)
            height=(HEIGHT) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(series) {
            rect x="0" y="0" width=(WIDTH) height=(HEIGHT) fill="#fff" stroke="#ccd" {}
            line x1=(LEFT) y1="10" x2=(LEFT) y2=(base) stroke="#888" {}
            line x1=(LEFT) y1=(base) x2=(right) y2=(base) stroke="#888" {}
            text x=(label_x) y="16" font-size="11" text-anchor="end" { (top) }
            text x=(label_x) y=(base) font-size="11" text-anchor="end" { "0" }
            text x=(LEFT) y=(time_y) font-size="11" { (first.time) }
            text x=(right) y=(time_y) font-size="11" text-anchor="end" { (last.time) }
            polyline fill="none" stroke="#999" stroke-dasharray="5,4" points=(line(|s| s.total)) {}
            polyline class="used" fill="none" stroke="#2b6fb6" stroke-width="2" points=(line(|s| s.used)) {}
        }
    }
}

fn denials_table(ctx: &Ctx, denials: &[Denial]) -> Markup {
    if denials.is_empty() {
        return notice(ctx.t("Отказов не было.", "No licence was refused."));
    }
    html! {
        table id="denials" {
            tr {
                th { (ctx.t("Время", "Time")) }
                th { "KeyID" }
                th { "ComputerName" }
                th { "UserName" }
                th { (ctx.t("Причина", "Reason")) }
            }
            @for d in denials {
                tr {
                    td { (d.time) }
                    td { (d.series) }
                    td { (d.computer) }
                    td { (d.user.as_deref().unwrap_or("—")) }
                    td { (d.reason) }
                }
            }
        }
    }
}

pub async fn page(ctx: Ctx) -> Response {
    let history = ctx.app.observe.usage_history();
    let denials = ctx.app.observe.recent_denials();
    let mut by_series: BTreeMap<String, Vec<&UsageSample>> = BTreeMap::new();
    for sample in &history {
        by_series.entry(sample.series.to_string()).or_default().push(sample);
    }
    let body = html! {
        p class="hint" {
            (ctx.t(
                "Сплошная линия — занятые лицензии, пунктир — всего лицензий. Время UTC; история с последнего запуска.",
                "Solid: licences in use; dashed: licences in total. Times are UTC; the history starts at the last start.",
            ))
        }
        @if by_series.is_empty() {
            (notice(ctx.t("Наблюдений пока нет.", "Nothing observed yet.")))
        }
        @for (series, samples) in &by_series {
            h2 { (ctx.t("Серия", "Series")) " " (series) }
            (chart(series, samples))
        }
        h2 { (ctx.t("Отказы в лицензии", "Refused licences")) }
        (denials_table(&ctx, &denials))
    };
    ctx.page(ctx.t("Использование лицензий", "Licence use"), body)
}
