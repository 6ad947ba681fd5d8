"""The sources as the daemon wires them: /healthz lists the journal and the
bus, and a request under /hooks/ with no webhook configured is a 404."""
import json

from tripline_test import curl


def test_healthz_components_and_unknown_hook(daemon):
    d = daemon()
    d.wait_ready()
    code, body = curl(d.port, "/healthz")
    doc = json.loads(body)
    assert code == 200 and doc["status"] == "ok"
    assert set(doc["components"]) >= {"journal", "bus"}
    code, body = curl(d.port, "/hooks/nope", method="POST", data="{}")
    assert code == 404
