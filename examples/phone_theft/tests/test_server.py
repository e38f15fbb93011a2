"""HTTP tests of phone_theft_server against the running program: every route, every bad
request, concurrent clients agreeing with floresta's own predictions, the SIGHUP swap under
load, a damaged model file refused, SIGTERM draining and exiting 0."""
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pandas as pd
import pytest

import floresta

from people import SPELLINGS
from server_support import (  # noqa: F401 - pytest fixtures
    phone_theft_server, phone_theft_server_binary, phone_theft_server_factory, phone_theft_server_model)

FIELDS = ["bairro", "marca", "dia", "periodo", "idade", "sexo"]


# ---------------------------------------------------------------------------------------------
# references


def vocabularies(model):
    return {f["name"]: f.get("categories") for f in model.schema["features"]}


def people(model, n, seed):
    """n valid people drawn from the model's own vocabularies."""
    rng = np.random.default_rng(seed)
    vocab = vocabularies(model)
    out = []
    for _ in range(n):
        person = {}
        for name in FIELDS:
            person[name] = int(rng.integers(0, 121)) if vocab[name] is None else str(rng.choice(vocab[name]))
        out.append(person)
    return out


def expected_answers(model, persons):
    """The server's answer for each person, computed by floresta's Python API on a DataFrame:
    the places most likely first, each with its lift over the city's average (the file's
    metadata.city_average)."""
    proba = model.predict_proba(pd.DataFrame(persons, columns=FIELDS))
    labels = [str(c) for c in model.classes_]
    average = model.metadata.get("city_average")
    answers = []
    for row in proba:
        order = sorted(range(len(labels)), key=lambda k: (-row[k], k))
        answer = [{"position": i + 1, "label": labels[k], "value": float(row[k])} for i, k in enumerate(order)]
        if average:
            for item, k in zip(answer, order):
                item["lift"] = float(row[k]) / average[k]
        answers.append(answer)
    return answers


@pytest.fixture(scope="module")
def model(phone_theft_server_model):
    return floresta.load(str(phone_theft_server_model))


def second_model(model, path, seed=7):
    """Another valid model with the same fields, vocabularies and labels, different answers."""
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    vocab = vocabularies(model)
    labels = [str(c) for c in model.classes_]
    n = 400
    frame = pd.DataFrame({
        name: (rng.integers(0, 121, n) if vocab[name] is None
               else pd.Categorical(rng.choice(vocab[name], n), categories=vocab[name]))
        for name in FIELDS})
    y = np.arange(n) % len(labels)
    clf = xgb.XGBClassifier(n_estimators=3, max_depth=3, enable_categorical=True, tree_method="hist", random_state=seed)
    clf.fit(frame, y)
    floresta.export(clf, str(path), class_labels=labels)
    return path


def replace_atomically(source_bytes, target):
    temporary = target.with_name(target.name + ".new")
    temporary.write_bytes(source_bytes)
    os.replace(temporary, target)


# ---------------------------------------------------------------------------------------------
# routes


