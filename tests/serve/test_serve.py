"""`replicoder serve` as a subprocess on loopback, driven by the real `openai` client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion
from serve_process import ServeProcess

KEY_ENV = "REPLICODER_TEST_SERVE_KEY"
KEY = "test-key-123"  # a test value, not a secret
CLI = [sys.executable, "-m", "replicoder.cli"]
MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Say hi"}]


class Server(ServeProcess):
    def client(self, key: str = KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.api, api_key=key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server(["--api-key-env", KEY_ENV], env={KEY_ENV: KEY})
    yield srv
    srv.stop()


def chat(client: openai.OpenAI, **kw: Any) -> ChatCompletion:
    """A completion of MESSAGES; greedy and 8 tokens unless ``kw`` says otherwise."""
    args: dict[str, Any] = {"model": "embedded", "messages": MESSAGES, "temperature": 0,
                            "max_tokens": 8, **kw}
    resp: ChatCompletion = client.chat.completions.create(**args)
    return resp


def greedy(client: openai.OpenAI, max_tokens: int = 8) -> str:
    return chat(client, max_tokens=max_tokens).choices[0].message.content or ""


def test_models_lists_the_served_model(server: Server) -> None:
    models = server.client().models.list().data
    assert [m.id for m in models] == ["embedded"]
    assert server.client().models.retrieve("embedded").id == "embedded"
    info = httpx.get(server.url + "/v1/models",
                     headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]
    assert len(info["replicoder"]["base_sha256"]) == 64
    assert info["replicoder"]["versions"]["transformers"].startswith("5.")


def test_greedy_matches_transformers_and_repeats(server: Server) -> None:
    from replicoder.models import load_causal_lm, load_tokenizer, resolve

    resp = chat(server.client())
    base = resolve("embedded")
    tok = load_tokenizer(base)
    lm: Any = load_causal_lm(base, device="cpu")
    enc: Any = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    out = lm.generate(**enc, max_new_tokens=8, do_sample=False)
    expected = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)

    choice = resp.choices[0]
    assert choice.message.content == expected and expected.strip()
    assert choice.message.role == "assistant"
    assert resp.model == "embedded" and resp.object == "chat.completion"
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == enc["input_ids"].shape[1]
    assert resp.usage.completion_tokens == 8 and choice.finish_reason == "length"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + 8
    assert resp.system_fingerprint and resp.system_fingerprint.startswith("rc-")
    assert greedy(server.client()) == expected


def test_concurrent_requests_are_serialised_and_identical(server: Server) -> None:
    results: list[str] = []

    def ask() -> None:
        results.append(greedy(server.client(), max_tokens=4))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and len(set(results)) == 1


def test_seeded_sampling_repeats(server: Server) -> None:
    def sample(seed: int) -> str:
        resp = chat(server.client(), temperature=1.5, seed=seed, max_tokens=4)
        return resp.choices[0].message.content or ""

    answers = [sample(s) for s in (0, 1, 2, 0)]
    assert answers[0] == answers[3]
    assert len(set(answers[:3])) > 1


def test_stop_and_length(server: Server) -> None:
    text = greedy(server.client())
    word = text.split()[1]
    resp = chat(server.client(), stop=[word])
    assert resp.choices[0].message.content == text[: text.index(word)]
    assert resp.choices[0].finish_reason == "stop"
    one = chat(server.client(), max_tokens=1)
    assert one.usage is not None and one.usage.completion_tokens == 1
    assert one.choices[0].finish_reason == "length"


def test_unknown_model_is_404(server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        chat(server.client(), model="gpt-5")
    assert err.value.status_code == 404 and err.value.code == "model_not_found"
    assert "embedded" in err.value.message


def test_wrong_or_missing_key_is_401(server: Server) -> None:
    with pytest.raises(openai.AuthenticationError) as err:
        server.client("wrong").models.list()
    assert err.value.code == "invalid_api_key"
    r = httpx.post(server.url + "/v1/chat/completions",
                   json={"model": "embedded", "messages": MESSAGES})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert KEY not in r.text


@pytest.mark.parametrize("change, param", [
    ({"messages": []}, "messages"),
    ({"n": 2}, "n"),
    ({"stream": True}, "stream"),
    ({"temperature": 5}, "temperature"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ({"max_tokens": 10**7}, "messages"),
])
def test_malformed_request_is_400(server: Server, change: dict[str, object],
                                  param: str) -> None:
    body = {"model": "embedded", "messages": MESSAGES, **change}
    r = httpx.post(server.url + "/v1/chat/completions", json=body,
                   headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and err["message"]


def test_invalid_json_and_missing_model_are_400(server: Server) -> None:
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    r = httpx.post(server.url + "/v1/chat/completions", content=b"{bad", headers=auth)
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": MESSAGES},
                   headers=auth)
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_cli_errors_name_the_problem(tmp_path: Path) -> None:
    r = run_cli("serve", "--api-key-env", "REPLICODER_TEST_UNSET_VAR",
                env={"REPLICODER_TEST_UNSET_VAR": ""})
    assert r.returncode == 2 and "REPLICODER_TEST_UNSET_VAR" in r.stderr
    r = run_cli("serve", "--adapter", str(tmp_path / "missing"))
    assert r.returncode == 2 and "no such folder" in r.stderr
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "adapter_config.json").write_text(json.dumps({"task_type": "SEQ_CLS"}))
    r = run_cli("serve", "--adapter", str(tmp_path / "cls"))
    assert r.returncode == 2 and "classifier" in r.stderr
    (tmp_path / "empty").mkdir()
    r = run_cli("serve", "--adapter", str(tmp_path / "empty"))
    assert r.returncode == 2 and "adapter_config.json" in r.stderr
    model = tmp_path / "model"
    (model / "adapter").mkdir(parents=True)
    (model / "adapter" / "adapter_config.json").write_text(json.dumps({"task_type": None}))
    (model / "label_map.json").write_text(json.dumps({"mode": "classifier"}))
    r = run_cli("serve", "--adapter", str(model))
    assert r.returncode == 2 and "classifier" in r.stderr
    r = run_cli("serve", "--dtype", "float8")
    assert r.returncode == 2 and "float8" in r.stderr and "bfloat16" in r.stderr


def test_adapter_changes_the_model(tmp_path: Path, server: Server) -> None:
    """A replicoder model folder (adapter/ + label_map.json) with a random LoRA."""
    import torch
    from peft import LoraConfig, get_peft_model

    from replicoder.models import load_causal_lm, resolve

    torch.manual_seed(0)
    lm: Any = load_causal_lm(resolve("embedded"), device="cpu")
    cfg = LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                     init_lora_weights=False)
    folder = tmp_path / "my-model"
    get_peft_model(lm, cfg).save_pretrained(str(folder / "adapter"))
    (folder / "label_map.json").write_text(json.dumps({"mode": "generative",
                                                       "instruction": "Code the topic."}))

    srv = Server(["--adapter", str(folder)])
    try:
        client = srv.client("anything")
        (card,) = client.models.list().data
        assert card.id == "my-model"
        info = card.model_extra["replicoder"] if card.model_extra else {}
        assert info["instruction"] == "Code the topic." and len(info["adapter_sha256"]) == 64
        resp = chat(client, model="my-model")
        base = chat(server.client())
        assert resp.system_fingerprint != base.system_fingerprint
        assert resp.choices[0].message.content != base.choices[0].message.content
    finally:
        srv.stop()


def test_a_disconnected_client_stops_its_generation(server: Server) -> None:
    import socket
    import time

    body = json.dumps({"model": "embedded", "temperature": 0, "max_tokens": 3000,
                       "messages": [{"role": "user", "content":
                                     "Count from 1 to 2000, one number per line."}]})
    raw = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(raw)
        time.sleep(1.5)  # generation is under way; the client gives up
    start = time.monotonic()
    assert greedy(server.client(), max_tokens=4)
    assert time.monotonic() - start < 10  # not behind thousands of abandoned tokens


def test_huge_seed_is_400(server: Server) -> None:
    resp = httpx.post(server.api + "/chat/completions",
                      headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "embedded", "messages": MESSAGES, "seed": 2**70})
    assert resp.status_code == 400 and "seed" in resp.json()["error"]["message"]
