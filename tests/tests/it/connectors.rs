//! The JSON lines and CSV connectors on real files: the OTRF Windows/Sysmon
//! export and loghub's structured CSVs from `../shared/datasets`, plus small
//! realistic Winlogbeat, Filebeat and CSV samples written to temp files.

use std::collections::BTreeMap;
use std::io::Write;

use loglynx_features::connectors::csv::{decode_csv_line, looks_like_csv_header, ColumnMap, CsvLayout};
use loglynx_features::connectors::json::{decode_json_line, looks_like_json, ConnectorError, FieldMap};
use loglynx_features::event::{Action, Decoded, Outcome, SkipReason};
use loglynx_features::time::format_rfc3339;
use loglynx_tests::shared;

const OTRF: &str = "otrf/psh_input_capture_promptforcreds/psh_input_capture_promptforcreds_2020-10-2001320841.json";

/// Tallies of a decoded file: events by action/outcome, skips by reason and program.
#[derive(Default, Debug)]
struct Tally {
    events: BTreeMap<(Action, Outcome), usize>,
    skips: BTreeMap<(SkipReason, Option<String>), usize>,
}

impl Tally {
    fn add(&mut self, d: Decoded<'_>) {
        match d {
            Ok(ev) => *self.events.entry((ev.action, ev.outcome)).or_default() += 1,
            Err(s) => {
                *self
                    .skips
                    .entry((s.reason, s.program.map(|p| p.into_owned())))
                    .or_default() += 1
            }
        }
    }

    fn event_count(&self) -> usize {
        self.events.values().sum()
    }

    fn skip_count(&self, reason: SkipReason) -> usize {
        self.skips
            .iter()
            .filter(|((r, _), _)| *r == reason)
            .map(|(_, n)| n)
            .sum()
    }
}

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.flush().unwrap();
    f
}

#[test]
fn otrf_windows_export_decodes_without_events() -> anyhow::Result<()> {
    let path = shared(OTRF);
    let text = std::fs::read_to_string(&path)?;
    assert!(text.contains("\r\n"), "the export uses CRLF line endings");
    let map = FieldMap::default();
    let mut tally = Tally::default();
    // Split on '\n' only, so every line still ends with '\r'.
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), 163);
    for (i, line) in lines.iter().enumerate() {
        assert!(looks_like_json(line), "line {}", i + 1);
        tally.add(decode_json_line(line, 0, i as u64 + 1, &map));
    }
    // Counted independently (python3 json): 156 Sysmon events (IDs 7, 9, 10,
    // 11, 12, 13, 23), 5 Security-Auditing (5156 x2, 5158 x2, 5379) and 2
    // Eventlog (104, 1102); none of the supported IDs.
    assert_eq!(tally.event_count(), 0, "{tally:?}");
    let want: BTreeMap<_, _> = [
        ("Microsoft-Windows-Eventlog", 2),
        ("Microsoft-Windows-Security-Auditing", 5),
        ("Microsoft-Windows-Sysmon", 156),
    ]
    .into_iter()
    .map(|(p, n)| ((SkipReason::UnsupportedEventId, Some(p.to_owned())), n))
    .collect();
    assert_eq!(tally.skips, want);
    assert_eq!(tally.skip_count(SkipReason::UnsupportedEventId), 163);

    // Cross-check the event IDs with a plain serde_json pass.
    let supported = [4624, 4625, 4634, 4648, 4672, 4720, 4740, 4771, 4776];
    let mut ids = 0;
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let id = v["EventID"].as_u64().expect("numeric EventID");
        assert!(!supported.contains(&id));
        ids += 1;
    }
    assert_eq!(ids, 163);
    Ok(())
}

#[test]
fn otrf_export_cut_anywhere_never_panics() {
    let text = std::fs::read_to_string(shared(OTRF)).unwrap();
    let map = FieldMap::default();
    for line in text.lines().take(12) {
        for (i, _) in line.char_indices().step_by(7) {
            let _ = decode_json_line(&line[..i], 0, 1, &map);
        }
        // A cut object is a truncated write, not an event.
        let half = line.char_indices().nth(line.chars().count() / 2).map_or(0, |(i, _)| i);
        let cut = &line[..half];
        assert_eq!(
            decode_json_line(cut, 0, 1, &map).unwrap_err().reason,
            SkipReason::Truncated
        );
    }
}

