//! Licence use over time, one inline SVG chart per series (used and total), and the latest denials —
//! what the administrator looks at when users say "no free licence".

use super::html::{escape, notice};
use super::Ctx;
use crate::observe::{Denial, UsageSample};
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 24.0;

/// A line chart of one series' samples (oldest first): used solid, total dashed, with the time
/// span and the highest count as axis labels.
pub fn chart(series: &str, samples: &[&UsageSample]) -> String {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else { return String::new() };
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
    let mut svg = format!(
        "<svg class=\"usage-chart\" data-series=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{id}\">\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fff\" stroke=\"#ccd\"/>\
         <line x1=\"{LEFT}\" y1=\"10\" x2=\"{LEFT}\" y2=\"{base}\" stroke=\"#888\"/>\
         <line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\" stroke=\"#888\"/>\
         <text x=\"{label_x}\" y=\"16\" font-size=\"11\" text-anchor=\"end\">{top}</text>\
         <text x=\"{label_x}\" y=\"{base}\" font-size=\"11\" text-anchor=\"end\">0</text>\
         <text x=\"{LEFT}\" y=\"{time_y}\" font-size=\"11\">{from}</text>\
         <text x=\"{right}\" y=\"{time_y}\" font-size=\"11\" text-anchor=\"end\">{to}</text>",
        id = escape(series),
        base = 10.0 + plot_h,
        right = LEFT + plot_w,
        label_x = LEFT - 4.0,
        time_y = HEIGHT - 6.0,
        from = escape(&first.time.to_string()),
        to = escape(&last.time.to_string()),
    );
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#999\" stroke-dasharray=\"5,4\" points=\"{}\"/>\
         <polyline class=\"used\" fill=\"none\" stroke=\"#2b6fb6\" stroke-width=\"2\" points=\"{}\"/></svg>",
        line(|s| s.total),
        line(|s| s.used)
    );
    svg
}

fn denials_table(ctx: &Ctx, denials: &[Denial]) -> String {
    if denials.is_empty() {
        return notice(ctx.t("Отказов не было.", "No licence was refused."));
    }
    let mut out = format!(
        "<table id=\"denials\"><tr><th>{}</th><th>KeyID</th><th>ComputerName</th><th>UserName</th><th>{}</th></tr>",
        ctx.t("Время", "Time"),
        ctx.t("Причина", "Reason")
    );
    for d in denials {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.time.to_string()),
            escape(&d.series.to_string()),
            escape(&d.computer),
            escape(d.user.as_deref().unwrap_or("—")),
            escape(&d.reason)
        );
    }
    out.push_str("</table>");
    out
}

pub async fn page(ctx: Ctx) -> Response {
    let history = ctx.app.observe.usage_history();
    let denials = ctx.app.observe.recent_denials();
    let mut by_series: BTreeMap<String, Vec<&UsageSample>> = BTreeMap::new();
    for sample in &history {
        by_series.entry(sample.series.to_string()).or_default().push(sample);
    }
    let mut body = format!(
        "<p class=\"hint\">{}</p>",
        ctx.t(
            "Сплошная линия — занятые лицензии, пунктир — всего лицензий. Время UTC; история с последнего запуска.",
            "Solid: licences in use; dashed: licences in total. Times are UTC; the history starts at the last start."
        )
    );
    if by_series.is_empty() {
        body.push_str(&notice(ctx.t("Наблюдений пока нет.", "Nothing observed yet.")));
    }
    for (series, samples) in &by_series {
        let _ = write!(body, "<h2>{} {}</h2>{}", ctx.t("Серия", "Series"), escape(series), chart(series, samples));
    }
    let _ =
        write!(body, "<h2>{}</h2>{}", ctx.t("Отказы в лицензии", "Refused licences"), denials_table(&ctx, &denials));
    ctx.page(ctx.t("Использование лицензий", "Licence use"), &body)
}
