#!/bin/sh
# `make install`, `make uninstall` and `make dist`, as a packager and a
# release manager use them:
#   - make install DESTDIR=$T/pkg PREFIX=/usr (a package's staging tree) of
#     the release build ($SFB_ROOT/build, not rebuilt here): the binary runs,
#     sfbridge(1) is valid roff that man/groff render and documents every
#     configuration key `sfbridge --help` lists, the example configs are all
#     of config/ but the emulator's, the systemd unit's ExecStart and
#     ExecStartPre point at PREFIX, and nothing lands outside DESTDIR/PREFIX;
#   - make install PREFIX=$T/prefix (no DESTDIR): the installed unit passes
#     systemd-analyze verify against the installed binary; make uninstall
#     removes every file again;
#   - make dist DISTDIR=$T: sfbridge-VERSION.tar.gz holds exactly the
#     committed files under sfbridge-VERSION/, LICENSE among them, and
#     `make build/sfbridge` builds there (8 to 20 s on two cores: the bridge
#     only, not the tests; SFB_DIST_BUILD=0 skips it).
. "$SFB_ROOT/tests/integration/helpers.sh"
cd "$SFB_ROOT" || exit 1

VERSION=$(cat VERSION)
REL="$SFB_ROOT/build"
# Make's variables from a calling make (test-run) must not leak in.
mk() {
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u CPPFLAGS -u LDFLAGS make -C "$SFB_ROOT" "$@"
}

# holds NAME TEST: ok when the shell TEST (evaluated here) is true.
holds() {
        _h=$1
        shift
        if eval "$*"; then ok "$_h"; else not_ok "$_h" "false: $*"; fi
}

if [ ! -x "$REL/sfbridge" ]; then
        not_ok "the release build exists" "no $REL/sfbridge: run make first"
        finish
fi

# --- make install DESTDIR PREFIX=/usr -----------------------------------------
PKG="$T/pkg"
if mk install DESTDIR="$PKG" PREFIX=/usr >"$T/install.log" 2>&1; then
        ok "make install DESTDIR=... PREFIX=/usr"
else
        not_ok "make install DESTDIR=... PREFIX=/usr" "$(tail -n 15 "$T/install.log")"
fi
outside=$(cd "$PKG" 2>/dev/null && find . -mindepth 1 ! -path './usr' ! -path './usr/*' | head -n 5)
holds "nothing installed outside DESTDIR/usr" '[ -d "$PKG/usr" ] && [ -z "$outside" ]'
grep -q "build-asan" "$T/install.log"
check "make install did not touch the asan build" [ $? != 0 ]

v=$("$PKG/usr/bin/sfbridge" --version 2>&1)
assert_eq "the installed binary runs: --version" "sfbridge $VERSION" "$v"
check "the installed binary is the release build" cmp -s "$PKG/usr/bin/sfbridge" "$REL/sfbridge"

# The man page.
MAN="$PKG/usr/share/man/man1/sfbridge.1"
if [ -s "$MAN" ]; then
        ok "sfbridge(1) installed in share/man/man1"
        head -n 1 "$MAN" | grep -q "^\.TH SFBRIDGE 1 .*\"sfbridge $VERSION\""
        check "sfbridge.1 starts with .TH SFBRIDGE 1 naming version $VERSION" [ $? = 0 ]
        for sect in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" CONFIGURATION FILES; do
                grep -q "^\.SH $sect\$" "$MAN"
                check "sfbridge.1 has a $sect section" [ $? = 0 ]
        done
        # Every key --help lists (unindented lines after "Configuration
        # keys") is a bold tag of the page.
        "$REL/sfbridge" --help | awk '/^Configuration keys/ { k = 1; next } k && /^[a-z]/' >"$T/keys"
        missing=
        while IFS= read -r key; do
                grep -qxF "\\fB$key\\fR" "$MAN" || missing="$missing $key"
        done <"$T/keys"
        check "sfbridge.1 documents each of the $(wc -l <"$T/keys") keys of --help" \
                [ -s "$T/keys" ] && [ -z "$missing" ]
        [ -z "$missing" ] || note "missing:$missing"
        grep -q "^\.I /usr/share/doc/sfbridge/examples/" "$MAN"
        check "sfbridge.1 names the examples under PREFIX (/usr/share/doc/sfbridge/examples)" [ $? = 0 ]
        if command -v groff >/dev/null 2>&1; then
                groff -man -Tutf8 -ww -z "$MAN" >"$T/groff.out" 2>&1
                rc=$?
                holds "groff -man -ww renders sfbridge.1 without a warning" '[ $rc = 0 ] && [ ! -s "$T/groff.out" ]'
                [ -s "$T/groff.out" ] && show_file "$T/groff.out" 10
        else
                not_ok "groff renders sfbridge.1" "no groff: install the Debian package groff-base"
        fi
        if command -v man >/dev/null 2>&1; then
                MANPAGER=cat MANWIDTH=80 man -l "$MAN" 2>"$T/man.err" >"$T/man.out"
                grep -q "kafka.max_in_flight" "$T/man.out" && grep -q "^SYNOPSIS" "$T/man.out"
                check "man -l renders it (SYNOPSIS, the key reference)" [ $? = 0 ]
        fi
