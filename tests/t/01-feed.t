#!/usr/bin/env bash
# brokers: none
# feed-server: starts on a free port and writes its port file, refuses a port
# in use, speaks the subscribe protocol (reply, raw fixture lines, errors, the
# stale duplicate after a drop, close reasons) and exits 0 on SIGTERM.  At
# --speed 0 it writes frames in bursts: the whole fixture still arrives once,
# in order, byte-identical, also fragmented; a paced replay sends only what is
# due.
# The client is a tiny Perl WebSocket client (Perl is there: prove needs it).
. "$(dirname "$0")/../lib.sh"
plan 27

SUB='{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["ticker"]}'
REPLY='{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["BTC-USD","ETH-USD"]}]}'

# wsc PORT SUBSCRIBE|- COUNT [TIMEOUT]: prints "MSG <text>" per message (at most
# COUNT), then "CLOSE <code> <reason>", "EOF", "RESET" or "TIMEOUT" if the
# connection ends first.  Client frames use a zero mask key.
cat >"$T/wsc.pl" <<'PERL'
use strict; use warnings; use IO::Socket::INET; use IO::Select;
$SIG{PIPE} = "IGNORE";
my ($port, $sub, $count, $timeout) = @ARGV;
$timeout ||= 10;
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp")
	or die "connect: $!\n";
