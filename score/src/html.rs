//! The run's report for people: one self-contained HTML file (`--report
//! report.html`: inline style and SVG; no script, font, image or network
//! access) or a Markdown summary for tickets and chat (`--report
//! report.md`).
//!
//! HTML is written with maud, which escapes every interpolated string;
//! the charts are SVG drawn here from numbers only. Attacker-controlled
//! text (users, hosts, sources, log lines) is shown as text: control
//! characters are made visible and long values are cut for display (the
//! exports keep them whole).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use loglynx_features::event::{Action, Micros, Outcome};
use loglynx_features::output::compact::CompactLog;
use loglynx_features::output::{escape_terminal, write_atomic};
use loglynx_features::time::{format_rfc3339, MICROS_PER_DAY, MICROS_PER_HOUR};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::alerts::Alert;
use crate::report::{ReportError, WriteFailure};
use crate::rules::Severity;
use crate::run::ScoreOutcome;

/// Characters of one attacker-controlled value shown in a report.
const SHOWN_CHARS: usize = 300;

/// Sources, users and hosts shown in each top list.
const TOP: usize = 10;

/// Which report a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Markdown,
}

impl ReportFormat {
    /// From the extension: `.html`/`.htm` or `.md`.
    pub fn of(path: &Path) -> Option<ReportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "html" | "htm" => Some(ReportFormat::Html),
            "md" | "markdown" => Some(ReportFormat::Markdown),
            _ => None,
        }
    }
}

/// Writes the report of `outcome` (read from `inputs`) to `path`,
/// atomically, in the format its extension names.
pub fn write_report(path: &Path, inputs: &[String], outcome: &ScoreOutcome) -> Result<(), ReportError> {
    let text = match ReportFormat::of(path) {
        Some(ReportFormat::Html) => render_html(inputs, outcome),
        Some(ReportFormat::Markdown) => render_markdown(inputs, outcome),
        None => {
            return Err(ReportError {
                path: path.to_path_buf(),
                source: WriteFailure::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a report is .html or .md",
                )),
            })
        }
    };
    write_atomic(path, text.as_bytes()).map_err(|e| ReportError {
        path: path.to_path_buf(),
        source: WriteFailure::Output(e),
    })
}

/// An attacker-controlled value as shown: control characters visible, cut
/// to [`SHOWN_CHARS`].
pub fn shown(s: &str) -> String {
    let s = escape_terminal(s);
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}… ({} characters)", &s[..cut], s.chars().count()),
        None => s,
    }
}

/// The first and last time of the events the rules read.
fn span(log: &CompactLog) -> Option<(Micros, Micros)> {
    log.events.iter().map(|e| e.timestamp).fold(None, |span, t| match span {
        None => Some((t, t)),
        Some((first, last)) => Some((first.min(t), last.max(t))),
    })
}

/// Per time bucket of `span`: (events, failures) the rules read, and the
/// bucket length.
fn timeline(log: &CompactLog, span: Option<(Micros, Micros)>) -> (Vec<(i64, u64, u64)>, i64) {
    let Some((first, last)) = span else {
        return (Vec::new(), MICROS_PER_HOUR);
    };
    // Hours, or days when hours would be too many bars to read.
    let bucket = if (last - first) / MICROS_PER_HOUR > 24 * 14 {
        MICROS_PER_DAY
    } else {
        MICROS_PER_HOUR
    };
    let mut counts: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let start = first.div_euclid(bucket);
    for b in start..=last.div_euclid(bucket) {
        counts.insert(b, (0, 0));
    }
    for e in &log.events {
        let c = counts.entry(e.timestamp.div_euclid(bucket)).or_default();
        let n = u64::from(e.repeat);
        c.0 += n;
        if e.outcome == Outcome::Failure {
            c.1 += n;
        }
    }
    (
        counts.into_iter().map(|(b, (n, f))| (b * bucket, n, f)).collect(),
        bucket,
    )
}

/// The `TOP` values of one field among failed logins, with their counts.
fn top_failing(
    log: &CompactLog,
    field: impl Fn(&loglynx_features::output::compact::CompactEvent) -> u32,
) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for e in log
        .events
        .iter()
        .filter(|e| e.outcome == Outcome::Failure && matches!(e.action, Action::Authentication | Action::InvalidUser))
    {
        *counts.entry(field(e)).or_default() += u64::from(e.repeat);
    }
    let mut named: Vec<(String, u64)> = counts
        .into_iter()
        .filter_map(|(sym, n)| {
            let s = log.strings.get(loglynx_features::output::compact::Sym(sym))?;
            (!s.is_empty()).then(|| (s.to_owned(), n))
        })
        .collect();
    named.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    named.truncate(TOP);
    named
}

