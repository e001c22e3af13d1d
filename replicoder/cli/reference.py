"""The command-line reference as Markdown, walked from the Typer app (docs/hooks.py uses it)."""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer.core import TyperArgument, TyperOption

__all__ = ["commands", "markdown", "section"]


def commands() -> list[tuple[str, Any]]:
    """Every visible command of `replicoder` as (path, command), a group before its commands."""
    from replicoder.cli import app

    found: list[tuple[str, Any]] = []

    def walk(path: str, cmd: Any) -> None:
        subs = getattr(cmd, "commands", None)
        if path != "replicoder" or subs is None:
            found.append((path, cmd))
        for name, sub in (subs or {}).items():
            if not sub.hidden:
                walk(f"{path} {name}", sub)

    walk("replicoder", typer.main.get_command(app))
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(opt: TyperOption) -> str:
    value = opt.default
    if value is None or value in ((), [], "") or callable(value):
        return ""
    if opt.is_flag and not opt.secondary_opts:
        return "on" if value else ""
    if isinstance(value, bool):
        return f"`{opt.opts[0] if value else opt.secondary_opts[0]}`"
    return f"`{value}`"


def anchor(path: str) -> str:
    """The heading id MkDocs gives a command's section (`## replicoder review sample`)."""
    return path.replace(" ", "-")


def section(path: str, cmd: Any) -> str:
    """One command's Markdown: its help, usage, arguments and options."""
    lines = [f"## {path} {{#{anchor(path)}}}", ""]
    if cmd.help:
        lines += [inspect.cleandoc(cmd.help).split("\f")[0], ""]
    subs = getattr(cmd, "commands", None)
    if subs is not None:
        links = ", ".join(f"[`{n}`](#{anchor(f'{path} {n}')})" for n in subs)
        lines += [f"Commands: {links}", ""]
    args = [p for p in cmd.params if isinstance(p, TyperArgument)]
    opts = [p for p in cmd.params if isinstance(p, TyperOption) and not p.hidden]
    usage = " ".join([path, "[OPTIONS]" if opts else "", "COMMAND" if subs else "",
                      *(f"[{(a.name or '').upper()}]" if not a.required
                        else (a.name or "").upper() for a in args)])
    lines += ["```text", " ".join(usage.split()), "```", ""]
    if args:
        lines += ["| argument | meaning |", "|---|---|"]
        lines += [f"| `{(a.name or '').upper()}` | {_cell(a.help or '')} |" for a in args]
        lines.append("")
    if opts:
        lines += ["| option | meaning | default |", "|---|---|---|"]
        for o in opts:
            names = ", ".join(f"`{n}`" for n in o.opts)
            if o.secondary_opts:
                names += " / " + ", ".join(f"`{n}`" for n in o.secondary_opts)
            lines.append(f"| {names} | {_cell(o.help or '')} | {_default(o)} |")
        lines.append("")
    return "\n".join(lines)


def markdown() -> str:
    """The reference of every command, in the order `replicoder --help` lists them."""
    return "\n".join(section(path, cmd) for path, cmd in commands())
