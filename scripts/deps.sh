# Sourced by the scripts: installs the Debian 12 packages the build and the
# tests need, if any is missing (non-interactive, as root). scdoc builds the
# manual pages; man-db and groff-base check that they render.
# publicsuffix is named because libpsl5 only recommends it, and alignment
# (dkim.aligned, spf.aligned) needs the list. unbound (the server), python3-spf,
# python3-authres, python3-dkim and python3-nacl (its ed25519), and
# python3-authheaders (an independent DMARC evaluation) serve the
# tests; iproute2 gives them `ss` and `ip`. postfix (its smtp-sink too) and swaks run
# the end-to-end tests (swaks needs libio-socket-inet6-perl for IPv6); m4,
# liblockfile1 and libwrap0 are what the private
# Sendmail needs (its packages conflict with postfix: tests/e2e/sendmail.py
# downloads and unpacks them instead of installing them). libgmime-3.0-dev,
# libmagic-dev and libarchive-dev build the MIME fields; zip and p7zip-full
# make the test corpus's archives. libmicrohttpd-dev builds the metrics
# endpoint; prometheus gives promtool and the server the metrics test
# scrapes with (the Debian package's own service is not used); chromium
# renders the page of `status --html` in the test. liblmdb-dev builds the
# lmdb state store, libhiredis-dev the redis one; redis-server is the server
# the tests start themselves on loopback (the package's own service is not
# used).
MP_PACKAGES="build-essential cmake pkg-config libpcre2-dev libjson-c-dev libpsl-dev
publicsuffix libmilter-dev libsystemd-dev libcmocka-dev miltertest python3
libspf2-dev libunbound-dev libopendkim-dev libssl-dev libvectorscan-dev unbound python3-spf python3-authres python3-authheaders
python3-dkim python3-nacl iproute2 postfix swaks libio-socket-inet6-perl m4 liblockfile1 libwrap0
scdoc man-db groff-base libsqlite3-dev zlib1g-dev libxml2-utils libgmime-3.0-dev libmagic-dev libarchive-dev zip p7zip-full
libmicrohttpd-dev prometheus chromium liblmdb-dev libhiredis-dev redis-server"

# Debian's sendmail packages, not installed (they conflict with postfix) but
# kept for tests/e2e/sendmail.py to unpack into a private root.
MP_SENDMAIL_DEBS=${MP_SENDMAIL_DEBS:-/var/cache/milter-policy-tests}

mp_fetch_sendmail() {
	n=$(ls "$MP_SENDMAIL_DEBS"/sendmail-bin_*.deb "$MP_SENDMAIL_DEBS"/sendmail-base_*.deb \
		"$MP_SENDMAIL_DEBS"/sendmail-cf_*.deb 2>/dev/null | wc -l)
	[ "$n" -ge 3 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "the sendmail packages are missing in $MP_SENDMAIL_DEBS - run as root to fetch them" >&2
		return 1
	fi
	echo "fetching the sendmail packages into $MP_SENDMAIL_DEBS"
	mkdir -p "$MP_SENDMAIL_DEBS"
	chown _apt "$MP_SENDMAIL_DEBS" 2>/dev/null || true
	(cd "$MP_SENDMAIL_DEBS" && { apt-get download -qq sendmail-bin sendmail-base sendmail-cf ||
		{ apt-get update -qq && apt-get download -qq sendmail-bin sendmail-base sendmail-cf; }; })
}

mp_install_deps() {
	mp_install_packages && mp_fetch_sendmail
}

# What building and checking the Debian package needs (scripts/package).
mp_install_package_deps() {
	MP_PACKAGES="debhelper dpkg-dev lintian" mp_install_packages
}

# What only the benchmarks need: OpenDKIM (a peer to measure against),
# postfix-pcre (Postfix header_checks, another) and
# matplotlib (bench/plot.py). Installing opendkim starts nothing here.
# rspamd itself is not installed (it needs libhyperscan5, which conflicts
# with libvectorscan5): bench/mta.py unpacks Debian's package into a
# private root; these are its other libraries, which conflict with nothing.
mp_install_bench_deps() {
	MP_PACKAGES="opendkim python3-matplotlib postfix-pcre libluajit2-5.1-2 libsodium23 libunwind8
libicu72 libglib2.0-0" mp_install_packages
}

mp_install_packages() {
	missing=""
	for p in $MP_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages:$missing - run as root to install them" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# Postfix for the end-to-end tests, without touching the system's mail
	# setup: no main.cf is written and nothing is started
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
}