binmode $s;
my $sel = IO::Select->new($s);
my $deadline = time + $timeout;
my $buf = "";
sub fill {
	my $n = shift;
	while (length($buf) < $n) {
		my $left = $deadline - time;
		if ($left <= 0 || !$sel->can_read($left)) { print "TIMEOUT\n"; exit 0; }
		my $r = sysread($s, $buf, 65536, length $buf);
		if (!defined $r) { print "RESET\n"; exit 0; }
		if ($r == 0) { print "EOF\n"; exit 0; }
	}
}
sub frame {
	my ($op, $p) = @_;
	my $n = length $p;
	my $h = $n < 126 ? pack("CC", 0x80 | $op, 0x80 | $n) : pack("CCn", 0x80 | $op, 0xfe, $n);
	return $h . "\0\0\0\0" . $p;
}
syswrite($s, "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	. "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
fill(length($buf) + 1) while $buf !~ /\r\n\r\n/;
$buf =~ s/^(.*?)\r\n\r\n//s;
die "handshake: $1\n" unless $1 =~ m{^HTTP/1\.1 101};
syswrite($s, frame(1, $sub)) if $sub ne "-";
my ($msgs, $cur) = (0, "");
while ($msgs < $count) {
	fill(2);
	my ($b0, $b1) = unpack("CC", $buf);
	my ($n, $off) = ($b1 & 0x7f, 2);
	if ($n == 126) { fill(4); $n = unpack("n", substr($buf, 2, 2)); $off = 4; }
	elsif ($n == 127) { fill(10); $n = unpack("Q>", substr($buf, 2, 8)); $off = 10; }
	fill($off + $n);
	my $p = substr($buf, $off, $n);
	substr($buf, 0, $off + $n) = "";
	my $op = $b0 & 0x0f;
	if ($op == 8) {
		printf "CLOSE %d %s\n", length($p) >= 2 ? unpack("n", $p) : 0, substr($p, 2);
		syswrite($s, frame(8, substr($p, 0, 2)));
		exit 0;
	}
	next if $op == 9 || $op == 10;
	$cur .= $p;
	next unless $b0 & 0x80;
	print "MSG $cur\n";
	($cur, $msgs) = ("", $msgs + 1);
}
PERL
wsc() { timeout 20 perl "$T/wsc.pl" "$@"; }
fixture_lines() { sed -n "$1" "$FIX" | sed 's/^/MSG /'; } # fixture_lines SED-RANGE

ok_cmd "--help exits 0" "$BIN/feed-server" --help
not_ok_cmd "no --file: usage error" "$BIN/feed-server"

# --- start, port file, second bind ---------------------------------------------
ok_cmd "starts on a free port, writes its port file" start_feed --file "$FIX" --speed 0 --heartbeat-ms 0
like "$FEED_PORT" '^[0-9]+$' "port file holds a port number"
ok_cmd "logs the listening URL" grep -qF "% listening on ws://127.0.0.1:$FEED_PORT" "$T/feed.err"
not_ok_cmd "a second server on the same port fails" \
	timeout 10 "$BIN/feed-server" --file "$FIX" --port "$FEED_PORT"

# --- protocol ----------------------------------------------------------------------
out=$(wsc "$FEED_PORT" "$SUB" 6)
is "$(head -n 1 <<<"$out")" "MSG $REPLY" "subscribe -> subscriptions reply"
is "$(tail -n +2 <<<"$out")" "$(fixture_lines 1,5p)" "then the fixture lines, byte-identical, in order"

is "$(wsc "$FEED_PORT" '{"type":"subscribe","product_ids":["FOO-USD"],"channels":["ticker"]}' 5)" \
	"MSG {\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":\"FOO-USD is not a valid product\"}
CLOSE 1000 " "unknown product -> error message, then close"
like "$(wsc "$FEED_PORT" '{"type":"subscr' 5 | head -n 1)" '"type":"error"' "bad JSON -> error message"
like "$(wsc "$FEED_PORT" - 5)" '^CLOSE 1008 ' "no subscribe within 5 s -> closed (1008)"

stop feed
is "$?" 0 "SIGTERM: exit 0"
ok_cmd "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$T/feed.err'"

# --- drops and the stale duplicate -------------------------------------------------
ok_cmd "starts with --drop-after 3 --drop-mode close" \
	start_feed --file "$FIX" --speed 0 --heartbeat-ms 0 --drop-after 3 --drop-mode close
is "$(wsc "$FEED_PORT" "$SUB" 10)" "MSG $REPLY
$(fixture_lines 1,3p)
CLOSE 1011 dropped by feed-server" "3 ticks, then close 1011"
# lines 1-2 are BTC-USD, line 3 ETH-USD: the stale duplicates come first (product
# order of the file), then the replay continues at line 4.
is "$(wsc "$FEED_PORT" "$SUB" 10)" "MSG $REPLY
$(fixture_lines 2,3p)
$(fixture_lines 4,6p)
CLOSE 1011 dropped by feed-server" "reconnect: stale duplicates, then where the stream left off"
stop feed
is "$?" 0 "SIGTERM: exit 0"

ok_cmd "starts with --close-reason" start_feed --file "$FIX" --close-reason "deprecated hostname"
is "$(wsc "$FEED_PORT" - 5)" "CLOSE 1008 deprecated hostname" "close frame with the reason right after the handshake"
stop feed
is "$?" 0 "SIGTERM: exit 0"

# --- bursts and pacing -------------------------------------------------------------
N=$(wc -l <"$FIX")
ok_cmd "starts at --speed 0" start_feed --file "$FIX" --speed 0 --heartbeat-ms 0
is "$(wsc "$FEED_PORT" "$SUB" "$((N + 1))")" "MSG $REPLY
$(fixture_lines 1,\$p)" "speed 0: all $N lines once, in order, byte-identical"
stop feed
ok_cmd "starts at --speed 0 --fragment" start_feed --file "$FIX" --speed 0 --heartbeat-ms 0 --fragment
is "$(wsc "$FEED_PORT" "$SUB" "$((N + 1))")" "MSG $REPLY
$(fixture_lines 1,\$p)" "fragmented: all $N lines reassembled, in order, byte-identical"
stop feed
# --speed 60 for 3-4 s (wsc.pl's deadline counts whole seconds): about the
# first 180-240 s of event time, never the whole file.
# due SECS: fixture lines within SECS of event time after the first one.
due() {
	grep -o '"time":"[^"]*"' "$FIX" | awk -F'[T:Z"]' -v s="$1" '
		{ t = $6 * 3600 + $7 * 60 + $8; if (NR == 1) t0 = t; if (t - t0 <= s) n++ }
		END { print n }'
}
ok_cmd "starts at --speed 60" start_feed --file "$FIX" --speed 60 --heartbeat-ms 0
out=$(timeout 20 perl "$T/wsc.pl" "$FEED_PORT" "$SUB" "$N" 4 | grep -c '^MSG ')
got=$((out - 1))
cmp_ok "$got" -ge "$(due 60)" "speed 60, 4 s: the lines due are sent ($got of $N)"
cmp_ok "$got" -le "$(due 300)" "speed 60, 4 s: nothing far ahead of time is sent ($got of $N)"
stop feed
