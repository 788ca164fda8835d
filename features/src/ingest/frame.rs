//! Events given as a table (the columns of
//! [`EVENT_COLUMNS`](crate::output::EVENT_COLUMNS), as `--events-out` writes
//! them or a Python or Spark caller hands them over) back into [`Event`]s,
//! their feature rows, and the buckets that keep each entity's events
//! together when the rows are computed in parts.
//!
//! The events already carry their attempt counts (`loglynx.attempts`,
//! `loglynx.attempt_line`): they are folded as they are, not paired again.

use std::borrow::Cow;
use std::sync::Arc;

use polars::prelude::*;

use crate::aggregate::registry::EntityKind;
use crate::aggregate::{entity_names, name_hash, Aggregator, FeatureTable, ValidFeatureConfig};
use crate::event::{parse_ip, Action, AttemptLine, AuthMethod, Event, Evidence, Micros, Outcome};

/// The columns of [`EVENT_COLUMNS`](crate::output::EVENT_COLUMNS) that
/// feature rows are made from: a table of only these gives the rows of the
/// whole table (what a distributed run needs to move).
pub const ROW_COLUMNS: &[&str] = &[
    "@timestamp",
    "host.name",
    "source.address",
    "source.ip",
    "user.name",
    "event.action",
    "event.outcome",
    "loglynx.user_invalid",
    "loglynx.repeat",
    "loglynx.attempts",
    "loglynx.attempt_line",
    "loglynx.source_unreliable",
    "log.file.path",
    "log.file.line",
];