def test_health(phone_theft_server, phone_theft_server_model):
    status, headers, body = phone_theft_server.request("GET", "/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body["status"] == "ok"
    sha = hashlib.sha256(phone_theft_server_model.read_bytes()).hexdigest()
    assert body["model"]["sha256"] == sha and body["model"]["version"] == sha[:12]
    assert body["model"]["name"] == phone_theft_server_model.name.split(".")[0]
    assert body["model"]["features"] == 6 and body["model"]["classes"] == 10
    assert body["uptime_seconds"] >= 0 and body["last_reload_error"] is None


def test_schema_comes_from_the_model(phone_theft_server, model):
    status, _, body = phone_theft_server.request("GET", "/schema")
    assert status == 200
    assert [f["name"] for f in body["fields"]] == list(model.feature_names_in_)
    vocab = vocabularies(model)
    for field in body["fields"]:
        if vocab[field["name"]] is None:
            assert field["type"] == "numeric"
        else:
            assert field["type"] == "categorical" and field["values"] == vocab[field["name"]]
    idade = next(f for f in body["fields"] if f["name"] == "idade")
    assert (idade["min"], idade["max"]) == (0, 120)  # the model file's input rule
    assert body["labels"] == [str(c) for c in model.classes_]
    assert body["limits"] == {"max_body_bytes": 1048576, "max_batch": 1000}
    # Display names with accents, from the model's input rules; the keys stay the categories.
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["bairro"]["display"]["SE"] == "Sé" and fields["bairro"]["display"]["TATUAPE"] == "Tatuapé"
    assert fields["dia"]["display"]["SABADO"] == "Sábado" and "SE" in fields["bairro"]["values"]
    assert fields["marca"]["otherwise"] == "Outros"
    assert [f["optional"] for f in body["fields"]] == [f in model.metadata["optional_fields"] for f in FIELDS]
    assert set(fields["bairro"]["few_reports"]) <= set(fields["bairro"]["values"])
    assert body["city_average"] == model.metadata["city_average"]
    card = body["model_card"]
    assert card["data"]["synthetic"] is True and card["data"]["seed"] == 0 and len(card["data"]["years"]) >= 2
    assert card["test"]["log_loss"] < card["test"]["prior_log_loss"]


def test_predict_one_person_agrees_with_floresta(phone_theft_server, model):
    persons = people(model, 5, seed=1)
    expected = expected_answers(model, persons)
    conn = phone_theft_server.connection()
    for person, answer in zip(persons, expected):
        status, headers, body = phone_theft_server.predict(person, connection=conn)  # one keep-alive connection
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert body == answer
        assert len(body) == 10 and [a["position"] for a in body] == list(range(1, 11))
        assert abs(sum(a["value"] for a in body) - 1) < 1e-6
    conn.close()


def test_predict_batch_agrees_with_floresta(phone_theft_server, model):
    persons = people(model, 60, seed=2)
    status, _, body = phone_theft_server.predict(persons)
    assert status == 200
    assert body == expected_answers(model, persons)
    assert phone_theft_server.predict([])[2] == []


def test_any_spelling_gets_the_canonical_answer(phone_theft_server, model):
    for canonical, written in SPELLINGS:
        expected = expected_answers(model, [canonical])[0]
        status, _, body = phone_theft_server.predict(written)
        assert status == 200, body
        assert body == expected, written
        # Python's own path (records through the model file's rules) gives the same numbers.
        proba = model.predict_proba([written])[0]
        assert [round(a["value"], 15) for a in body] == [round(float(proba[model.classes_.tolist().index(a["label"])]), 15)
                                                          for a in body]


def test_a_field_not_given_gets_the_models_answer_for_missing(phone_theft_server, model):
    person = people(model, 1, seed=6)[0]
    for name in model.metadata["optional_fields"]:
        status, _, body = phone_theft_server.predict({**person, name: None})
        assert status == 200, body
        assert body == expected_answers(model, [{**person, name: None}])[0]


def test_extra_fields_are_ignored(phone_theft_server, model):
    person = people(model, 1, seed=3)[0]
    status, _, body = phone_theft_server.predict({**person, "nome": "Maria", "comentario": None})
    assert status == 200 and body == expected_answers(model, [person])[0]


def test_page_is_self_contained(phone_theft_server):
    status, headers, html = phone_theft_server.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert 'src="/app.js"' in html and 'href="/style.css"' in html and "Prever" in html
    for asset in ("/app.js", "/style.css", "/index.html"):
        status, _, text = phone_theft_server.request("GET", asset)
        assert status == 200 and len(text) > 100
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), f"{asset} loads something from elsewhere"


