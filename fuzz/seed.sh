#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the public logs in ../shared/datasets (one
# line, or one header and a row, per file) and from small model files. The
# corpus is not committed: run this before fuzzing.
#   fuzz/seed.sh [DATASETS_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-$here/../../shared/datasets}
corpus=$here/corpus
[ -d "$data" ] || { echo "no datasets at $data" >&2; exit 1; }

# put TARGET: each stdin line becomes one corpus file named by its hash.
put() {
  local dir=$corpus/$1
  mkdir -p "$dir"
  while IFS= read -r line; do
    local name
    name=$(printf '%s' "$line" | sha1sum | cut -c1-16)
    printf '%s' "$line" >"$dir/$name"
  done
}

# At most $2 distinct lines of a file, spread over all of it (CRs kept:
# some files end lines with CRLF).
sample() {
  awk -v max="$2" '!seen[$0]++ { keep[n++] = $0 }
    END { step = n > max ? n / max : 1; for (i = 0; i < n; i += step) print keep[int(i)] }' "$1"
}

syslog_files=(
  "$data/loghub/OpenSSH/OpenSSH_2k.log"
  "$data/loghub/Linux/Linux_2k.log"
  "$data/loghub-full/Linux.log"
  "$data/gtkcyber/auth.log"
  "$data/elastic-beats/test.log"
  "$data/elastic-beats/timestamp.log"
)
for f in "${syslog_files[@]}" "$data"/wazuh-log-entries/*; do
  [ -f "$f" ] && sample "$f" 300 | put syslog_line
done

# decode_message: `program\nmessage` from the syslog lines' tags.
for f in "${syslog_files[@]}" "$data"/wazuh-log-entries/*; do
  [ -f "$f" ] || continue
  sample "$f" 300 | tr -d '\r' |
    sed -nE 's/^.*[0-9] [^ ]+ ([^ :[]+)(\[[0-9]+\])?: (.*)$/\1\n\3/p' |
    paste -d '\t' - - | while IFS=$'\t' read -r prog msg; do
      dir=$corpus/decode_message
      mkdir -p "$dir"
      name=$(printf '%s\n%s' "$prog" "$msg" | sha1sum | cut -c1-16)
      printf '%s\n%s' "$prog" "$msg" >"$dir/$name"
    done
done

# json_line: Windows Security events (OTRF), and the syslog lines as the
# `message` of an ECS record.
for f in "$data"/otrf/*/*.json; do
  [ -f "$f" ] && sample "$f" 200 | put json_line
done
sample "$data/gtkcyber/auth.log" 100 | tr -d '\r' |
  sed -E 's/\\/\\\\/g; s/"/\\"/g' |
  sed -nE 's/^.*[0-9] ([^ ]+) ([^ :[]+)(\[([0-9]+)\])?: (.*)$/{"@timestamp":"2024-03-03T04:05:06Z","host":{"name":"\1"},"process":{"name":"\2","pid":"\4"},"message":"\5"}/p' |
  put json_line

# csv_line: the loghub structured CSVs (header and one row), and the same
# rows under headers the column maps read.
for f in "$data"/loghub/OpenSSH/*_structured.csv "$data"/loghub/Linux/*_structured.csv; do
  [ -f "$f" ] || continue
  header=$(head -n1 "$f")
  tail -n +2 "$f" | sample /dev/stdin 100 | while IFS= read -r row; do
    printf '%s\n%s\n' "$header" "$row"
  done | paste -d '\t' - - | while IFS=$'\t' read -r h r; do
    dir=$corpus/csv_line
    mkdir -p "$dir"
    name=$(printf '%s\n%s' "$h" "$r" | sha1sum | cut -c1-16)
    printf '%s\n%s' "$h" "$r" >"$dir/$name"
  done
done
sample "$data/loghub/OpenSSH/OpenSSH_2k.log" 100 | tr -d '\r' |
  sed -nE 's/^.* ([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+).*$/time,login,ip,ok,event,app,port,target\n2024-03-03T04:05:06Z,root,\1,false,authentication,sshd,22,\ntimestamp,username,source_ip,success,system\n2024-03-03 04:05:06,admin,\1,true,web1/p' |
  paste -d '\t' - - | while IFS=$'\t' read -r h r; do
    dir=$corpus/csv_line
    mkdir -p "$dir"
    name=$(printf '%s\n%s' "$h" "$r" | sha1sum | cut -c1-16)
    printf '%s\n%s' "$h" "$r" >"$dir/$name"
  done

# bundle: small fitted models, whole files and payloads alone.
(cd "$here/.." && cargo run -q -p loglynx-models --example model_seed -- "$corpus/bundle") >/dev/null

for t in "$corpus"/*; do
  echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