/// What the merge left out, with counts.
fn suppressed(o: &ScoreOutcome) -> Vec<(&'static str, usize)> {
    let m = &o.merge_stats;
    vec![
        (
            "rule patterns from internal addresses recurring on several days",
            m.suppressed_recurring,
        ),
        ("new terms under the rarity threshold", m.uncorroborated_new_terms),
        ("anomalies of entities already unusual in the baseline", m.known_unusual),
        ("alerts about allowlisted entities", m.allowlisted),
        ("alerts below --min-severity", m.below_min_severity),
        (
            "rule hits superseded by a stronger rule in the same alert",
            m.superseded,
        ),
        ("alerts demoted to LOW as routine in the baseline", m.routine_demoted),
        ("alerts of internet background rolled up", m.rolled_up),
        (
            "alerts left out by analysts' verdicts (--feedback)",
            m.left_out_by_verdicts(),
        ),
        ("alerts demoted to LOW by the verdicts' re-ranker", m.demoted),
    ]
}

fn time_range(span: Option<(Micros, Micros)>) -> String {
    match span {
        Some((f, l)) => format!("{} → {}", format_rfc3339(f), format_rfc3339(l)),
        None => "no authentication events".to_owned(),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2430;padding:0 1em}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #dde;padding:.25em .6em;text-align:left;vertical-align:top}\
.alert{border:1px solid #ccd;border-left:6px solid #999;border-radius:4px;padding:.6em 1em;margin:1em 0}\
.alert.critical{border-left-color:#7a0019}.alert.high{border-left-color:#d0312d}.alert.medium{border-left-color:#e89b19}.alert.low{border-left-color:#4a7bd0}\
.sev{font-weight:bold;text-transform:uppercase;margin-right:.5em}pre{background:#f4f5f8;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
.muted{color:#667}svg{background:#fafbfd;border:1px solid #e3e5ea}";

/// The HTML report.
pub fn render_html(inputs: &[String], o: &ScoreOutcome) -> String {
    let count = |s: Severity| o.alerts.iter().filter(|a| a.severity == s).count();
    let span = span(&o.kept);
    let (buckets, bucket) = timeline(&o.kept, span);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "loglynx report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "loglynx report" }
                section id="summary" {
                    h2 { "Run summary" }
                    table {
                        tr { th { "inputs" } td { @for i in inputs { div { (shown(i)) } } } }
                        tr { th { "time range" } td { (time_range(span)) } }
                        tr { th { "lines read" } td { (o.lines) } }
                        tr { th { "events decoded" } td { (o.events) } }
                        tr { th { "lines without an event (not authentication, or not understood)" } td { (o.lines.saturating_sub(o.events)) } }
                        tr { th { "inputs not read in full" } td {
                            @if o.input_failures.is_empty() { "none" }
                            @for f in &o.input_failures { div { (shown(f)) } }
                        } }
                        tr { th { "model" } td { (shown(&o.model_version)) } }
                        tr { th { "rules" } td { (o.rules) " rules, " (o.rule_hits) " hits" } }
                        tr { th { "entity-windows scored" } td { (o.scored_rows) " (" (o.anomalous) " anomalous)" } }
                        tr { th { "alert budget" } td { (o.alert_budget) " model-driven alerts per 1,000 entity-days" } }
                        tr { th { "alerts" } td {
                            (o.alerts.len()) " (CRITICAL " (count(Severity::Critical)) ", HIGH " (count(Severity::High))
                            ", MEDIUM " (count(Severity::Medium)) ", LOW " (count(Severity::Low)) ")"
                        } }
                    }
                    h3 { "What was left out or folded, and why" }
                    table {
                        @for (what, n) in suppressed(o) { tr { td { (what) } td { (n) } } }
                    }
                    @if !o.merge_stats.by_verdict.is_empty() {
                        h3 { "Left out by verdicts" }
                        table id="verdicts" {
                            tr { th { "verdict" } th { "entity" } th { "rules" } th { "analyst" } th { "note" } th { "from" } th { "alerts left out" } }
                            @for v in &o.merge_stats.by_verdict {
                                tr {
                                    td { (v.verdict.verdict.as_str()) } td { (shown(&v.verdict.primary)) }
                                    td { (v.verdict.rule_ids.join(", ")) } td { (shown(&v.verdict.analyst)) }
                                    td { (shown(&v.verdict.note)) } td { (shown(&v.verdict.at)) }
                                    td { (v.alerts.len()) ": " (shown(&v.alerts.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", "))) }
                                }
                            }
                        }
                    }
                }
                section id="timeline" {
                    h2 { "Timeline" }
                    p class="muted" {
                        "Authentication events the rules read per " (if bucket == MICROS_PER_DAY { "day" } else { "hour" })
                        " (grey), failures among them (red); alerts marked at their first event (triangles)."
                    }
                    (PreEscaped(timeline_svg(&buckets, bucket, &o.alerts)))
                }
                section id="top" {
                    h2 { "Top failing sources, users and hosts" }
                    (top_table("source", &top_failing(&o.kept, |e| e.source.0)))
                    (top_table("user", &top_failing(&o.kept, |e| e.user.0)))
                    (top_table("host", &top_failing(&o.kept, |e| e.host.0)))
                }
                section id="scores" {
                    h2 { "Anomaly scores" }
                    p class="muted" { "Entity-windows per calibrated score, log scale; the dashed line is the model's threshold." }
                    @for h in &o.histograms { (PreEscaped(histogram_svg(h))) }
                }
                section id="alerts" {
                    h2 { "Alerts by priority" }
                    @if o.alerts.is_empty() { p class="muted" { "No alerts." } }
                    @for a in &o.alerts { (alert_card(a)) }
                }
            }
        }
    };
    page.into_string()
}

fn top_table(what: &str, rows: &[(String, u64)]) -> Markup {
    html! {
        table class="top" {
            tr { th { (what) } th { "failed attempts" } }
            @for (name, n) in rows { tr { td { (shown(name)) } td { (n) } } }
            @if rows.is_empty() { tr { td colspan="2" class="muted" { "none" } } }
        }
    }
}

fn alert_card(a: &Alert) -> Markup {
    html! {
        div class={ "alert " (a.severity.as_str()) } id=(a.id) {
            div {
                span class="sev" { (a.severity.to_string()) }
                span class="muted" { "risk " (a.risk_score) " · " (a.first_seen) " → " (a.last_seen) " · " (a.id) }
            }
            h3 class="title" { (shown(&a.title)) }
            p { (shown(&a.summary)) }
            table class="entities" {
                @for (what, values) in [("sources", &a.source_ips), ("hosts", &a.target_hosts), ("users", &a.users)] {
                    @if !values.is_empty() {
                        tr { th { (what) } td { (shown(&listed(values))) } }
                    }
                }
            }
            @if let Some(r) = &a.routine { p class="muted" { "routine: " (shown(r)) } }
            @if let Some(r) = &a.reranked { p class="muted" { (r.explanation) } }
            @for x in &a.anomalies {
                p { "model: " (x.entity_kind) " " (shown(&x.entity)) " score " (format!("{:.4}", x.score)) ": "
                    (shown(&x.explanation.join("; "))) }
            }
            p { strong { "Recommended action: " } (a.recommended_action) }
            @if !a.members.is_empty() {
                details {
                    summary { (a.members.len()) " sources rolled up" }
                    table {
                        tr { th { "source" } th { "events" } th { "first" } th { "last" } th { "users" } th { "rules" } }
                        @for m in &a.members {
                            tr {
                                td { (shown(&m.source)) } td { (m.events) } td { (m.first_seen) } td { (m.last_seen) }
                                td { (shown(&m.users.join(", "))) } td { (m.rule_ids.join(", ")) }
                            }
                        }
                    }
                }
            }
            @if !a.evidence.is_empty() {
                pre class="evidence" {
                    @for e in &a.evidence { (shown(&e.file)) ":" (e.line) ": " (shown(&e.raw)) "\n" }
                }
            }
        }
    }
}

/// The first [`TOP`] of `values`, and how many more.
fn listed(values: &[String]) -> String {
    let mut s = values.iter().take(TOP).map(|v| shown(v)).collect::<Vec<_>>().join(", ");
    if values.len() > TOP {
        let _ = write!(s, " and {} more", values.len() - TOP);
    }
    s
}

/// `s` escaped as HTML text (for the SVG drawn here).
fn escaped(s: &str) -> String {
    html! { (s) }.into_string()
}

/// Bars of events and failures per bucket, alerts as triangles.
fn timeline_svg(buckets: &[(i64, u64, u64)], bucket: i64, alerts: &[Alert]) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 220.0;
    const PAD: f64 = 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="timeline-chart" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"><title>events and failures over time</title>"#
    );
    if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
        let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
        let n = buckets.len() as f64;
        let bw = (W - 2.0 * PAD) / n;
        let y = |v: u64| H - PAD - (v as f64 / max) * (H - 2.0 * PAD);
        for (i, &(_, events, failures)) in buckets.iter().enumerate() {
            let x = PAD + i as f64 * bw;
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{:.1}" width="{:.2}" height="{:.1}" fill="#b8bfcc"/>"##,
                y(events),
                bw.max(0.5),
                H - PAD - y(events)
            );
            let _ = write!(
                s,
                r##"<rect class="failures" x="{x:.1}" y="{:.1}" width="{:.2}" height="{:.1}" fill="#d0312d"/>"##,
                y(failures),
                bw.max(0.5),
                H - PAD - y(failures)
            );
        }
        for a in alerts {
            let i = ((a.first - first.0).div_euclid(bucket)) as f64;
            let x = PAD + (i + 0.5) * bw;
            let _ = write!(
                s,
                r##"<path class="alert-mark" d="M{x:.1},{:.1} l-5,-9 l10,0 z" fill="#7a0019"><title>{}</title></path>"##,
                PAD - 2.0,
                escaped(&format!("{} {}", a.severity, shown(&a.title))),
            );
        }
        let _ = write!(
            s,
            r##"<text x="{PAD}" y="{:.1}" font-size="11">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text><text x="2" y="{:.1}" font-size="11">{}</text>"##,
            H - 8.0,
            format_rfc3339(first.0),
            W - PAD,
            H - 8.0,
            format_rfc3339(last.0 + bucket),
            PAD - 4.0,
            max as u64
        );
    }
    s.push_str("</svg>");
    s
}

