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

# journald_line: the syslog lines as `journalctl -o json` entries (string
# and number fields, a byte-array message).
for f in "${syslog_files[@]}"; do
  [ -f "$f" ] || continue
  sample "$f" 100 | tr -d '\r' | sed -E 's/\\/\\\\/g; s/"/\\"/g' |
    sed -nE 's/^.*[0-9] ([^ ]+) ([^ :[]+)\[([0-9]+)\]: (.*)$/{"__REALTIME_TIMESTAMP":"1709438706000000","_HOSTNAME":"\1","SYSLOG_IDENTIFIER":"\2","_PID":"\3","_COMM":"\2","MESSAGE":"\4"}/p' |
    put journald_line
done
printf '%s\n' \
  '{"__REALTIME_TIMESTAMP":1709438706000000,"_HOSTNAME":"web1","_COMM":"sshd","SYSLOG_PID":"7","MESSAGE":[70,97,105,108,101,100,32,112,97,115,115,119,111,114,100,32,102,111,114,32,255,32,102,114,111,109,32,49,46,50,46,51,46,52]}' \
  '{"__REALTIME_TIMESTAMP":"1709438706000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"su","MESSAGE":["a","b"]}' \
  '{"__REALTIME_TIMESTAMP":"1709438706000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sudo","MESSAGE":null}' |
  put journald_line

# journal_export: the same entries as `journalctl -o export` streams of a
# few entries each, one with a binary (length-prefixed) MESSAGE.
mkdir -p "$corpus/journal_export"
for f in "${syslog_files[@]}"; do
  [ -f "$f" ] || continue
  sample "$f" 60 | tr -d '\r' |
    sed -nE 's/^.*[0-9] ([^ ]+) ([^ :[]+)\[([0-9]+)\]: (.*)$/__CURSOR=s=1;i=1\n__REALTIME_TIMESTAMP=1709438706000000\n_HOSTNAME=\1\nSYSLOG_IDENTIFIER=\2\n_PID=\3\nMESSAGE=\4\n/p' |
    awk -v dir="$corpus/journal_export" -v tag="$(basename "$f")" 'BEGIN { RS = ""; ORS = "" }
      { out = dir "/" tag "-" NR; print $0 "\n\n" > out; close(out) }'
done
mkdir -p "$corpus/journal_export"
{
  printf '__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1709438706000000\n_HOSTNAME=web1\nSYSLOG_IDENTIFIER=sshd\nMESSAGE\n'
  printf '\x26\x00\x00\x00\x00\x00\x00\x00Failed password for r\xffoot\nfrom 1.2.3.4\n\n'
} >"$corpus/journal_export/binary"

# audit_line: the OTRF audit.log records, and user-space records of each
# type the connector reads (hex-encoded and enriched fields among them).
for f in "$data"/otrf/*/*.log; do
  [ -f "$f" ] && sample "$f" 50 | put audit_line
done
sample "$data/loghub/OpenSSH/OpenSSH_2k.log" 100 | tr -d '\r' |
  sed -nE 's/^.*sshd\[([0-9]+)\]: (Failed|Accepted) password for (invalid user )?([^ ]+) from ([^ ]+) port.*$/\1 \2 \4 \5/p' |
  while read -r pid what user addr; do
    res=success; [ "$what" = Failed ] && res=failed
    printf 'type=USER_AUTH msg=audit(1709438706.123:%s): pid=%s uid=0 auid=4294967295 ses=4294967295 msg='"'"'op=PAM:authentication grantors=? acct="%s" exe="/usr/sbin/sshd" hostname=%s addr=%s terminal=ssh res=%s'"'"'\n' \
      "$pid" "$pid" "$user" "$addr" "$addr" "$res"
  done | put audit_line
a='msg=audit(1709438706.123:456): pid=1234 uid=0 auid=1000 ses=3 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023'
printf '%s\n' \
  "node=web1 type=USER_LOGIN $a msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.7 terminal=sshd res=failed'" \
  "type=USER_ACCT $a msg='op=PAM:accounting grantors=? acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=failed'" \
  "type=USER_START $a msg='op=PAM:session_open grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=success'" \
  "type=USER_END $a msg='op=PAM:session_close grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=success'" \
  "type=ADD_USER $a msg='op=add-user id=1001 exe=\"/usr/sbin/useradd\" hostname=web1 addr=? terminal=pts/0 res=success'"$'\x1d'"UID=\"root\" AUID=\"alice\" ID=\"mallory\"" \
  "type=USER_MGMT $a msg='op=add-user-to-group grp=\"sudo\" acct=\"mallory\" exe=\"/usr/sbin/usermod\" hostname=web1 addr=? terminal=pts/0 res=success'" \
  "type=USER_CHAUTHTOK $a msg='op=PAM:chauthtok grantors=pam_unix acct=\"alice\" exe=\"/usr/bin/passwd\" hostname=? addr=? terminal=pts/0 res=success'" \
  "type=USER_CMD $a msg='cwd=\"/home/alice\" cmd=2F62696E2F6C73202D6C61 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'"$'\x1d'"UID=\"alice\" AUID=\"alice\"" \
  "type=USER_ERR $a msg='op=PAM:bad_ident grantors=? acct=\"?\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=failed'" \
  "type=ANOM_LOGIN_FAILURES $a msg='op=pam_faillock suid=1000 acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=? addr=? terminal=ssh res=success'" \
  "type=ADD_GROUP $a msg='op=add-group id=1002 exe=\"/usr/sbin/groupadd\" hostname=web1 addr=? terminal=pts/0 res=success'" |
  put audit_line

# bundle: small fitted models, whole files and payloads alone.
(cd "$here/.." && cargo run -q -p loglynx-models --example model_seed -- "$corpus/bundle") >/dev/null

for t in "$corpus"/*; do
  echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
