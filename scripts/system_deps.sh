#!/usr/bin/env bash
# Debian packages the product and its tests need beyond Python and Node.js:
# chromium (browser tests), libdmtx (DataMatrix labels), wrk (HTTP load in benchmarks),
# a CJK font (the zh-CN pages in the browser tests' screenshots, and the Chinese text of label sheets).
# Installs the missing ones when run as root with apt-get; otherwise says what to install.
set -eu
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libdmtx\.so' || missing+=(libdmtx0b)
command -v wrk >/dev/null || missing+=(wrk)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
else
    echo "error: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
