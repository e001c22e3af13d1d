"""Command: serve (a local model behind an OpenAI-compatible API)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from replicoder.cli.common import HostOption, PortOption, console, err_console


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("serve")(serve)


def serve(
    model: Annotated[str, typer.Option(
        help="'embedded' (SmolLM2-135M-Instruct), a Hugging Face id, a model folder or a "
        ".gguf file.")] = "embedded",
    adapter: Annotated[Path | None, typer.Option(
        help="A peft LoRA adapter folder (generator) to load on top of --model.")] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    name: Annotated[str | None, typer.Option(
        help="Model id clients send in 'model' (default: the adapter folder's name, else "
        "--model as given).", show_default=False)] = None,
    api_key_env: Annotated[str | None, typer.Option(
        help="NAME of an environment variable holding the key clients must send as "
        "'Authorization: Bearer KEY'. The key itself is never a flag.",
        show_default=False)] = None,
    device: Annotated[str | None, typer.Option(
        help="'cpu', 'cuda' or 'cuda:N' (default: cuda when present).",
        show_default=False)] = None,
    dtype: Annotated[str, typer.Option(
        help="auto (bfloat16 on GPU, float32 on CPU), float32, bfloat16 or float16.")] = "auto",
    max_request_bytes: Annotated[int | None, typer.Option(
        min=1, help="Largest request body accepted, in bytes (default 4,000,000); a larger "
        "one is answered 413 before it is read whole.", show_default=False)] = None,
    max_prompt_chars: Annotated[int | None, typer.Option(
        min=1, help="Most characters the messages of one request may hold, counted before "
        "tokenising (default 200,000); more is answered 413.", show_default=False)] = None,
) -> None:
    """Serve a local model as an OpenAI-compatible API (/v1/chat/completions, /v1/models).

    Requests are answered one at a time; temperature 0 is greedy and repeatable. Stop with
    Ctrl-C.

    Example: replicoder serve --port 8000, then point any OpenAI client at
    http://127.0.0.1:8000/v1 with model "embedded".
    """
    from replicoder.serve import serve as run_server
    from replicoder.serve.app import LOOPBACK, api_key_from_env
    from replicoder.serve.limits import MAX_PROMPT_CHARS, MAX_REQUEST_BYTES, RequestLimits

    api_key_from_env(api_key_env)  # fail before loading the model
    if host not in LOOPBACK and api_key_env is None:
        err_console.print(f"[yellow]warning:[/] binding {host} without --api-key-env: anyone "
                          "who can reach this port can use the model")
    console.print(f"loading {model}" + (f" + adapter {adapter}" if adapter else "") + " ...")
    run_server(model, adapter, host, port, name=name, api_key_env=api_key_env, device=device,
               dtype=dtype, limits=RequestLimits(
                   max_request_bytes=max_request_bytes or MAX_REQUEST_BYTES,
                   max_prompt_chars=max_prompt_chars or MAX_PROMPT_CHARS))
