"""`replicoder serve` throughput and HTTP overhead on US bill titles.

Baseline: the same prompts generated in this process with the same engine code
(`replicoder.serve.load_engine` + `Engine.generate`), no HTTP. Then the same prompts sent
to a `replicoder serve` subprocess on loopback with the `openai` client, one at a time
and from --concurrency threads (the server answers one at a time: a lock keeps greedy
answers independent of load). Checks that every HTTP answer equals the baseline's.
Writes bench/results/serve.json. Usage:
  .venv/bin/python bench/bench_serve.py [--requests 30] [--max-tokens 16] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pandas as pd
from data import bills_path

from replicoder.serve import load_engine

RESULTS = Path(__file__).parent / "results"
SYSTEM = "Give the policy topic of this bill title in a few words."


def messages(title: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": title}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(out: list[tuple[str, int]], seconds: float) -> dict[str, float]:
    tokens = sum(n for _, n in out)
    return {"requests": len(out), "seconds": seconds, "requests_per_s": len(out) / seconds,
            "completion_tokens": tokens, "tokens_per_s": tokens / seconds}


def start_server(device: str | None) -> tuple[subprocess.Popen[bytes], int, float]:
    port = free_port()
    cmd = [sys.executable, "-m", "replicoder.cli", "serve", "--port", str(port)]
    if device:
        cmd += ["--device", device]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    start = time.perf_counter()
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port, time.perf_counter() - start
        except httpx.HTTPError:
            if proc.poll() is not None or time.perf_counter() - start > 300:
                proc.kill()
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", type=Path, default=RESULTS / "serve.json")
    args = ap.parse_args()
    titles = pd.read_csv(bills_path()).text.head(args.requests).tolist()
    proc, port, startup_s = start_server(args.device)
    try:
        engine = load_engine("embedded", device=args.device)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none",
                               max_retries=0, timeout=300)

        def direct(title: str) -> tuple[str, int]:
            c = engine.generate(engine.prompt_ids(messages(title)),
                                max_tokens=args.max_tokens, temperature=0.0)
            return c.text, c.completion_tokens

        def http(title: str) -> tuple[str, int]:
            r = client.chat.completions.create(
                model="embedded", messages=messages(title),  # type: ignore[arg-type]
                temperature=0, max_tokens=args.max_tokens)
            assert r.usage is not None
            return r.choices[0].message.content or "", r.usage.completion_tokens

        direct(titles[0]), http(titles[0])  # warm-up
        # Interleaved, alternating which goes first, so both see the same machine load.
        base_out, seq_out, base_s, seq_s = [], [], 0.0, 0.0
        for i, title in enumerate(titles):
            for fn in (direct, http) if i % 2 == 0 else (http, direct):
                t0 = time.perf_counter()
                res = fn(title)
                took = time.perf_counter() - t0
                if fn is direct:
                    base_out.append(res)
                    base_s += took
                else:
                    seq_out.append(res)
                    seq_s += took
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            par_out = list(pool.map(http, titles))
        par_s = time.perf_counter() - t0
        device = engine.info["device"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    result = {
        "device": device, "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0], "max_tokens": args.max_tokens,
        "server_startup_s": startup_s,
        "baseline_direct_generate": summary(base_out, base_s),
        "http_sequential": summary(seq_out, seq_s),
        f"http_concurrency_{args.concurrency}": summary(par_out, par_s),
        "http_over_direct_time_ratio": seq_s / base_s,
        "answers_equal_baseline": {"sequential": seq_out == base_out,
                                   "concurrent": par_out == base_out},
        "example": {"title": titles[0], "answer": base_out[0][0]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