/// A kind's score histogram (log scale) with the threshold.
fn histogram_svg(h: &crate::scoring::ScoreHistogram) -> String {
    const W: f64 = 480.0;
    const H: f64 = 180.0;
    const PAD: f64 = 28.0;
    let n = h.bins.len().max(1) as f64;
    let bw = (W - 2.0 * PAD) / n;
    let max = h.bins.iter().copied().max().unwrap_or(0).max(1) as f64;
    let y = |v: u64| {
        let f = if v == 0 {
            0.0
        } else {
            (1.0 + v as f64).ln() / (1.0 + max).ln()
        };
        H - PAD - f * (H - 2.0 * PAD)
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart histogram" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"><title>{} scores</title>"#,
        escaped(&h.kind)
    );
    for (i, &v) in h.bins.iter().enumerate() {
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.2}" height="{:.1}" fill="#4a7bd0"/>"##,
            PAD + i as f64 * bw,
            y(v),
            bw - 0.5,
            H - PAD - y(v)
        );
    }
    if let Some(t) = h.threshold {
        let x = PAD + t.clamp(0.0, 1.0) * (W - 2.0 * PAD);
        let _ = write!(
            s,
            r##"<line class="threshold" x1="{x:.1}" y1="{PAD}" x2="{x:.1}" y2="{:.1}" stroke="#d0312d" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">threshold {t:.4}</text>"##,
            H - PAD,
            x - 3.0,
            PAD + 10.0
        );
    }
    let total: u64 = h.bins.iter().sum();
    let _ = write!(
        s,
        r##"<text x="{PAD}" y="{:.1}" font-size="11">{}: {} windows · 0</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">1</text></svg>"##,
        H - 8.0,
        escaped(&h.kind),
        total,
        W - PAD,
        H - 8.0
    );
    s
}

