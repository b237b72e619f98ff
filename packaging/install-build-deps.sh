#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing tributary need
# (Swift itself comes from swift.org). Safe to run again.
set -euo pipefail
packages=(
  util-linux   # mount: the disk-full tests use a small tmpfs when run as root
  zstd         # the log benchmark measures whether per-batch compression would pay
  pkg-config   # SwiftPM finds the system-library targets' flags (libsystemd, ...) through it
  libsystemd-dev  # CSystemd: sd_notify, the watchdog and journal logging
  systemd      # systemd-analyze: the tests verify systemd/tributary.service
  libmosquitto-dev   # CMosquitto: the MQTT source and sink
  mosquitto          # the tests' real MQTT broker, started on a free 127.0.0.1 port
  mosquitto-clients  # mosquitto_sub / mosquitto_pub: independent clients in the tests
  openssl            # the TLS tests make a CA and certificates for the broker and a client
  librdkafka-dev     # CRdKafka: the Kafka sink, and the mock Kafka cluster the tests run
  kcat               # an independent Kafka client in the tests
  python3-kafka      # another one, for /usr/bin/python3
  libmodbus-dev      # the Modbus RTU source
  python3-pymodbus   # an independent Modbus slave in the tests, for /usr/bin/python3
  python3-serial python3-serial-asyncio  # pymodbus's serial server needs them (Debian does not pull them in)
  socat              # a pair of linked pseudo-terminals for the Modbus tests
  dpkg-dev binutils  # packaging/build-deb: dpkg-shlibdeps computes Depends; strip and objcopy split the symbols
  lintian man-db     # .ci/run checks the package: lintian, and the installed man page
)
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
