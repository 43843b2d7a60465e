#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0-or-later
#
# perl_counter.pl: a perl interpreter through trace-ckpt.
#
#   perl perl_counter.pl [-n TARGET] [-i INTERVAL_MS]
#
# Keeps a count in a scalar, a hash (one MD5 per tick), an array of squares,
# a growing string and an MD5 chain; every tick it checks all of them
# against each other (the chain recomputed from scratch), plus $$ and $0,
# then prints "tick N".  (Not the parent pid: after an attach the restored
# program's parent is the restore.)  Output as tc_test.h: READY,
# tick N, BAD <what>, PASS; one syswrite per line.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
use Getopt::Std;
use Time::HiRes ();

my %opt;
getopts('n:i:', \%opt) or die "usage: $0 [-n TARGET] [-i INTERVAL_MS]\n";
my $target = $opt{n} // 300;
my $interval = ($opt{i} // 20) / 1000;

sub out {
	my $line = "$_[0]\n";
	my $n = syswrite(STDOUT, $line);
	exit 3 unless defined $n && $n == length $line;
}

sub bad {
	out("BAD $_[0]");
	exit 1;
}

my ($pid, $name) = ($$, $0);
my (%hash, @squares, $text, $chain, $count);
$text = '';
$chain = 'start';
$count = 0;

out('READY');
for my $n (1 .. $target) {
	# the state of tick n-1
	my $m = $n - 1;
	bad("count is $count, expected $m") unless $count == $m;
	bad("hash has " . scalar(keys %hash) . " keys, expected $m") unless keys %hash == $m;
	bad("array has " . scalar(@squares) . " elements, expected $m") unless @squares == $m;
	my $c = 'start';
	for my $k (1 .. $m) {
		$c = md5_hex("$c/$k");
		bad("hash{$k} wrong") unless $hash{"k$k"} eq md5_hex("v$k");
		bad("squares[$k] wrong") unless $squares[$k - 1] == $k * $k;
	}
	bad("md5 chain is $chain, recomputed $c") unless $chain eq $c;
	bad("text is " . length($text) . " bytes, expected " . 4 * $m)
		unless length($text) == 4 * $m && ($m == 0 || substr($text, -4) eq sprintf('%04x', $m & 0xffff));
	bad("\$\$ is $$, was $pid") unless $$ == $pid;
	bad("\$0 is $0, was $name") unless $0 eq $name;

	# tick n
	$hash{"k$n"} = md5_hex("v$n");
	push @squares, $n * $n;
	$text .= sprintf('%04x', $n & 0xffff);
	$chain = md5_hex("$chain/$n");
	$count++;
	out("tick $n");
	Time::HiRes::sleep($interval) if $interval > 0;
}
out('PASS');
exit 0;