def test_metrics_prometheus_text(phone_theft_server, model):
    person = people(model, 1, seed=4)[0]
    for _ in range(3):
        assert phone_theft_server.predict(person)[0] == 200
    phone_theft_server.predict({"bairro": 1})
    status, headers, text = phone_theft_server.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    counts = {m.group(1, 2): int(m.group(3)) for m in
              re.finditer(r'^phone_theft_http_requests_total\{route="([^"]+)",code="(\d+)"\} (\d+)$', text, re.M)}
    assert counts[("/predict", "200")] >= 3 and counts[("/predict", "422")] >= 1
    buckets = [(m.group(1), int(m.group(2))) for m in
               re.finditer(r'^phone_theft_http_request_duration_seconds_bucket\{route="/predict",le="([^"]+)"\} (\d+)$', text, re.M)]
    assert buckets[-1][0] == "+Inf" and len(buckets) == 15
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "buckets must be cumulative"
    count = int(re.search(r'^phone_theft_http_request_duration_seconds_count\{route="/predict"\} (\d+)$', text, re.M).group(1))
    total = float(re.search(r'^phone_theft_http_request_duration_seconds_sum\{route="/predict"\} (\S+)$', text, re.M).group(1))
    assert count == buckets[-1][1] and count >= 4 and total > 0
    assert "# TYPE phone_theft_http_request_duration_seconds histogram" in text
    assert re.search(r'^phone_theft_model_info\{name="[^"]+",version="[0-9a-f]{12}",generation="1"\} 1$', text, re.M)


# ---------------------------------------------------------------------------------------------
# explain=1: the answer's first place explained by floresta's TreeSHAP


def explained(server, body, value="1", connection=None):
    return server.request("POST", f"/predict?explain={value}", body, connection=connection)


def explained_people(model):
    """Drawn people, every spelling of people.py, and people with the optional fields not given."""
    persons = people(model, 8, seed=11) + [written for _, written in SPELLINGS]
    persons += [{**people(model, 1, seed=12)[0], name: None} for name in model.metadata["optional_fields"]]
    persons.append({**people(model, 1, seed=13)[0], **{name: None for name in model.metadata["optional_fields"]}})
    return persons


def check_why(model, person, answer, why):
    """`why` explains the first place of `answer` for `person` exactly as floresta does."""
    labels = [str(c) for c in model.classes_]
    top = labels.index(answer[0]["label"])
    assert why["place"] == answer[0]["label"]
    assert sorted(f["field"] for f in why["fields"]) == sorted(FIELDS)
    magnitudes = [abs(f["contribution"]) for f in why["fields"]]
    assert magnitudes == sorted(magnitudes, reverse=True), "largest |contribution| first"
    # The library's own explanation of the same record and class: same fields, same order, same numbers.
    reference = model.explain_record(person, output=top)
    assert [f["field"] for f in why["fields"]] == [r["field"] for r in reference]
    for got, want in zip(why["fields"], reference):
        assert abs(got["contribution"] - want["contribution"]) <= 1e-12, (got, want)
    assert abs(why["expected"] - model.expected_value_[top]) <= 1e-12
    # The pushes plus the expected margin make the place's margin: exactly (1e-9) the margin
    # TreeSHAP sums in double, and predict_raw's within its float32 rounding (XGBoost's margins
    # are float32 sums of float32 leaves: up to ~5e-6 apart on 30,000 margins of this model).
    total = why["expected"] + sum(f["contribution"] for f in why["fields"])
    row = model.encode([person])
    assert abs(total - float(np.asarray(model.predict_contributions(row))[0, top].sum())) <= 1e-9
    assert abs(total - float(model.predict_raw(row)[0][top])) <= 1e-5
    # Each value as the model read it, shown as a person reads it (display names, "not given").
    rules = model.input_rules_
    encoded = dict(zip(FIELDS, row[0]))
    for f in why["fields"]:
        code = encoded[f["field"]]
        categories = vocabularies(model)[f["field"]]
        if np.isnan(code):
            assert f["value"] == "not given"
        elif categories is None:
            assert float(f["value"]) == code
        else:
            category = categories[int(code)]
            assert f["value"] == rules.get(f["field"], {}).get("display", {}).get(category, category)


