"""How much of a document fits in a prompt: the model's context less the prompt around the
document, the answer and room for a note. A document that does not fit is cut, with a
note saying so at the cut, never silently (zero-shot and local annotators)."""

from __future__ import annotations

from typing import Any

__all__ = ["NOTE_ROOM", "cut_note", "document_budget", "fit_document", "rendered",
           "rendered_tokens"]

NOTE_ROOM = 32  # tokens kept free for the note a cut document gets


def rendered_tokens(tok: Any, system: str, user: str) -> int:
    """Tokens of a prompt (chat template if the tokenizer has one, else plain text)."""
    if getattr(tok, "chat_template", None):
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        rendered = f"{system}\nText: {user}\nAnswer: "
    return len(tok(rendered, add_special_tokens=False)["input_ids"])


def rendered(tok: Any, messages: list[dict[str, str]]) -> int:
    """Tokens of chat ``messages`` as the model sees them, up to where its answer starts."""
    if getattr(tok, "chat_template", None):
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = "\n".join(m["content"] for m in messages)
    return len(tok(text, add_special_tokens=False)["input_ids"])


def document_budget(tok: Any, instruction: str, answer_tokens: int, context: int) -> int:
    """Tokens of document text that fit with ``instruction`` and the answer in
    ``context`` (at least 1)."""
    overhead = rendered_tokens(tok, instruction, "")
    return max(1, context - overhead - answer_tokens - NOTE_ROOM)


def cut_note(dropped: int) -> str:
    return f"\n[cut: the last {dropped} tokens of this document did not fit the model's context]"


def fit_document(tok: Any, text: str, budget: int) -> tuple[str, int]:
    """(text, tokens dropped): ``text`` itself if it fits in ``budget`` tokens, else its
    first ``budget`` tokens followed by a note that says how many were dropped."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= budget:
        return text, 0
    dropped = len(ids) - budget
    return str(tok.decode(ids[:budget])) + cut_note(dropped), dropped
