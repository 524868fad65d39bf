"""The web app parses a policy file once, and again as soon as the clinic edits its copy."""

from __future__ import annotations

import json
import os
from importlib import resources

from painclinic.clinical.policy import POLICY_DIR_ENV
from painclinic.web.lib import policies


def test_one_parse_serves_every_call_until_the_clinics_copy_changes(tmp_path, monkeypatch):
    monkeypatch.setenv(POLICY_DIR_ENV, str(tmp_path))
    assert policies.protocols() is policies.protocols()  # the packaged default, parsed once
    packaged = json.loads(
        resources.files("painclinic.clinical").joinpath("data", "protocols.json").read_text()
    )
    copy = tmp_path / "protocols.json"
    packaged["version"] = "clinic-1"
    copy.write_text(json.dumps(packaged))
    assert policies.protocols().version == "clinic-1"
    packaged["version"] = "clinic-2"
    copy.write_text(json.dumps(packaged))
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert policies.protocols().version == "clinic-2"