/// Why a table of events cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("events table has no column `{0}`")]
    Missing(&'static str),
    #[error("events table column `{column}`: {reason}")]
    Column { column: &'static str, reason: String },
    #[error("events table row {row}: {column} `{value}` is not a loglynx {what}")]
    Value {
        row: usize,
        column: &'static str,
        value: String,
        what: &'static str,
    },
}

/// Events read from a table, and the file names their evidence points to.
#[derive(Debug, Default)]
pub struct FrameEvents {
    pub events: Vec<Event<'static>>,
    /// `log.file.path` values, indexed by `Evidence::file`.
    pub files: Vec<String>,
}

fn column<'d>(df: &'d DataFrame, name: &'static str) -> Option<&'d Column> {
    df.column(name).ok()
}

fn cast(df: &DataFrame, name: &'static str, to: &DataType) -> Result<Option<Column>, FrameError> {
    let Some(c) = column(df, name) else {
        return Ok(None);
    };
    c.cast(to).map(Some).map_err(|e| FrameError::Column {
        column: name,
        reason: e.to_string(),
    })
}

fn strings(df: &DataFrame, name: &'static str) -> Result<Vec<Option<String>>, FrameError> {
    Ok(match cast(df, name, &DataType::String)? {
        Some(c) => c
            .str()
            .expect("cast to String")
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        None => vec![None; df.height()],
    })
}

fn numbers(df: &DataFrame, name: &'static str) -> Result<Vec<Option<u64>>, FrameError> {
    Ok(match cast(df, name, &DataType::UInt64)? {
        Some(c) => c.u64().expect("cast to UInt64").iter().collect(),
        None => vec![None; df.height()],
    })
}

fn flags(df: &DataFrame, name: &'static str) -> Result<Vec<bool>, FrameError> {
    Ok(match cast(df, name, &DataType::Boolean)? {
        Some(c) => c
            .bool()
            .expect("cast to Boolean")
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect(),
        None => vec![false; df.height()],
    })
}

/// `@timestamp` as UTC microseconds: a datetime of any unit and zone, or
/// integer microseconds.
fn timestamps(df: &DataFrame) -> Result<Vec<Micros>, FrameError> {
    const NAME: &str = "@timestamp";
    let c = column(df, NAME).ok_or(FrameError::Missing(NAME))?;
    let bad = |e: PolarsError| FrameError::Column {
        column: NAME,
        reason: e.to_string(),
    };
    let micros = match c.dtype() {
        DataType::Datetime(_, tz) => c
            .cast(&DataType::Datetime(TimeUnit::Microseconds, tz.clone()))
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(bad)?,
        DataType::Int64 | DataType::UInt64 | DataType::Int32 => c.cast(&DataType::Int64).map_err(bad)?,
        other => {
            return Err(FrameError::Column {
                column: NAME,
                reason: format!("is {other}, not a datetime"),
            })
        }
    };
    micros
        .i64()
        .expect("cast to Int64")
        .iter()
        .enumerate()
        .map(|(row, v)| {
            v.ok_or(FrameError::Value {
                row,
                column: NAME,
                value: "null".into(),
                what: "time",
            })
        })
        .collect()
}

/// Reads every row of `df` as an event. `@timestamp`, `event.action` and
/// `event.outcome` are required; other columns of [`EVENT_COLUMNS`] are
/// read when present (absent ones leave the event's defaults, so a plain
/// ECS table counts each authentication event as one attempt).
///
/// [`EVENT_COLUMNS`]: crate::output::EVENT_COLUMNS
pub fn events_from_dataframe(df: &DataFrame) -> Result<FrameEvents, FrameError> {
    let n = df.height();
    let times = timestamps(df)?;
    if column(df, "event.action").is_none() {
        return Err(FrameError::Missing("event.action"));
    }
    if column(df, "event.outcome").is_none() {
        return Err(FrameError::Missing("event.outcome"));
    }
    let action = strings(df, "event.action")?;
    let outcome = strings(df, "event.outcome")?;
    let mut host = strings(df, "host.name")?;
    let mut source_address = strings(df, "source.address")?;
    let source_ip = strings(df, "source.ip")?;
    let source_port = numbers(df, "source.port")?;
    let mut user = strings(df, "user.name")?;
    let mut target_user = strings(df, "user.target.name")?;
    let auth_method = strings(df, "loglynx.auth_method")?;
    let user_invalid = flags(df, "loglynx.user_invalid")?;
    let mut program = strings(df, "process.name")?;
    let pid = numbers(df, "process.pid")?;
    let mut command = strings(df, "process.command_line")?;
    let repeat = numbers(df, "loglynx.repeat")?;
    let attempts = numbers(df, "loglynx.attempts")?;
    let attempt_line = strings(df, "loglynx.attempt_line")?;
    let denied = flags(df, "loglynx.denied")?;
    let source_unreliable = flags(df, "loglynx.source_unreliable")?;
    let path = strings(df, "log.file.path")?;
    let line = numbers(df, "log.file.line")?;
    let mut original = strings(df, "event.original")?;

    let mut files: Vec<String> = Vec::new();
    let mut file_ids: rustc_hash::FxHashMap<String, u32> = Default::default();
    let mut events = Vec::with_capacity(n);
    for row in 0..n {
        let bad = |column: &'static str, value: &Option<String>, what: &'static str| FrameError::Value {
            row,
            column,
            value: value.clone().unwrap_or_else(|| "null".into()),
            what,
        };
        let act = action[row]
            .as_deref()
            .and_then(Action::from_keyword)
            .ok_or_else(|| bad("event.action", &action[row], "action"))?;
        let out = outcome[row]
            .as_deref()
            .and_then(|s| Outcome::ALL.into_iter().find(|o| o.as_str() == s))
            .ok_or_else(|| bad("event.outcome", &outcome[row], "outcome"))?;
        let file = match path[row].as_deref() {
            Some(p) => *file_ids.entry(p.to_owned()).or_insert_with(|| {
                files.push(p.to_owned());
                files.len() as u32 - 1
            }),
            None => 0,
        };
        let evidence = Evidence {
            file,
            line: line[row].unwrap_or(0),
            raw: Cow::Owned(original[row].take().unwrap_or_default()),
        };
        let mut ev = Event::new(times[row], act, evidence);
        ev.outcome = out;
        ev.host = host[row].take().map(Cow::Owned);
        if let Some(a) = source_address[row].take() {
            ev.set_source(Cow::Owned(a));
        }
        if let Some(ip) = source_ip[row].as_deref() {
            ev.source_ip = parse_ip(ip);
        }
        ev.source_port = source_port[row].and_then(|p| u16::try_from(p).ok());
        ev.user = user[row].take().map(Cow::Owned);
        ev.target_user = target_user[row].take().map(Cow::Owned);
        if let Some(m) = auth_method[row].as_deref() {
            ev.auth_method =
                Some(AuthMethod::parse(m).ok_or_else(|| bad("loglynx.auth_method", &auth_method[row], "auth method"))?);
        }
        ev.user_invalid = user_invalid[row];
        ev.program = program[row].take().map(Cow::Owned);
        ev.pid = pid[row].and_then(|p| u32::try_from(p).ok());
        ev.command = command[row].take().map(Cow::Owned);
        if let Some(r) = repeat[row] {
            ev.repeat = r as u32;
        }
        if let Some(l) = attempt_line[row].as_deref() {
            let line =
                AttemptLine::parse(l).ok_or_else(|| bad("loglynx.attempt_line", &attempt_line[row], "attempt line"))?;
            ev.set_attempt_line(line);
        }
        if let Some(a) = attempts[row] {
            ev.attempts = a as u32;
        }
        ev.denied = denied[row];
        ev.source_unreliable = source_unreliable[row];
        events.push(ev);
    }
    if files.is_empty() {
        files.push(String::new());
    }
    Ok(FrameEvents { events, files })
}

/// The feature rows of `events` (in time order within each entity, as
/// given), sorted by kind, entity and window start. `start` is where the
/// whole input starts when `events` are a part of it (novelty counts from
/// its warm-up); `None` for the events' own first time.
pub fn features_of_events(events: &[Event<'_>], cfg: Arc<ValidFeatureConfig>, start: Option<Micros>) -> FeatureTable {
    let mut agg = Aggregator::new(cfg);
    if let Some(t) = start {
        agg.start_at(t);
    }
    for ev in events {
        agg.add(ev);
    }
    agg.finish()
}

/// The bucket, of `buckets`, that an entity's events and rows go to.
pub fn entity_bucket(kind: EntityKind, name: &str, buckets: u32) -> u32 {
    let h = name_hash(name) ^ (kind.index() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h % u64::from(buckets.max(1))) as u32
}

/// The distinct buckets of `ev`'s entities: a row of an entity is whole
/// where every event with that entity went, so each event goes to each of
/// its entities' buckets.
pub fn event_buckets(ev: &Event<'_>, buckets: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(3);
    for (kind, name) in EntityKind::ALL.into_iter().zip(entity_names(ev)) {
        if let Some(name) = name {
            let b = entity_bucket(kind, name, buckets);
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out
}

/// Keeps the rows whose entity falls in one of `mine` (of `buckets`).
pub fn rows_in_buckets(table: &FeatureTable, mine: &[u32], buckets: u32) -> FeatureTable {
    let order: Vec<u32> = (0..table.len())
        .filter(|&i| mine.contains(&entity_bucket(table.kinds[i], &table.entities[i], buckets)))
        .map(|i| i as u32)
        .collect();
    table.reordered(&order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::FeatureConfig;
    use crate::output::EventBatch;

    fn decoded(lines: &[&str]) -> Vec<Event<'static>> {
        let years = crate::connectors::syslog::YearResolver::fixed(2026);
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let ev = crate::connectors::syslog::decode_line(l, 0, i as u64 + 1, &years).unwrap();
                Event {
                    host: ev.host.map(|h| Cow::Owned(h.into_owned())),
                    source_address: ev.source_address.map(|h| Cow::Owned(h.into_owned())),
                    user: ev.user.map(|h| Cow::Owned(h.into_owned())),
                    target_user: ev.target_user.map(|h| Cow::Owned(h.into_owned())),
                    program: ev.program.map(|h| Cow::Owned(h.into_owned())),
                    command: ev.command.map(|h| Cow::Owned(h.into_owned())),
                    evidence: Evidence {
                        file: 0,
                        line: ev.evidence.line,
                        raw: Cow::Owned(ev.evidence.raw.into_owned()),
                    },
                    ..ev
                }
            })
            .collect()
    }

    #[test]
    fn events_written_as_a_table_read_back_as_the_same_events() {
        let mut events = decoded(&[
            "Mar  3 04:05:06 web1 sshd[811]: Invalid user admin from 203.0.113.9 port 4711",
            "Mar  3 04:05:08 web1 sshd[811]: Failed password for invalid user admin from 203.0.113.9 port 4711 ssh2",
            "Mar  3 04:06:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
            "Mar  3 04:07:00 web1 sudo:    bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
        ]);
        events[1].attempts = 0;
        let mut batch = EventBatch::default();
        for ev in &events {
            batch.push(ev);
        }
        let df = batch.dataframe(&["auth.log".to_owned()]).unwrap();
        let back = events_from_dataframe(&df).unwrap();
        assert_eq!(back.files, vec!["auth.log".to_owned()]);
        assert_eq!(back.events, events);
        assert!(back.events[3].denied, "the denied flag crosses the table");
    }

    #[test]
    fn a_table_without_an_action_column_is_refused_naming_it() {
        let df = DataFrame::new(
            1,
            vec![
                Column::new("@timestamp".into(), &[0i64]),
                Column::new("event.outcome".into(), &["success"]),
            ],
        )
        .unwrap();
        let err = events_from_dataframe(&df).unwrap_err().to_string();
        assert_eq!(err, "events table has no column `event.action`");
        let df = DataFrame::new(
            1,
            vec![
                Column::new("@timestamp".into(), &[0i64]),
                Column::new("event.action".into(), &["logon"]),
                Column::new("event.outcome".into(), &["success"]),
            ],
        )
        .unwrap();
        let err = events_from_dataframe(&df).unwrap_err().to_string();
        assert_eq!(err, "events table row 0: event.action `logon` is not a loglynx action");
    }

    #[test]
    fn rows_computed_per_bucket_are_the_rows_of_the_whole() {
        let mut lines = Vec::new();
        for i in 0..80 {
            let (hour, minute, host, pid, user, ip) = (4 + i / 20, i % 60, i % 3, 100 + i, i % 7, i % 5);
            let message = match i % 4 {
                0 => format!("sshd[{pid}]: Failed password for u{user} from 203.0.113.{ip} port 4711 ssh2"),
                1 => format!("sshd[{pid}]: Accepted publickey for u{user} from 10.0.0.{ip} port 4711 ssh2"),
                2 => format!("sshd[{pid}]: Invalid user x{user} from 203.0.113.{ip} port 4711"),
                _ => format!("sudo:    u{user} : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls"),
            };
            lines.push(format!("Mar  3 {hour:02}:{minute:02}:06 web{host} {message}"));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let events = decoded(&refs);
        let cfg = Arc::new(FeatureConfig::default().check().unwrap());
        let whole = features_of_events(&events, cfg.clone(), None);
        let start = events.iter().map(|e| e.timestamp).min();
        let buckets = 4;
        let mut parts = Vec::new();
        for b in 0..buckets {
            let mine: Vec<Event> = events
                .iter()
                .filter(|e| event_buckets(e, buckets).contains(&b))
                .cloned()
                .collect();
            // Through a table of the row columns only, as Spark moves them.
            let mut batch = EventBatch::default();
            for ev in &mine {
                batch.push(ev);
            }
            let table = batch.dataframe(&["auth.log".to_owned()]).unwrap();
            let table = table.select(ROW_COLUMNS.iter().copied()).unwrap();
            let mine = events_from_dataframe(&table).unwrap().events;
            let rows = features_of_events(&mine, cfg.clone(), start);
            parts.push(rows_in_buckets(&rows, &[b], buckets));
        }
        let mut joined = FeatureTable::new(whole.window);
        for p in parts {
            joined.append(p);
        }
        let key = |t: &FeatureTable, i: usize| (t.kinds[i], t.entities[i].clone(), t.window_starts[i]);
        let mut order: Vec<u32> = (0..joined.len() as u32).collect();
        order.sort_by_key(|&i| key(&joined, i as usize));
        let joined = joined.reordered(&order);
        let mut order: Vec<u32> = (0..whole.len() as u32).collect();
        order.sort_by_key(|&i| key(&whole, i as usize));
        let whole = whole.reordered(&order);
        assert!(whole.len() > 20);
        assert_eq!(joined.len(), whole.len());
        assert_eq!(joined.entities, whole.entities);
        for (a, b) in joined.columns.iter().zip(&whole.columns) {
            for (x, y) in a.iter().zip(b) {
                assert!(x == y || (x.is_nan() && y.is_nan()), "{x} vs {y}");
            }
        }
    }
}