def test_explain_keeps_the_answer_and_explains_its_first_place(phone_theft_server, model):
    conn = phone_theft_server.connection()
    for person in explained_people(model):
        status, _, plain = phone_theft_server.predict(person, connection=conn)
        assert status == 200, plain
        status, headers, body = explained(phone_theft_server, person, connection=conn)
        assert status == 200 and headers["Content-Type"] == "application/json", body
        assert set(body) == {"places", "why"} and set(body["why"]) == {"place", "expected", "fields"}
        assert body["places"] == plain, "explain=1 must not change the answer"
        for f in body["why"]["fields"]:
            assert set(f) == {"field", "value", "contribution"} and isinstance(f["value"], str)
        check_why(model, person, plain, body["why"])
    conn.close()
    # The example person: Tatuapé shown with its accent.
    person = {"bairro": "TATUAPE", "marca": "Samsung", "dia": "TERCA", "periodo": "MANHA", "idade": 22, "sexo": "MULHER"}
    fields = {f["field"]: f["value"] for f in explained(phone_theft_server, person)[2]["why"]["fields"]}
    assert fields["bairro"] == "Tatuapé" and fields["dia"] == "Terça-feira" and fields["idade"] == "22"


def test_explain_0_or_absent_is_the_plain_answer(phone_theft_server, model):
    person = people(model, 1, seed=14)[0]
    plain = phone_theft_server.predict(person)
    assert plain[0] == 200 and plain[2] == expected_answers(model, [person])[0]
    assert explained(phone_theft_server, person, "0")[2] == plain[2]
    assert phone_theft_server.request("POST", "/predict?other=1", person)[2] == plain[2]  # other parameters: ignored


def test_explain_a_batch(phone_theft_server, model):
    persons = people(model, 25, seed=15) + [{**people(model, 1, seed=16)[0], "bairro": None}]
    status, _, plain = phone_theft_server.predict(persons)
    assert status == 200
    status, _, body = explained(phone_theft_server, persons)
    assert status == 200 and isinstance(body, list) and len(body) == len(persons)
    assert [item["places"] for item in body] == plain == expected_answers(model, persons)
    for person, item in zip(persons, body):
        check_why(model, person, item["places"], item["why"])
    assert explained(phone_theft_server, [])[2] == []


@pytest.mark.parametrize("value", ["true", "yes", "", "2", "01", "1&explain=0"])
def test_a_bad_explain_value_is_refused(phone_theft_server, model, value):
    person = people(model, 1, seed=17)[0]
    status, headers, body = explained(phone_theft_server, person, value)
    assert status == 400 and headers["Content-Type"] == "application/json", body
    assert body["rule"] == "query" and body["field"] is None
    assert "explain" in body["error"] and "0" in body["error"] and "1" in body["error"]


@pytest.mark.parametrize("name", ["unknown_bairro", "age_above_range", "missing_field", "malformed_json", "batch_element"])
def test_explain_refuses_a_person_as_without_it(phone_theft_server, model, name):
    build = next(b[1] for b in BAD_REQUESTS if b[0] == name)
    request = build(_valid(model))
    status, _, plain = phone_theft_server.predict(request)
    assert status in (400, 422)
    assert explained(phone_theft_server, request)[::2] == (status, plain)


def test_explained_people_are_counted(phone_theft_server, model):
    def count():
        text = phone_theft_server.request("GET", "/metrics")[2]
        assert "# TYPE phone_theft_people_explained_total counter" in text
        return int(re.search(r"^phone_theft_people_explained_total (\d+)$", text, re.M).group(1))

    before = count()
    persons = people(model, 3, seed=18)
    assert explained(phone_theft_server, persons[0])[0] == 200
    assert explained(phone_theft_server, persons)[0] == 200
    assert phone_theft_server.predict(persons[0])[0] == 200
    assert explained(phone_theft_server, {"bairro": 1})[0] == 422
    assert count() == before + 4