/// Markdown text of an attacker-controlled value: [`shown`], with the
/// characters Markdown would read escaped and those HTML would read as
/// entities.
fn md(s: &str) -> String {
    let mut out = String::new();
    for c in shown(s).chars() {
        match c {
            // As entities, so that no `<` reaches a reader that shows
            // Markdown's raw HTML without its escapes.
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Markdown summary.
pub fn render_markdown(inputs: &[String], o: &ScoreOutcome) -> String {
    let mut s = String::new();
    let count = |sev: Severity| o.alerts.iter().filter(|a| a.severity == sev).count();
    let _ = writeln!(s, "# loglynx report\n");
    let _ = writeln!(
        s,
        "- inputs: {}",
        inputs.iter().map(|i| md(i)).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(s, "- time range: {}", time_range(span(&o.kept)));
    let _ = writeln!(
        s,
        "- {} lines, {} events, {} entity-windows ({} anomalous), {} rule hits",
        o.lines, o.events, o.scored_rows, o.anomalous, o.rule_hits
    );
    let _ = writeln!(s, "- model: {}", md(&o.model_version));
    let _ = writeln!(
        s,
        "- **{} alerts**: CRITICAL {}, HIGH {}, MEDIUM {}, LOW {}",
        o.alerts.len(),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low)
    );
    let left: Vec<String> = suppressed(o)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{n} {what}"))
        .collect();
    if !left.is_empty() {
        let _ = writeln!(s, "- left out or folded: {}", left.join("; "));
    }
    let _ = writeln!(
        s,
        "\n| severity | risk | alert | first seen | summary |\n|---|---|---|---|---|"
    );
    for a in &o.alerts {
        let demoted = if a.reranked.as_ref().is_some_and(|r| r.demoted()) {
            " (demoted)"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "| {}{demoted} | {} | {} | {} | {} |",
            a.severity,
            a.risk_score,
            md(&a.title),
            a.first_seen,
            md(&a.summary)
        );
    }
    for a in o.alerts.iter().filter(|a| !a.members.is_empty()) {
        let _ = writeln!(
            s,
            "\n**{}** rolls up: {}",
            md(&a.title),
            a.members
                .iter()
                .map(|m| format!("{} ({})", md(&m.source), m.events))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s
}
