#!/usr/bin/env bash
# The rsyslog side of bench/agent.bench.ts, runnable on its own:
#
#   bench/rsyslog/run.sh <input-file> <line-count> [work-dir]
#
# The same pipeline, configuration and clock as the tuned reference script ../shared/peers/rsyslog-e2e.sh, so the
# benchmark compares against rsyslog at its best (docs/benchmarks.md):
#   agent     rsyslogd: imfile (inotify mode) tails <work>/in/app.log -> omfwd over TCP (RSYSLOG_SyslogProtocol23Format)
#   collector rsyslogd: imtcp on a free loopback port -> omfile (the message only, one line per message)
# Both daemons: rsyslog's stock main queue with one worker thread (in-order delivery; a second worker opens a second
# TCP connection and reorders lines), no action queues, no asynchronous writer. Both are started and the agent's
# inotify watch set up first; the clock runs from the copy of <input-file> into the watched path until the
# collector's output holds every byte. Then every line is checked (check-lines.mjs: each sequence number exactly
# once) and one JSON object is printed: seconds, lines/s, MB/s, agent CPU seconds, agent peak RSS.
# Needs the Debian package rsyslog (apt-get install rsyslog). Exit status 1 if a line is missing or timed out.
set -euo pipefail
input=$(realpath "$1")
lines=$2
work=${3:-$(mktemp -d /tmp/tributary-rsyslog-XXXXXX)}
timeout_s=${RSYSLOG_BENCH_TIMEOUT:-900}
here=$(cd "$(dirname "$0")" && pwd)
command -v rsyslogd >/dev/null || { echo "rsyslogd not found: apt-get install rsyslog" >&2; exit 2; }
mkdir -p "$work/agent" "$work/collector" "$work/in"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
out="$work/collector/out.log"

cat > "$work/collector/rsyslog.conf" <<CONF
global(workDirectory="$work/collector" maxMessageSize="64k")
main_queue(queue.workerThreads="1")
module(load="imtcp" maxSessions="100")
template(name="lineonly" type="string" string="%msg%\n")
ruleset(name="store") {
  action(type="omfile" file="$out" template="lineonly" ioBufferSize="256k" flushOnTXEnd="on")
}
input(type="imtcp" port="$port" address="127.0.0.1" ruleset="store")
CONF

cat > "$work/agent/rsyslog.conf" <<CONF
global(workDirectory="$work/agent" maxMessageSize="64k")
main_queue(queue.workerThreads="1")
module(load="imfile" mode="inotify")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="$port" protocol="tcp"
         template="RSYSLOG_SyslogProtocol23Format" action.resumeRetryCount="-1")
}
input(type="imfile" file="$work/in/app.log" tag="app" facility="local0" severity="info"
      ruleset="fwd" freshStartTail="off" addMetadata="off")
CONF

cleanup() {
  for p in "$work/agent/rsyslogd.pid" "$work/collector/rsyslogd.pid"; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
}
trap cleanup EXIT

rsyslogd -n -f "$work/collector/rsyslog.conf" -i "$work/collector/rsyslogd.pid" &
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
rsyslogd -n -f "$work/agent/rsyslog.conf" -i "$work/agent/rsyslogd.pid" &
for _ in $(seq 100); do [ -s "$work/agent/rsyslogd.pid" ] && break; sleep 0.05; done
agent_pid=$(cat "$work/agent/rsyslogd.pid")
sleep 1 # let the agent set up its inotify watch
sync    # keep write-back of the input out of the measurement

want=$(stat -c %s "$input")
start=$EPOCHREALTIME
cp "$input" "$work/in/app.log"
deadline=$(( ${start%.*} + timeout_s ))
peak_kb=0
while :; do
  have=$(stat -c %s "$out" 2>/dev/null || echo 0)
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status" 2>/dev/null || echo 0)
  [ "${hwm:-0}" -gt "$peak_kb" ] && peak_kb=$hwm
  [ "$have" -ge "$want" ] && break
  if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then echo "timed out: $have of $want bytes arrived" >&2; exit 1; fi
  sleep 0.02
done
end=$EPOCHREALTIME
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