def test_schema_and_health_say_whether_answers_can_be_explained(phone_theft_server):
    assert phone_theft_server.request("GET", "/schema")[2]["explain"] is True
    assert phone_theft_server.request("GET", "/health")[2]["model"]["explain"] is True


def test_a_model_without_covers_predicts_and_refuses_to_explain(phone_theft_server_factory, phone_theft_server_model,
                                                                   model, tmp_path):
    document = json.loads(phone_theft_server_model.read_text())
    for tree in document["estimator"]["document"]["learner"]["gradient_booster"]["model"]["trees"]:
        del tree["sum_hessian"]  # the node covers TreeSHAP needs
    path = tmp_path / "no_covers.json"
    path.write_text(json.dumps(document))
    server = phone_theft_server_factory(path)
    person = people(model, 1, seed=19)[0]
    assert server.predict(person)[2] == expected_answers(model, [person])[0]
    assert server.request("GET", "/schema")[2]["explain"] is False
    status, _, body = explained(server, person)
    assert status == 409 and body["rule"] == "explain" and "node covers" in body["error"], body
    assert explained(server, {**person, "bairro": "Atlântida"})[0] == 422  # the person's problem first
    assert server.stop() == 0


# ---------------------------------------------------------------------------------------------
# bad requests: the right 4xx, a JSON error naming the field and the rule, never a crash


def _valid(model):
    return people(model, 1, seed=5)[0]


BAD_REQUESTS = [
    # (id, body builder, status, rule, field, words the message must contain)
    ("malformed_json", lambda p: '{"bairro": "SE",', 400, "json", None, ["malformed JSON"]),
    ("empty_body", lambda p: b"", 400, "json", None, ["empty"]),
    ("not_an_object", lambda p: "42", 400, "body", None, ["JSON object"]),
    ("missing_field", lambda p: {k: v for k, v in p.items() if k != "idade"}, 422, "required", "idade", ["missing", "idade"]),
    ("age_as_string", lambda p: {**p, "idade": "23"}, 422, "type", "idade", ["idade", "numeric", '"23"']),
    ("age_object", lambda p: {**p, "idade": {"anos": 30}}, 422, "type", "idade", ["idade", "an object"]),
    ("age_bool", lambda p: {**p, "idade": True}, 422, "type", "idade", ["idade", "boolean"]),
    ("bairro_as_number", lambda p: {**p, "bairro": 12}, 422, "type", "bairro", ["bairro", "string"]),
    ("age_below_range", lambda p: {**p, "idade": -1}, 422, "range", "idade", ["idade", "outside the valid range [0, 120]", "-1"]),
    ("age_above_range", lambda p: {**p, "idade": 121.5}, 422, "range", "idade", ["idade", "[0, 120]", "121.5"]),
    ("unknown_bairro", lambda p: {**p, "bairro": "Atlântida"}, 422, "vocabulary", "bairro",
     ["bairro", '"Atlântida"', 'read as "ATLANTIDA"', "unknown"]),
    ("unknown_period", lambda p: {**p, "periodo": "ao meio-dia"}, 422, "vocabulary", "periodo", ["periodo", "ao meio-dia"]),
    ("batch_element", lambda p: [p, {**p, "sexo": "X"}], 422, "vocabulary", "sexo", ["[1]", "sexo"]),
    ("batch_not_object", lambda p: [p, "x"], 400, "body", None, ["[1]"]),
    ("batch_too_long", lambda p: [p] * 1001, 413, "batch_size", None, ["1001", "1000"]),
]