else
        not_ok "sfbridge(1) installed in share/man/man1" "no $MAN"
fi

# The examples: every config/*.yaml but the emulator's demo.yaml.
EX="$PKG/usr/share/doc/sfbridge/examples"
want=$(cd config && ls *.yaml | grep -vx demo.yaml | sort | tr '\n' ' ')
got=$(cd "$EX" 2>/dev/null && ls | sort | tr '\n' ' ')
assert_eq "the example configs in share/doc/sfbridge/examples" "$want" "$got"
for f in $want; do
        cmp -s "config/$f" "$EX/$f" || not_ok "examples/$f is config/$f"
done
for f in LICENSE README.md; do
        check "share/doc/sfbridge/$f installed" cmp -s "$f" "$PKG/usr/share/doc/sfbridge/$f"
done
holds "the alert rules and dashboard installed in share/doc/sfbridge/monitoring" \
        '[ -s "$PKG/usr/share/doc/sfbridge/monitoring/sfbridge-alerts.yaml" ] &&
         [ -s "$PKG/usr/share/doc/sfbridge/monitoring/sfbridge-dashboard.json" ]'

# The systemd unit: the same file, its paths moved to PREFIX.
UNIT="$PKG/usr/lib/systemd/system/sfbridge.service"
if [ -s "$UNIT" ]; then
        ok "sfbridge.service installed in lib/systemd/system"
        assert_eq "ExecStart runs PREFIX's binary" \
                "ExecStart=/usr/bin/sfbridge run -c /etc/sfbridge/sfbridge.yaml" "$(grep '^ExecStart=' "$UNIT")"
        assert_eq "ExecStartPre checks with PREFIX's binary" \
                "ExecStartPre=/usr/bin/sfbridge check -c /etc/sfbridge/sfbridge.yaml" "$(grep '^ExecStartPre=' "$UNIT")"
        assert_file_not_contains "no /usr/local/bin left in the unit" "$UNIT" "/usr/local/bin"
        sed 's|/usr/bin/sfbridge|/usr/local/bin/sfbridge|g' "$UNIT" >"$T/unit.back"
        check "otherwise it is deploy/sfbridge.service" cmp -s "$T/unit.back" deploy/sfbridge.service
else
        not_ok "sfbridge.service installed in lib/systemd/system" "no $UNIT"
fi

# --- make install PREFIX (no DESTDIR), then make uninstall ---------------------
P="$T/prefix"
if mk install PREFIX="$P" >"$T/install2.log" 2>&1; then
        ok "make install PREFIX=$P"
else
        not_ok "make install PREFIX=$P" "$(tail -n 15 "$T/install2.log")"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
        systemd-analyze verify "$P/lib/systemd/system/sfbridge.service" >"$T/verify.out" 2>&1
        rc=$?
        holds "systemd-analyze verify accepts the installed unit (its ExecStart is the installed binary)" \
                '[ $rc = 0 ] && [ ! -s "$T/verify.out" ]'
        [ -s "$T/verify.out" ] && show_file "$T/verify.out" 10
else
        not_ok "systemd-analyze verify ran" "no systemd-analyze: install the Debian package systemd"
