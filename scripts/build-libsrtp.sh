#!/usr/bin/env bash
# Builds libsrtp2 from Debian's own source package with OpenSSL (about 5x faster than the packaged NSS build)
# into .deps/libsrtp, for static linking into the media engine. Nothing is fetched beyond the machine's own
# apt mirrors. native/patches/libsrtp-*.patch (the OpenSSL 3 per-packet overhead) is applied before configure;
# if Debian's source moved on and it no longer applies, the build goes on unpatched with a warning.
# Idempotent: skips when .deps/libsrtp/STAMP names the current patch set. On failure it falls back to the
# packaged libsrtp2-dev and records that in .deps/libsrtp/FALLBACK so CMake and the engine can report it.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
prefix="$deps/libsrtp"
# Each line carries the seconds since the script started, so a slow stage shows which one it was.
say() { echo "[build-libsrtp] ${SECONDS}s $*" >&2; }

patches=("$root"/native/patches/libsrtp-*.patch)
[ -e "${patches[0]}" ] || patches=()
patch_id="$( { [ ${#patches[@]} -gt 0 ] && cat "${patches[@]}"; } | sha256sum | cut -c1-12)"
[ -f "$prefix/STAMP" ] && grep -q "patches $patch_id" "$prefix/STAMP" && exit 0
mkdir -p "$deps"

fallback() {
  say "WARNING: $1; falling back to Debian's packaged libsrtp2-dev (NSS backend, ~5x slower SRTP)"
  if ! dpkg-query -W -f='${Status}' libsrtp2-dev 2>/dev/null | grep -q 'install ok installed'; then
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive flock /tmp/mra-apt.lock apt-get install -y -qq --no-install-recommends libsrtp2-dev >&2 \
        || { say "could not install libsrtp2-dev either"; exit 1; }
    else
      say "not root: install libsrtp2-dev"; exit 1
    fi
  fi
  mkdir -p "$prefix"
  echo "$1" > "$prefix/FALLBACK"
  exit 0
}

# deb-src entries derived from the machine's own deb822 sources, kept in a file of their own.
src_list=/etc/apt/sources.list.d/mra-deb-src.sources
if [ ! -f "$src_list" ]; then
  [ "$(id -u)" = 0 ] || fallback "not root: cannot add deb-src entries"
  found=0
  for f in /etc/apt/sources.list.d/*.sources; do
    [ "$f" = "$src_list" ] && continue
    [ -f "$f" ] || continue
    grep -q '^Types:.*\bdeb\b' "$f" || continue
    sed -e 's/^Types:.*/Types: deb-src/' "$f" >> "$src_list"
    printf '\n' >> "$src_list"
    found=1
  done
  if [ "$found" = 0 ] && [ -f /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' > "${src_list%.sources}.list" && rm -f "$src_list"
    src_list="${src_list%.sources}.list"
  fi
  flock /tmp/mra-apt.lock apt-get update -qq >&2 || fallback "apt-get update with deb-src failed"
fi

work="$deps/src"
rm -rf "$work" && mkdir -p "$work"
say "fetching Debian's libsrtp2 source package"
( cd "$work" && apt-get source -qq libsrtp2 >&2 ) || fallback "apt-get source libsrtp2 failed"
srcdir="$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'libsrtp2-*' | head -n1)"
[ -n "$srcdir" ] || fallback "no unpacked libsrtp2 source"
applied=patched
for p in "${patches[@]}"; do
  # A dry run first, so a patch that half applies leaves the source untouched.
  if ( cd "$srcdir" && patch -p1 --quiet --forward --dry-run < "$p" >/dev/null && patch -p1 --quiet --forward < "$p" >&2 ); then
    say "applied $(basename "$p")"
  else
    say "WARNING: $(basename "$p") does not apply to $(basename "$srcdir"): building without it (slower SRTP)"
    applied=unpatched
  fi
done
say "configuring $(basename "$srcdir") with OpenSSL"
( cd "$srcdir" && CFLAGS="-O2 -fPIC" ./configure --quiet --enable-openssl --disable-debug-logging --prefix="$prefix" >&2 ) \
  || fallback "configure of libsrtp2 with --enable-openssl failed"
say "compiling libsrtp2.a"
( cd "$srcdir" && make -s -j"$(nproc)" libsrtp2.a >&2 ) || fallback "make of libsrtp2 with --enable-openssl failed"
say "installing into $prefix"
( cd "$srcdir" && make -s install >&2 ) || fallback "make install of libsrtp2 failed"
[ -f "$prefix/lib/libsrtp2.a" ] || fallback "libsrtp2.a missing after install"
rm -f "$prefix/FALLBACK"
echo "$(basename "$srcdir") openssl $applied patches $patch_id $(date -u +%FT%TZ)" > "$prefix/STAMP"
say "libsrtp installed in $prefix"
