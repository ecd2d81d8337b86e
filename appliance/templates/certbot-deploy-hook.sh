#!/usr/bin/env bash
# SLM-Copilot: reload nginx after certbot renews the Let's Encrypt certificate.
set -euo pipefail
systemctl reload nginx
