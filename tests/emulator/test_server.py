"""The emulator as a server: TLS, routing, control endpoints, faults, limits, and its runner."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def get(emulator, path, **kwargs):
    return requests.get(emulator.authority_host + path, verify=emulator.ca_bundle, timeout=10,
                        **kwargs)


def test_serves_tls_with_its_own_ca_and_answers_unknown_paths_with_json_404(emulator):
    response = get(emulator, "/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_untrusted_clients_fail_the_handshake(emulator):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emulator.authority_host + "/metadata/endpoints", verify=True, timeout=10)
