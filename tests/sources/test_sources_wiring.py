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


def test_answers_given_later_are_counted_by_their_status(daemon):
    """tripline_http_requests_total counts a deferred answer (PutEvents,
    webhooks: answered once journalled) under the status it was given."""
    d = daemon()
    d.wait_ready()
    before = {c: d.metric('tripline_http_requests_total{code="%s"}' % c) or 0 for c in ("2xx", "5xx")}
    code, _ = curl(d.port, "/", "POST", json.dumps({"Entries": [{"Source": "a", "DetailType": "b", "Detail": "{}"}]}),
                   headers=["X-Amz-Target: AWSEvents.PutEvents"], content_type="application/x-amz-json-1.1")
    assert code == 200
    # the scrapes themselves are 2xx too: one PutEvents, and the first scrape's answer
    assert d.metric('tripline_http_requests_total{code="2xx"}') >= before["2xx"] + 1
    assert d.metric('tripline_http_requests_total{code="5xx"}') == before["5xx"] == 0