/// Winlogbeat 8 documents as shipped (`winlog.event_id` as a string,
/// event data nested), one per line.
const WINLOGBEAT: &str = concat!(
    r#"{"@timestamp":"2024-05-06T07:08:09.123Z","event":{"code":"4624","kind":"event","provider":"Microsoft-Windows-Security-Auditing","action":"logged-in","category":["authentication"],"outcome":"success"},"host":{"name":"dc01.corp.example"},"winlog":{"channel":"Security","computer_name":"DC01.corp.example","event_id":"4624","provider_name":"Microsoft-Windows-Security-Auditing","record_id":"88121","event_data":{"SubjectUserSid":"S-1-0-0","SubjectUserName":"-","TargetUserName":"alice","TargetDomainName":"CORP","LogonType":"3","LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","WorkstationName":"WS042","IpAddress":"10.20.30.40","IpPort":"52113"}}}"#,
    "\n",
    r#"{"@timestamp":"2024-05-06T07:08:10.001Z","event":{"code":"4625","provider":"Microsoft-Windows-Security-Auditing","action":"logon-failed","outcome":"failure"},"host":{"name":"dc01.corp.example"},"winlog":{"channel":"Security","computer_name":"DC01.corp.example","event_id":"4625","provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"TargetUserName":"administrator","TargetDomainName":"CORP","Status":"0xc000006d","SubStatus":"0xc000006a","LogonType":"3","AuthenticationPackageName":"NTLM","IpAddress":"198.51.100.23","IpPort":"0"}}}"#,
    "\n",
    r#"{"@timestamp":"2024-05-06T07:08:10.512Z","event":{"code":"4625","provider":"Microsoft-Windows-Security-Auditing","action":"logon-failed","outcome":"failure"},"host":{"name":"dc01.corp.example"},"winlog":{"channel":"Security","computer_name":"DC01.corp.example","event_id":"4625","provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"TargetUserName":"svc_bkp","TargetDomainName":"CORP","Status":"0xc000006d","SubStatus":"0xc0000064","LogonType":"3","AuthenticationPackageName":"NTLM","IpAddress":"198.51.100.23","IpPort":"0"}}}"#,
    "\n",
    r#"{"@timestamp":"2024-05-06T07:08:11Z","event":{"code":"4672","provider":"Microsoft-Windows-Security-Auditing"},"host":{"name":"dc01.corp.example"},"winlog":{"computer_name":"DC01.corp.example","event_id":"4672","provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"SubjectUserName":"alice","SubjectDomainName":"CORP","PrivilegeList":"SeBackupPrivilege\n\t\t\tSeDebugPrivilege"}}}"#,
    "\n",
    r#"{"@timestamp":"2024-05-06T07:09:00Z","event":{"code":"4688","provider":"Microsoft-Windows-Security-Auditing"},"host":{"name":"dc01.corp.example"},"winlog":{"event_id":"4688","provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"NewProcessName":"C:\\Windows\\System32\\cmd.exe"}}}"#,
    "\n",
    r#"{"@timestamp":"2024-05-06T07:10:00Z","event":{"code":"4634","provider":"Microsoft-Windows-Security-Auditing"},"host":{"name":"dc01.corp.example"},"winlog":{"event_id":"4634","provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"TargetUserName":"alice","LogonType":"3"}}}"#,
    "\n",
    "\n",
    r#"{"@timestamp":"2024-05-06T07:10:01Z","winlog":{"event_id":"4625","event_data":{"TargetUser"#,
    "\n",
);