fi
# (roff spells each - of the path \-)
grep -qF ".I $(printf '%s' "$P" | sed 's/-/\\-/g')/share/doc/sfbridge/examples/" "$P/share/man/man1/sfbridge.1"
check "the page was regenerated for the new PREFIX" [ $? = 0 ]
mk uninstall PREFIX="$P" >"$T/uninstall.log" 2>&1
rc=$?
left=$(find "$P" -type f 2>/dev/null | head -n 5)
holds "make uninstall removes every installed file" '[ "$rc" = 0 ] && [ -z "$left" ]'
[ -z "$left" ] || note "left: $left"

# --- make dist --------------------------------------------------------------------
TAR="$T/sfbridge-$VERSION.tar.gz"
if ! top=$(git rev-parse --show-prefix 2>/dev/null) || [ -n "$top" ]; then
        # A tree unpacked from the tarball: make dist says it needs git.
        mk dist DISTDIR="$T" >"$T/dist.log" 2>&1
        rc=$?
        holds "outside a git checkout, make dist fails saying it needs one" \
                '[ "$rc" != 0 ] && grep -q "needs a git checkout" "$T/dist.log"'
        finish
fi
if mk dist DISTDIR="$T" >"$T/dist.log" 2>&1 && [ -s "$TAR" ]; then
        ok "make dist DISTDIR=... writes sfbridge-$VERSION.tar.gz"
else
        not_ok "make dist writes sfbridge-$VERSION.tar.gz" "$(tail -n 10 "$T/dist.log")"
        finish
fi
tar tzf "$TAR" >"$T/listing" 2>"$T/tar.err"
rc=$?
holds "tar lists the tarball" '[ $rc = 0 ] && [ -s "$T/listing" ]'
bad=$(grep -v "^sfbridge-$VERSION/" "$T/listing" | head -n 3)
check "every entry is under sfbridge-$VERSION/" [ -z "$bad" ]
grep -v '/$' "$T/listing" | sed "s|^sfbridge-$VERSION/||" | sort >"$T/files"
git ls-tree -r --name-only HEAD | sort >"$T/tracked"
if cmp -s "$T/files" "$T/tracked"; then
        ok "the tarball holds exactly the committed files ($(wc -l <"$T/files"))"
else
        not_ok "the tarball holds exactly the committed files" "$(diff "$T/tracked" "$T/files" | head -n 10)"
fi
for f in LICENSE VERSION Makefile README.md CHANGELOG.md connector/main.c deploy/gen-man.sh \
        deploy/sfbridge.service deploy/monitoring/sfbridge-alerts.yaml; do
        grep -qx "sfbridge-$VERSION/$f" "$T/listing" || not_ok "the tarball has $f"
done
ok "the tarball has LICENSE, VERSION, the Makefile, the sources and the deploy files"
grep -q -e '/build/' -e '/build-asan/' -e '/test-logs/' -e '/tests/certs/' "$T/listing"
check "no build output, test logs or test certificates in it" [ $? != 0 ]
mkdir -p "$T/x"
tar xzf "$TAR" -C "$T/x"
assert_eq "sfbridge-$VERSION/VERSION says $VERSION" "$VERSION" "$(cat "$T/x/sfbridge-$VERSION/VERSION" 2>&1)"
holds "its LICENSE is the Apache-2.0 text" 'cmp -s LICENSE "$T/x/sfbridge-$VERSION/LICENSE" &&
        grep -q "Apache License" LICENSE && grep -q "Version 2.0, January 2004" LICENSE'

if [ "${SFB_DIST_BUILD:-1}" = 1 ]; then
        if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u CPPFLAGS -u LDFLAGS \
                make -C "$T/x/sfbridge-$VERSION" -j2 build/sfbridge \
                >"$T/distbuild.log" 2>&1; then
                v=$("$T/x/sfbridge-$VERSION/build/sfbridge" --version 2>&1)
                assert_eq "the tarball builds: its sfbridge --version" "sfbridge $VERSION" "$v"
        else
                not_ok "the tarball builds (make build/sfbridge)" "$(tail -n 15 "$T/distbuild.log")"
        fi
else
        note "building from the tarball skipped (SFB_DIST_BUILD=0)"
fi

finish
