//! The message catalogue: every file in `tests/messages/` lists messages as
//! their programs write them (from the programs' own format strings) and what
//! each must decode to. A case names only the fields it checks.

use std::borrow::Cow;
use std::path::Path;

use loglynx_features::connectors::decode::decode_message;
use loglynx_features::event::Evidence;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The syslog tag without pid; `sshd` when absent.
    program: Option<String>,
    message: String,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// `event.action`, or `none` for a message that is no event.
    action: String,
    outcome: Option<String>,
    user: Option<String>,
    target_user: Option<String>,
    source: Option<String>,
    port: Option<u16>,
    user_invalid: Option<bool>,
    denied: Option<bool>,
    repeat: Option<u32>,
    attempt: Option<String>,
    category: Option<String>,
    unreliable: Option<bool>,
}

fn check(case: &Case) -> Result<(), String> {
    let program = case.program.as_deref().unwrap_or("sshd");
    let m = case.message.as_str();
    let evidence = Evidence {
        file: 0,
        line: 1,
        raw: Cow::Borrowed(m),
    };
    let decoded = decode_message(0, Some("h"), program, Some(7), m, evidence);
    let want = &case.expect;
    let e = match (decoded, want.action.as_str()) {
        (Err(_), "none") => return Ok(()),
        (Ok(e), "none") => return Err(format!("decoded as {} but is no event", e.action)),
        (Err(skip), _) => return Err(format!("no event ({skip:?})")),
        (Ok(e), _) => e,
    };
    let mut wrong = Vec::new();
    let mut field = |name: &str, want: Option<String>, got: Option<String>| {
        if let Some(w) = want {
            if Some(&w) != got.as_ref() {
                wrong.push(format!("{name}: want {w:?}, got {got:?}"));
            }
        }
    };
    field("action", Some(want.action.clone()), Some(e.action.as_str().to_owned()));
    field("outcome", want.outcome.clone(), Some(e.outcome.as_str().to_owned()));
    field("user", want.user.clone(), e.user.as_deref().map(str::to_owned));
    field(
        "target_user",
        want.target_user.clone(),
        e.target_user.as_deref().map(str::to_owned),
    );
    field(
        "source",
        want.source.clone(),
        e.source_address.as_deref().map(str::to_owned),
    );
    field(
        "port",
        want.port.map(|p| p.to_string()),
        e.source_port.map(|p| p.to_string()),
    );
    field(
        "user_invalid",
        want.user_invalid.map(|b| b.to_string()),
        Some(e.user_invalid.to_string()),
    );
    field("denied", want.denied.map(|b| b.to_string()), Some(e.denied.to_string()));
    field("repeat", want.repeat.map(|b| b.to_string()), Some(e.repeat.to_string()));
    field("attempt", want.attempt.clone(), Some(serde_name(&e.attempt_line)));
    field("category", want.category.clone(), Some(e.action.category().to_owned()));
    field(
        "unreliable",
        want.unreliable.map(|b| b.to_string()),
        Some(e.source_unreliable.to_string()),
    );
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

/// The serde name of a unit enum variant.
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn every_catalogued_message_decodes_as_stated() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/messages");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "toml")) {
        let text = std::fs::read_to_string(path).unwrap();
        let catalogue: Catalogue = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in &catalogue.case {
            cases += 1;
            if let Err(why) = check(case) {
                failures.push(format!(
                    "{}: {:?}: {why}",
                    path.file_name().unwrap().to_string_lossy(),
                    case.message
                ));
            }
        }
    }
    assert!(cases >= 60, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
