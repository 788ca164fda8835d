//! Pieces shared by the loglynx binaries' command lines.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Diagnostics on stderr: `--quiet` shows errors only, `-v` info, `-vv`
/// debug; the `LOGLYNX_LOG` environment variable (an `EnvFilter`) wins.
pub fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGLYNX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// A spinner with a message and the elapsed time on stderr; hidden with
/// `--quiet` or when stderr is not a terminal.
pub fn spinner(quiet: bool, msg: &'static str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    bar.set_message(msg);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// The process's resident memory in MiB, for `-v` diagnostics (Linux;
/// `None` elsewhere).
pub fn rss_mib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()? / (1 << 20))
}

/// Seconds of a duration written as a number with an optional unit `s`,
/// `m`, `h` or `d` (`90`, `15m`, `1h`).
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 90s, 15m, 1h or 1d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: unit must be s, m, h or d")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("`{s}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn resident_memory_is_read() {
        let before = rss_mib().unwrap();
        let big = vec![1u8; 64 << 20];
        let after = rss_mib().unwrap();
        assert!(after >= before + 60, "{before} -> {after} MiB");
        drop(big);
    }
}
