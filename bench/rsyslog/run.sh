#!/usr/bin/env bash
# The rsyslog side of bench/agent.bench.ts, runnable on its own:
#
#   bench/rsyslog/run.sh <input-file> <line-count> [work-dir]
#
# Runs rsyslog as two processes on loopback, each with its own config, pid file and work directory:
#   agent     rsyslogd: imfile (inotify mode) reads <input-file> from its beginning -> omfwd over TCP
#   collector rsyslogd: imtcp on a free port -> omfile (the message only, one line per message)
# Both use one main-queue worker: rsyslog's stock queue may start a second worker and reorder lines.
# Waits until the collector's output holds <line-count> lines, checks that every line arrived exactly as written
# (check-lines.mjs; the syslog MSG part begins with the space after the tag, which the template drops), and prints one JSON object: seconds, lines/s, MB/s, agent CPU seconds, agent peak RSS.
# Needs the Debian package rsyslog (apt-get install rsyslog). Exit status 1 if a line is missing or timed out.
set -euo pipefail
input=$(realpath "$1")
lines=$2
work=${3:-$(mktemp -d /tmp/tributary-rsyslog-XXXXXX)}
timeout_s=${RSYSLOG_BENCH_TIMEOUT:-900}
here=$(cd "$(dirname "$0")" && pwd)
command -v rsyslogd >/dev/null || { echo "rsyslogd not found: apt-get install rsyslog" >&2; exit 2; }
mkdir -p "$work/agent" "$work/collector"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
out="$work/collector/out.log"
: > "$out"

cat > "$work/collector/rsyslog.conf" <<CONF
global(workDirectory="$work/collector" maxMessageSize="64k")
module(load="imtcp" maxSessions="10")
main_queue(queue.type="FixedArray" queue.size="100000" queue.workerThreads="1" queue.dequeueBatchSize="4096")
template(name="msgOnly" type="string" string="%msg:2:$%\n")
input(type="imtcp" address="127.0.0.1" port="$port")
action(type="omfile" file="$out" template="msgOnly" asyncWriting="on" ioBufferSize="256k" flushOnTXEnd="off")
CONF

cat > "$work/agent/rsyslog.conf" <<CONF
global(workDirectory="$work/agent" maxMessageSize="64k")
module(load="imfile" mode="inotify")
main_queue(queue.type="FixedArray" queue.size="100000" queue.workerThreads="1" queue.dequeueBatchSize="4096")
template(name="fwd" type="string" string="<13>%timestamp:::date-rfc3339% host tag: %msg%\n")
input(type="imfile" file="$input" tag="bench" freshStartTail="off" reopenOnTruncate="on")
action(type="omfwd" target="127.0.0.1" port="$port" protocol="tcp" template="fwd"
       queue.type="LinkedList" queue.size="100000" queue.dequeueBatchSize="4096" action.resumeRetryCount="-1")
CONF

cleanup() {
  for p in "$work/agent/rsyslogd.pid" "$work/collector/rsyslogd.pid"; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
}
trap cleanup EXIT

rsyslogd -n -f "$work/collector/rsyslog.conf" -i "$work/collector/rsyslogd.pid" &
for _ in $(seq 100); do [ -s "$work/collector/rsyslogd.pid" ] && break; sleep 0.05; done
sleep 0.3
start=$(date +%s.%N)
rsyslogd -n -f "$work/agent/rsyslog.conf" -i "$work/agent/rsyslogd.pid" &
for _ in $(seq 100); do [ -s "$work/agent/rsyslogd.pid" ] && break; sleep 0.05; done
agent_pid=$(cat "$work/agent/rsyslogd.pid")

# Every message of the input ends up as one line of the same bytes: wait for the output to reach the input's size.
want=$(stat -c %s "$input")
deadline=$(( $(date +%s) + timeout_s ))
peak_kb=0
while :; do
  have=$(stat -c %s "$out")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status" 2>/dev/null || echo 0)
  [ "${hwm:-0}" -gt "$peak_kb" ] && peak_kb=$hwm
  [ "$have" -ge "$want" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "timed out: $have of $want bytes arrived" >&2; exit 1; fi
  sleep 0.05
done
end=$(date +%s.%N)
ticks=$(getconf CLK_TCK)
cpu=$(awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$agent_pid/stat")
cleanup
trap - EXIT
sleep 0.3
status=0
node "$here/check-lines.mjs" "$out" "$lines" >&2 || status=1
node -e "
const s = $end - $start, lines = $lines, bytes = $want;
console.log(JSON.stringify({ peer: 'rsyslog', seconds: s, lines_per_s: lines / s, mb_per_s: bytes / 1e6 / s,
  agent_cpu_s: $cpu, agent_peak_rss_mb: $peak_kb / 1024, all_lines_arrived: $status === 0 }));"
[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
exit $status