#[test]
fn winlogbeat_sample_file() -> anyhow::Result<()> {
    let file = write_temp(WINLOGBEAT);
    let text = std::fs::read_to_string(file.path())?;
    let map = FieldMap::default();
    let decoded: Vec<_> = text
        .lines()
        .enumerate()
        .map(|(i, l)| decode_json_line(l, 1, i as u64 + 1, &map))
        .collect();
    assert_eq!(decoded.len(), 8);

    let ok = |i: usize| decoded[i].as_ref().unwrap_or_else(|s| panic!("line {}: {s:?}", i + 1));
    let ev = ok(0);
    assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Success));
    assert_eq!(ev.user.as_deref(), Some("alice"));
    assert_eq!(ev.source_address.as_deref(), Some("10.20.30.40"));
    assert_eq!(ev.source_port, Some(52113));
    assert_eq!(ev.host.as_deref(), Some("dc01.corp.example"));
    assert_eq!(ev.program.as_deref(), Some("Microsoft-Windows-Security-Auditing"));
    assert_eq!(format_rfc3339(ev.timestamp), "2024-05-06T07:08:09.123000Z");
    assert_eq!((ev.evidence.file, ev.evidence.line), (1, 1));

    let ev = ok(1);
    assert_eq!(
        (ev.action, ev.outcome, ev.user_invalid),
        (Action::Authentication, Outcome::Failure, false)
    );
    assert_eq!(ev.source_port, None, "IpPort 0 means no port");
    let ev = ok(2);
    assert_eq!((ev.user.as_deref(), ev.user_invalid), (Some("svc_bkp"), true));
    let ev = ok(3);
    assert_eq!(
        (ev.action, ev.user.as_deref()),
        (Action::PrivilegedLogon, Some("alice"))
    );
    let s = decoded[4].as_ref().unwrap_err();
    assert_eq!(s.reason, SkipReason::UnsupportedEventId);
    assert_eq!(s.program.as_deref(), Some("Microsoft-Windows-Security-Auditing"));
    assert_eq!(ok(5).action, Action::SessionClosed);
    assert_eq!(decoded[6].as_ref().unwrap_err().reason, SkipReason::Empty);
    assert_eq!(decoded[7].as_ref().unwrap_err().reason, SkipReason::Truncated);
    Ok(())
}

#[test]
fn flat_windows_export_with_string_values() {
    // The OTRF/NXLog shape, with the IDs and ports as strings.
    let lines = [
        r#"{"SourceName":"Microsoft-Windows-Security-Auditing","TimeCreated":"2020-10-20 01:31:47.232","Hostname":"WORKSTATION5","EventID":"4625","Channel":"Security","TargetUserName":"pgustavo","IpAddress":"-","IpPort":"-","LogonType":"2","Status":"0xc000006d","SubStatus":"0xc000006a"}"#,
        r#"{"SourceName":"Microsoft-Windows-Security-Auditing","TimeCreated":"2020-10-20 01:31:48.000","Hostname":"MORDORDC","EventID":4776,"Channel":"Security","TargetUserName":"pgustavo","Workstation":"WORKSTATION5","Status":"0x0"}"#,
        r#"{"SourceName":"Microsoft-Windows-Security-Auditing","TimeCreated":"2020-10-20 01:31:49.000","Hostname":"MORDORDC","EventID":4771,"TargetUserName":"pgustavo","IpAddress":"::ffff:172.18.39.5","IpPort":"49710","Status":"0x18"}"#,
    ];
    let map = FieldMap::default();
    let evs: Vec<_> = lines.iter().map(|l| decode_json_line(l, 0, 1, &map).unwrap()).collect();
    assert_eq!(
        (evs[0].outcome, evs[0].source_address.as_deref()),
        (Outcome::Failure, None)
    );
    assert_eq!(evs[0].host.as_deref(), Some("WORKSTATION5"));
    assert_eq!(format_rfc3339(evs[0].timestamp), "2020-10-20T01:31:47.232000Z");
    assert_eq!(
        (evs[1].outcome, evs[1].source_address.as_deref()),
        (Outcome::Success, Some("WORKSTATION5"))
    );
    assert_eq!(evs[2].source_ip, Some("172.18.39.5".parse().unwrap()));
    assert_eq!(evs[2].source_port, Some(49710));
}

