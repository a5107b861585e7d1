#!/bin/sh
# Writes sfbridge(1) to stdout, generated from the binary's own `--help` and
# `--version`, so the man page's key reference is the one the binary checks
# against (the README's key reference is tested against the same text).
#
#     sh deploy/gen-man.sh build/sfbridge [DOCDIR] >build/sfbridge.1
#
# DOCDIR (default /usr/local/share/doc/sfbridge) is where `make install`
# puts the example configs; the FILES section names it. The page's date is
# SOURCE_DATE_EPOCH's (reproducible builds) when set, else left out.
# POSIX sh and awk (Debian's mawk), nothing else.
set -eu
bin=${1:?usage: gen-man.sh SFBRIDGE_BINARY [DOCDIR]}
docdir=${2:-/usr/local/share/doc/sfbridge}

# Both must work: a binary that cannot print its help makes no page, rather
# than an empty one.
help=$("$bin" --help)
version=$("$bin" --version)
version=${version#sfbridge }
date=
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
        date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d 2>/dev/null || true)
fi

printf '%s\n' "$help" | awk -v version="$version" -v date="$date" -v docdir="$docdir" '
# Roff escaping: a backslash is \e, a minus is \- (so options and key names
# copy and paste as typed), and a line may not start with . or '\''.
function esc(s,    out, c, i) {
        out = ""
        for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (c == "\\")
                        out = out "\\e"
                else if (c == "-")
                        out = out "\\-"
                else
                        out = out c
        }
        if (out ~ /^[.'\'']/)
                out = "\\&" out
        return out
}
# A paragraph that starts "Exit codes:" is the EXIT STATUS section.
function flush_para() {
        if (para ~ /^Exit codes:/)
                exitcodes = exitcodes para
        else if (para != "")
                desc = desc ".PP\n" para
        para = ""
}
BEGIN { state = "usage"; nkeys = 0 }
state == "usage" {
        if ($0 ~ /^usage: /) { sub(/^usage: */, ""); synopsis = synopsis esc($0) "\n"; next }
        if ($0 ~ /^ +sfbridge /) { sub(/^ +/, ""); synopsis = synopsis esc($0) "\n"; next }
        state = "desc"
}
state == "desc" {
        if ($0 ~ /^Configuration keys/) { flush_para(); state = "confintro" }
        else if ($0 == "") { flush_para(); next }
        else if ($0 ~ /^Exit codes:/) { flush_para(); para = esc($0) "\n"; next }
        else { para = para esc($0) "\n"; next }
}
state == "confintro" {
        if ($0 == "") { state = "keys"; next }
        confintro = confintro esc($0) "\n"
        next
}
state == "keys" {
        if ($0 == "") next
        if ($0 !~ /^ /) {
                nkeys++
                key[nkeys] = esc($0)
                kind[nkeys] = ""
                doc[nkeys] = ""
                next
        }
        sub(/^ +/, "")
        if (kind[nkeys] == "")
                kind[nkeys] = esc($0)
        else
                doc[nkeys] = doc[nkeys] esc($0) "\n"
}
END {
        flush_para()
        if (synopsis == "" || nkeys == 0) {
                print "gen-man.sh: --help has no usage lines or no configuration keys" > "/dev/stderr"
                exit 1
        }
        printf ".TH SFBRIDGE 1 \"%s\" \"sfbridge %s\" \"User Commands\"\n", date, esc(version)
        # No hyphenation, ragged right: key names and URLs stay whole.
        print ".nh"
        print ".ad l"
        print ".SH NAME"
        print "sfbridge \\- Salesforce Streaming API (CometD) to Kafka bridge"
        print ".SH SYNOPSIS"
        print ".nf"
        printf "%s", synopsis
        print ".fi"
        print ".SH DESCRIPTION"
        printf "%s", desc
        print ".PP"
        print "The configuration is one YAML routing file; its keys follow."
        print "Deployment, metrics, health checks and troubleshooting are in README.md"
        print "of the source distribution."
        if (exitcodes != "") {
                print ".SH EXIT STATUS"
                printf "%s", exitcodes
        }
        print ".SH CONFIGURATION"
        printf "%s", confintro
        for (i = 1; i <= nkeys; i++) {
                print ".TP"
                print "\\fB" key[i] "\\fR"
                print "\\fI" kind[i] "\\fR"
                if (doc[i] != "") {
                        print ".br"
                        printf "%s", doc[i]
                }
        }
        print ".SH FILES"
        print ".TP"
        print ".I /etc/sfbridge/sfbridge.yaml"
        print "the routing file the shipped systemd unit and container images run"
        print ".TP"
        print ".I " esc(docdir) "/examples/"
        print "commented example routing files, one per channel kind, and one with every key"
        print ".SH SEE ALSO"
        print ".BR kcat (1),"
        print ".BR systemd.service (5)"
}'
