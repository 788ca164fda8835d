//! `loglynx-score --report`: the HTML report rendered in a real browser
//! (Debian's headless Chromium), and the Markdown summary, on a generated
//! log with hostile user names appended.
//!
//! Without a `chromium` on the PATH the browser test says so and passes,
//! unless `LOGLYNX_REQUIRE_BROWSER` is set (`.ci/run` sets it and installs
//! Chromium), so that CI cannot pass it vacuously.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use loglynx_tests::bin;

/// Hostile user names: markup, an attribute break-out, a terminal escape.
const HOSTILE: [&str; 3] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "\u{1b}[31mred\u{1b}[0m",
];

/// A generated log, then a brute force from one public source trying the
/// hostile names and a 64 KB one.
fn hostile_log(dir: &Path) -> PathBuf {
    let log = dir.join("auth.log");
    Command::new(bin("loglynx-gen"))
        .args(["--events", "20000", "--seed", "5", "-q", "-o"])
        .arg(&log)
        .assert()
        .success();
    let mut text = std::fs::read_to_string(&log).unwrap();
    let long = "A".repeat(64 * 1024);
    let names: Vec<&str> = HOSTILE.iter().copied().chain([long.as_str()]).collect();
    for (i, name) in names.iter().cycle().take(12).enumerate() {
        text.push_str(&format!(
            "Mar  9 23:59:{i:02} web-01 sshd[{}]: Failed password for invalid user {name} from 193.32.162.40 port 4{i:04} ssh2\n",
            9000 + i
        ));
    }
    std::fs::write(&log, text).unwrap();
    log
}

fn report(log: &Path, out: &Path) {
    Command::new(bin("loglynx-score"))
        .arg(log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(out.with_extension("ndjson"))
        .arg("--report")
        .arg(out)
        .assert()
        .code(0);
}

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            Process::new("sh")
                .args(["-c", &format!("command -v {name}")])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        });
    if found.is_none() {
        assert!(
            std::env::var_os("LOGLYNX_REQUIRE_BROWSER").is_none(),
            "LOGLYNX_REQUIRE_BROWSER is set but no chromium is on the PATH \
             (apt-get install -y --no-install-recommends chromium)"
        );
        eprintln!("SKIPPED: no chromium on the PATH; the report was not rendered in a browser");
    }
    found
}

fn headless(chromium: &Path, profile: &Path) -> Process {
    let mut cmd = Process::new(chromium);
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn the_html_report_renders_in_chromium_with_alerts_charts_and_hostile_names_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_log(dir.path());
    let page = dir.path().join("report.html");
    report(&log, &page);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch, nothing to run.
    for banned in ["<script", "http://", "https://", "<link", "<img", "@import", "url("] {
        let allowed_ns =
            banned == "http://" && html.matches(banned).count() == html.matches("http://www.w3.org/2000/svg").count();
        assert!(!html.contains(banned) || allowed_ns, "the report holds {banned}");
    }
    let Some(chromium) = chromium() else { return };
    let url = format!("file://{}", page.display());
    let dom = headless(&chromium, &dir.path().join("profile"))
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium runs");
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The alerts and the charts are in the DOM.
    assert!(dom.matches(r#"class="alert "#).count() >= 3, "alerts in the DOM");
    assert!(dom.contains(r#"id="timeline-chart""#), "timeline chart");
    assert!(dom.contains(r#"class="threshold""#), "score threshold drawn");
    assert!(
        dom.matches(r#"class="chart histogram""#).count() >= 2,
        "score histograms"
    );
    assert!(dom.contains("193.32.162.40"), "the hostile source's alert");
    // The hostile names are text: no element came out of them.
    assert!(!dom.contains("<script"), "a script element in the DOM");
    assert!(!dom.contains("<img"), "an img element in the DOM");
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the script name shown as text"
    );
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the img name shown as text"
    );
    assert!(!dom.contains('\u{1b}'), "a raw terminal escape");
    assert!(dom.contains("\\u{1b}[31mred"), "the escape shown visibly");
    assert!(!dom.contains(&"A".repeat(1000)), "a 64 KB name is cut for display");
    // And it renders.
    let shot = dir.path().join("report.png");
    let status = headless(&chromium, &dir.path().join("profile2"))
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1200,1600", &url])
        .output()
        .expect("chromium runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG"), "a screenshot");
}

#[test]
fn the_markdown_summary_lists_every_alert_and_escapes_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_log(dir.path());
    let md_path = dir.path().join("report.md");
    report(&log, &md_path);
    let md = std::fs::read_to_string(&md_path).unwrap();
    let alerts = std::fs::read_to_string(md_path.with_extension("ndjson")).unwrap();
    let n = alerts.lines().count();
    assert!(md.contains(&format!("**{n} alerts**")), "{md}");
    assert_eq!(
        md.lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| severity"))
            .count(),
        n
    );
    assert!(!md.contains("<script>") && !md.contains("<img"), "{md}");
    assert!(!md.contains('\u{1b}'));
    // A report path of another kind is refused before any work.
    Command::new(bin("loglynx-score"))
        .arg(dir.path().join("auth.log"))
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(dir.path().join("x.ndjson"))
        .args(["--report"])
        .arg(dir.path().join("report.pdf"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("report.pdf"));
}
