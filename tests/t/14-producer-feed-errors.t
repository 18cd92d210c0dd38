#!/usr/bin/env bash
# producer: a feed that rejects the subscription, and the retired hostname's
# close frame ("deprecated hostname"), end the producer with a clear message
# and exit 3 instead of a reconnect loop.  A feed it cannot reach is retried,
# and the log says why: the name does not resolve, nothing listens there, or
# nothing answers.
. "$(dirname "$0")/../lib.sh"

N=$(wc -l <"$FIX")
total_on_topics() { echo $(( $(topic_count "$1BTC-USD") + $(topic_count "$1ETH-USD") )); }

start_broker -b 1 || bail "no broker"

start_feed --file "$FIX" --speed 0 --error-on-subscribe "BTC-XXX is not a valid product" || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" -p BTC-USD --topic-prefix t14. --max-backoff 1
wait_exit producer 20
is "$?" 3 "subscription rejected: exit 3"
like "$(grep -E "^$LOG_TS % error:" "$T/producer.err")" 'feed rejected the subscription: .*BTC-XXX is not a valid product' \
	"the feed's reason is logged"
is "$(grep -c 'connecting to' "$T/producer.err")" 1 "no reconnect attempt"
stop feed

start_feed --file "$FIX" --speed 0 --close-reason "deprecated hostname" || bail "no feed"
spawn producer "$BIN/producer" -b "$BROKERS" --url "$FEED_URL" --topic-prefix t14. --max-backoff 1
wait_exit producer 20
is "$?" 3 "deprecated hostname: exit 3"
like "$(grep -E "^$LOG_TS % error:" "$T/producer.err")" 'deprecated hostname.*use --url wss://ws-feed.exchange.coinbase.com' \
	"clear message naming the current hostname"
is "$(grep -c 'connecting to' "$T/producer.err")" 1 "no reconnect attempt"

# A feed whose name does not resolve (offline, no DNS): the log says so,
# instead of only "failed".
spawn producer "$BIN/producer" -b "$BROKERS" --url wss://no-such-host.invalid --topic-prefix t14. --max-backoff 1
said_why() { grep -q "cannot resolve no-such-host.invalid" "$T/producer.err"; }
ok_cmd "an unresolvable feed host: the log says it cannot resolve it" wait_for 20 said_why
stop producer TERM

# Nothing listens on the port: refused, says the log.
port=$(free_port)
spawn producer "$BIN/producer" -b "$BROKERS" --url "ws://127.0.0.1:$port" --topic-prefix t14. --max-backoff 1
said_refused() { grep -q "failed: .*refused: nothing listens on 127\.0\.0\.1 port $port" "$T/producer.err"; }
ok_cmd "a port nobody listens on: the log says refused" wait_for 20 said_refused
stop producer TERM
# A listener whose accept queue is full drops new SYNs, as a firewall that
# drops packets does: the log says nothing answers.
cat >"$T/full.pl" <<'PERL'
use Socket; use Fcntl;
$| = 1;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!";
listen($s, 0) or die "listen: $!";
my ($port) = unpack_sockaddr_in(getsockname($s));
my @fill;
for (1 .. 4) {
	socket(my $c, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	fcntl($c, F_SETFL, O_NONBLOCK);
	connect($c, pack_sockaddr_in($port, inet_aton("127.0.0.1")));
	push @fill, $c;
}
print "$port\n";
sleep 120;
PERL
spawn full perl "$T/full.pl"
wait_for 10 test -s "$T/full.out" || bail "the full listener did not start"
port=$(head -n 1 "$T/full.out")
spawn producer "$BIN/producer" -b "$BROKERS" --url "ws://127.0.0.1:$port" --topic-prefix t14. --max-backoff 1
said_no_answer() { grep -q "failed: .*no answer from 127\.0\.0\.1 port $port within 3 s: a firewall, or offline?" "$T/producer.err"; }
ok_cmd "a port that never answers: the log says so" wait_for 40 said_no_answer
stop producer TERM
stop full
done_testing