#[test]
fn field_map_file_for_another_schema() -> anyhow::Result<()> {
    let map_file = write_temp(
        r#"
        # An identity provider's audit log.
        timestamp = "published"
        user = "actor.alternateId"
        source_ip = "client.ipAddress"
        action = "eventType"
        outcome = "outcome.result"
        host = ""

        [action_values]
        "user.session.start" = "authentication"
        "user.session.end" = "session-closed"
        "user.account.lock" = "account-locked"

        [outcome_values]
        "DENY" = "failure"
        "ALLOW" = "success"
        "#,
    );
    let map = FieldMap::from_toml_file(map_file.path())?;
    let log = write_temp(concat!(
        r#"{"published":"2024-05-06T07:08:09.000Z","eventType":"user.session.start","actor":{"alternateId":"bob@example.com"},"client":{"ipAddress":"2001:db8::42"},"outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}}"#,
        "\n",
        r#"{"published":"2024-05-06T07:08:19.000Z","eventType":"user.session.start","actor":{"alternateId":"bob@example.com"},"client":{"ipAddress":"2001:db8::42"},"outcome":{"result":"ALLOW"}}"#,
        "\n",
        r#"{"published":"2024-05-06T07:09:00.000Z","eventType":"user.account.lock","actor":{"alternateId":"eve@example.com"},"outcome":{"result":"SUCCESS"}}"#,
        "\n",
        r#"{"published":"2024-05-06T07:09:30.000Z","eventType":"policy.evaluate_sign_on","actor":{"alternateId":"bob@example.com"}}"#,
        "\n",
    ));
    let text = std::fs::read_to_string(log.path())?;
    let d: Vec<_> = text.lines().map(|l| decode_json_line(l, 0, 1, &map)).collect();
    let e0 = d[0].as_ref().unwrap();
    assert_eq!((e0.action, e0.outcome), (Action::Authentication, Outcome::Failure));
    assert_eq!(e0.user.as_deref(), Some("bob@example.com"));
    assert_eq!(e0.source_ip, Some("2001:db8::42".parse().unwrap()));
    assert_eq!(d[1].as_ref().unwrap().outcome, Outcome::Success);
    assert_eq!(d[2].as_ref().unwrap().action, Action::AccountLocked);
    assert_eq!(d[3].as_ref().unwrap_err().reason, SkipReason::Unrecognized);

    let bad = write_temp("timestamp = \"published\"\nusername = \"actor\"\n");
    let err = FieldMap::from_toml_file(bad.path()).unwrap_err();
    assert!(matches!(err, ConnectorError::FieldMap { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("username") && msg.contains(&*bad.path().to_string_lossy()),
        "{msg}"
    );
    Ok(())
}

#[test]
fn csv_sample_file_with_column_map() -> anyhow::Result<()> {
    let map_file = write_temp("timestamp = \"time\"\nuser = \"login\"\nsource_ip = \"ip\"\nsuccess = \"ok\"\nhost = \"server\"\naction = \"kind\"\n");
    let map = ColumnMap::from_toml_file(map_file.path())?;
    let csv = write_temp(concat!(
        "\u{feff}time,login,ip,ok,server,kind\r\n",
        "2024-05-06T07:08:09Z,alice,10.0.0.5,true,web1,\r\n",
        "2024-05-06 07:08:10,\"smith, john\",10.0.0.6,FALSE,web1,authentication\r\n",
        "1714979291,\"o\"\"hara\",2001:db8::9,no,\"web 2\",ssh_login\r\n",
        "1714979292000,carol,10.0.0.7,1,web1,user-created\r\n",
        "2024-05-06T07:08:13Z,,10.0.0.8,yes,web1,\r\n",
        "2024-05-06T07:08:14Z,dave,10.0.0.9,perhaps,web1,\r\n",
        "not-a-time,erin,10.0.0.10,yes,web1,\r\n",
        "2024-05-06T07:08:15Z,frank,10.0.0.11,yes\r\n",
        "2024-05-06T07:08:16Z,\"multi\r\n",
        "line\",10.0.0.12,yes,web1,\r\n",
    ));
    let text = std::fs::read_to_string(csv.path())?;
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(looks_like_csv_header(header, &map));
    let layout = CsvLayout::from_header(header, &map)?;
    let d: Vec<_> = lines
        .enumerate()
        .map(|(i, l)| decode_csv_line(l, 0, i as u64 + 2, &layout))
        .collect();
    assert_eq!(d.len(), 10);
    let ev = d[0].as_ref().unwrap();
    assert_eq!(
        (ev.action, ev.outcome, ev.user.as_deref()),
        (Action::Authentication, Outcome::Success, Some("alice"))
    );
    assert_eq!(ev.host.as_deref(), Some("web1"));
    let ev = d[1].as_ref().unwrap();
    assert_eq!(
        (ev.user.as_deref(), ev.outcome),
        (Some("smith, john"), Outcome::Failure)
    );
    let ev = d[2].as_ref().unwrap();
    assert_eq!(
        (ev.user.as_deref(), ev.host.as_deref()),
        (Some("o\"hara"), Some("web 2"))
    );
    assert_eq!(format_rfc3339(ev.timestamp), "2024-05-06T07:08:11Z");
    let ev = d[3].as_ref().unwrap();
    assert_eq!((ev.action, ev.evidence.line), (Action::UserCreated, 5));
    assert_eq!(format_rfc3339(ev.timestamp), "2024-05-06T07:08:12Z");
    let reasons: Vec<_> = d[4..].iter().map(|r| r.as_ref().unwrap_err().reason).collect();
    assert_eq!(
        reasons,
        [
            SkipReason::MissingField,
            SkipReason::Malformed,
            SkipReason::BadTimestamp,
            SkipReason::Malformed,
            SkipReason::Malformed,
            SkipReason::Malformed,
        ]
    );
    Ok(())
}

#[test]
fn loghub_structured_csvs() -> anyhow::Result<()> {
    // OpenSSH's structured CSV has none of the default columns.
    let text = std::fs::read_to_string(shared("loghub/OpenSSH/OpenSSH_2k.log_structured.csv"))?;
    let header = text.lines().next().unwrap();
    assert!(!looks_like_csv_header(header, &ColumnMap::default()));
    match CsvLayout::from_header(header, &ColumnMap::default()) {
        Err(ConnectorError::CsvHeader { missing, .. }) => {
            assert_eq!(missing, ["timestamp", "source_ip", "username", "success", "system"])
        }
        other => panic!("{other:?}"),
    }

    // BGL's has epoch seconds and 347 quoted Content fields holding commas.
    // Totals below counted independently with python3's csv module.
    let text = std::fs::read_to_string(shared("loghub/BGL/BGL_2k.log_structured.csv"))?;
    let map = ColumnMap::from_toml_str(
        "timestamp = \"Timestamp\"\nuser = \"Node\"\nsource_ip = \"\"\nsuccess = \"\"\nhost = \"\"\nprogram = \"Component\"\ntarget_user = \"Content\"\n",
    )?;
    let mut lines = text.lines();
    let layout = CsvLayout::from_header(lines.next().unwrap(), &map)?;
    assert_eq!(layout.field_count(), 13);
    let mut by_program: BTreeMap<String, usize> = BTreeMap::new();
    let (mut events, mut content_chars, mut min_ts, mut max_ts) = (0, 0, i64::MAX, i64::MIN);
    for (i, line) in lines.enumerate() {
        let ev = decode_csv_line(line, 0, i as u64 + 2, &layout).unwrap_or_else(|s| panic!("row {}: {s:?}", i + 2));
        events += 1;
        *by_program.entry(ev.program.unwrap().into_owned()).or_default() += 1;
        content_chars += ev.target_user.map_or(0, |c| c.chars().count());
        min_ts = min_ts.min(ev.timestamp);
        max_ts = max_ts.max(ev.timestamp);
    }
    assert_eq!(events, 2000);
    assert_eq!(content_chars, 99_695);
    let want: BTreeMap<String, usize> = [
        ("APP", 107),
        ("DISCOVERY", 35),
        ("HARDWARE", 3),
        ("KERNEL", 1820),
        ("MMCS", 35),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(by_program, want);
    assert_eq!((min_ts, max_ts), (1_117_838_570_000_000, 1_136_301_189_000_000));
    Ok(())
}
