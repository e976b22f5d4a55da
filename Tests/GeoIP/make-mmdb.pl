#!/usr/bin/perl
# Writes a small MaxMind-format database of the networks in a JSON file (Tests/GeoIP/networks.json), in the
# shape of GeoLite2-City records, so tests need no download. Needs Debian's libmaxmind-db-writer-perl.
#   perl Tests/GeoIP/make-mmdb.pl Tests/GeoIP/networks.json OUT.mmdb
use strict;
use warnings;
use JSON::PP;
use MaxMind::DB::Writer::Tree;

my ($input, $output) = @ARGV;
die "usage: $0 networks.json out.mmdb\n" unless defined $output;
open my $in, '<:raw', $input or die "$input: $!\n";
my $spec = JSON::PP->new->utf8->decode(do { local $/; <$in> });
close $in;

my %types = (
    country => 'map', iso_code => 'utf8_string', names => 'map', en => 'utf8_string',
    subdivisions => ['array', 'map'], city => 'map',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6,
    record_size => 24,
    database_type => $spec->{database_type},
    languages => ['en'],
    description => { en => 'Clarm test locations' },
    map_key_type_callback => sub { $types{ $_[0] } },
    # The test networks are documentation and shared ranges, which the writer leaves out by default.
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4 => 1,
);
for my $network (@{ $spec->{networks} }) {
    my %record = (country => { iso_code => $network->{country}, names => { en => $network->{country} } });
    $record{subdivisions} = [{ names => { en => $network->{region} } }] if defined $network->{region};
    $record{city} = { names => { en => $network->{city} } } if defined $network->{city};
    $tree->insert_network($network->{network}, \%record);
}
open my $out, '>:raw', $output or die "$output: $!\n";
$tree->write_tree($out);
close $out or die "$output: $!\n";