@pytest.mark.parametrize("name,build,status,rule,field,words", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_predict_request(phone_theft_server, model, name, build, status, rule, field, words):
    got, headers, body = phone_theft_server.predict(build(_valid(model)))
    assert got == status, body
    assert headers["Content-Type"] == "application/json"
    assert body["rule"] == rule and body["field"] == field
    for word in words:
        assert word in body["error"], (word, body["error"])
    if name.startswith("batch_element"):
        assert body["index"] == 1


def test_body_over_the_limit(phone_theft_server):
    status, _, body = phone_theft_server.predict(b"[" + b" " * (1 << 20) + b"]")
    assert status == 413 and body["rule"] == "body_size" and "1048576 bytes" in body["error"]
    # cpp-httplib caps form bodies (curl -d's default type) at 8 KiB: said so, not "over 1 MiB"
    status, _, body = phone_theft_server.request("POST", "/predict", b"[" + b" " * 9000 + b"]",
                                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413 and "Content-Type: application/json" in body["error"]


def test_unknown_route_and_wrong_method(phone_theft_server):
    status, _, body = phone_theft_server.request("GET", "/predictions")
    assert status == 404 and body["rule"] == "route" and "/predictions" in body["error"]
    status, headers, body = phone_theft_server.request("GET", "/predict")
    assert status == 405 and headers["Allow"] == "POST, OPTIONS" and body["rule"] == "method"
    status, headers, body = phone_theft_server.request("DELETE", "/health")
    assert status == 405 and "GET" in headers["Allow"] and "DELETE" in body["error"]
    status, _, body = phone_theft_server.request("PUT", "/predict", {"a": 1})
    assert status == 405


def read_response(sock):
    """(head, body) of one HTTP response read from a socket (the body by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return head, body[:length]


@pytest.mark.parametrize("raw,words", [
    (b"HELLO /predict SPDY/9\r\n\r\n", "could not be parsed"),
    (b"FOO /predict HTTP/1.1\r\nHost: x\r\n\r\n", "unknown method"),
], ids=["garbage", "unknown_method"])
def test_unparsable_requests(phone_theft_server, raw, words):
    with socket.create_connection(("127.0.0.1", phone_theft_server.port), timeout=10) as sock:
        sock.sendall(raw)
        head, body = read_response(sock)
    assert head.startswith(b"HTTP/1.1 400")
    problem = json.loads(body)
    assert problem["rule"] == "http" and words in problem["error"]


def test_post_without_content_length(phone_theft_server_factory, phone_theft_server_model):
    # cpp-httplib reads such a body until its read timeout, then refuses it: 1 s here.
    server = phone_theft_server_factory(phone_theft_server_model, "--read-timeout", "1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n")
        head, body = read_response(sock)
    assert head.startswith(b"HTTP/1.1 400")
    problem = json.loads(body)
    assert problem["rule"] == "http" and "Content-Length" in problem["error"]
    assert server.stop() == 0


def test_still_healthy_after_bad_requests(phone_theft_server):
    assert phone_theft_server.request("GET", "/health")[0] == 200
    assert phone_theft_server.process.poll() is None


# ---------------------------------------------------------------------------------------------
# concurrency, reload, shutdown


def test_200_concurrent_requests_agree_with_floresta(phone_theft_server, model):
    persons = people(model, 200, seed=6)
    expected = expected_answers(model, persons)
    barrier = threading.Barrier(50)

    def one(i):
        if i < 50:
            barrier.wait(timeout=30)  # the first 50 start together
        return phone_theft_server.predict(persons[i])

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(200)))
    assert [r[0] for r in results] == [200] * 200
    for (status, _, body), answer in zip(results, expected):
        assert body == answer


class Load:
    """Threads sending requests on keep-alive connections until stopped; every result kept."""

    def __init__(self, server, persons, threads=6):
        self.server, self.persons = server, persons
        self.results, self.failures = [], []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, t):
        conn = self.server.connection()
        i = t
        while not self.stopping.is_set():
            k = i % len(self.persons)
            sent = time.monotonic()  # a request sent after the swap was confirmed must get the new model
            try:
                status, _, body = self.server.predict(self.persons[k], connection=conn)
                with self.lock:
                    self.results.append((sent, k, status, body))
            except (OSError, http.client.HTTPException) as error:
                with self.lock:
                    self.failures.append(repr(error))
                conn.close()
                conn = self.server.connection()
            i += len(self.threads)
        conn.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()


def wait_for(condition, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_sighup_swaps_the_model_under_load_and_refuses_a_damaged_file(
        phone_theft_server_factory, phone_theft_server_model, model, tmp_path):
    served = tmp_path / "served.json"
    shutil.copyfile(phone_theft_server_model, served)
    other_path = second_model(model, tmp_path / "other.json")
    other = floresta.load(str(other_path))
    server = phone_theft_server_factory(served)
    persons = people(model, 20, seed=8)
    before, after = expected_answers(model, persons), expected_answers(other, persons)
    assert before != after

    version_a = server.request("GET", "/health")[2]["model"]["version"]
    load = Load(server, persons)
    try:
        wait_for(lambda: len(load.results) > 100, what="load before the swap")
        replace_atomically(other_path.read_bytes(), served)
        server.signal(signal.SIGHUP)
        health = wait_for(lambda: (h := server.request("GET", "/health")[2])["model"]["version"] != version_a and h,
                          what="the new model")
        swapped_at = time.monotonic()
        wait_for(lambda: sum(1 for r in load.results if r[0] > swapped_at) > 100, what="load after the swap")
    finally:
        load.stop()
    assert load.failures == [], load.failures[:5]
    assert all(status == 200 for _, _, status, _ in load.results)
    old = new = 0
    for stamp, k, _, body in load.results:
        if body == before[k]:
            old += 1
            assert stamp < swapped_at, "an old answer to a request sent after the swap was confirmed"
        else:
            assert body == after[k], "an answer from neither model"
            new += 1
    assert old > 0 and new > 0
    assert health["model"]["generation"] == 2
    assert health["model"]["sha256"] == hashlib.sha256(other_path.read_bytes()).hexdigest()
    assert "SIGHUP: reloaded" in server.log()

    # A damaged file: refused, logged, the model in service stays.
    replace_atomically(other_path.read_bytes()[: len(other_path.read_bytes()) // 2], served)
    server.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in server.log(), what="the refusal log line")
    status, _, health = server.request("GET", "/health")
    assert status == 200 and health["model"]["generation"] == 2 and health["last_reload_error"]
    assert server.predict(persons[:5])[2] == after[:5]
    metrics = server.request("GET", "/metrics")[2]
    assert 'phone_theft_model_reloads_total{result="ok"} 1' in metrics
    assert 'phone_theft_model_reloads_total{result="refused"} 1' in metrics
    assert server.stop() == 0


def test_sigterm_finishes_the_request_in_flight_and_exits_0(phone_theft_server_factory, phone_theft_server_model, model):
    server = phone_theft_server_factory(phone_theft_server_model)
    person = people(model, 1, seed=9)[0]
    body = json.dumps(person).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        # Half a request: the server is reading it when SIGTERM arrives.
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3)
        server.signal(signal.SIGTERM)
        time.sleep(0.3)
        assert server.process.poll() is None, "exited with a request in flight"
        sock.sendall(body[10:])
        head, payload = read_response(sock)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(payload) == expected_answers(model, [person])[0]
    assert server.process.wait(timeout=20) == 0
    assert "SIGTERM: draining" in server.log() and "stopped" in server.log()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_a_port_in_use_is_refused(phone_theft_server, phone_theft_server_binary, phone_theft_server_model):
    # Two servers must never share a port (cpp-httplib's default SO_REUSEPORT would allow it).
    completed = subprocess.run([str(phone_theft_server_binary), "--model", str(phone_theft_server_model),
                                "--port", str(phone_theft_server.port)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1 and "cannot listen" in completed.stderr
