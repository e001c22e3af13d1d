"""The review web app: server-rendered pages over :mod:`replicoder.review.session`.

Pages: ``/`` (coders, progress), ``/c/{coder}/`` (next undecided document),
``/c/{coder}/doc?id=`` (one document), ``/c/{coder}/adjudicate`` (disagreements) and
``/c/{coder}/adjudicate/doc?id=``. JSON writes: ``/api/c/{coder}/draft``, ``.../decide``,
``.../adjudicate``. Every request opens its own SQLite connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from replicoder.errors import ReplicoderError
from replicoder.labels import graded
from replicoder.review import adjudication, session
from replicoder.review.export import display_name
from replicoder.review.order import refresh_if_due
from replicoder.review.policy import party_adjudication
from replicoder.review.security import CoderKeys, guard
from replicoder.store import Store
from replicoder.study import Study

__all__ = ["AdjudicateBody", "Pages", "ReviewBody", "coder_url", "create_app", "doc_url"]


class ReviewBody(BaseModel):
    doc_id: str
    rejected: list[str] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    unclear: bool = False
    seconds: float = 0.0


class AdjudicateBody(BaseModel):
    doc_id: str
    labels: list[str] = Field(default_factory=list)
    unclear: bool = False


def doc_url(coder: str, doc_id: str, adjudicate: bool = False) -> str:
    part = "adjudicate/doc" if adjudicate else "doc"
    return f"/c/{quote(coder, safe='')}/{part}?{urlencode({'id': doc_id})}"


def coder_url(coder: str, page: str = "") -> str:
    return f"/c/{quote(coder, safe='')}/{page}"


class Pages:
    """What every route of one study's app shares: its codebook, templates and stores."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.book = study.codebook
        self.allow_party = party_adjudication(study)
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("replicoder.review", "templates"), autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.index = {c: i for i, c in enumerate(self.book.codes)}
        self.codebook_json = [{"code": lab.code, "name": lab.name,
                               "description": lab.description} for lab in self.book.labels]

    @contextmanager
    def store_for(self, name: str | None = None, assigned: bool = True) -> Iterator[Store]:
        with self.study.store() as store:
            if name is not None:
                session.check_coder(store, name) if assigned else session.check_name(name)
            yield store

    def page(self, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(study=self.study.root.resolve().name,
                                                      **ctx)
        return HTMLResponse(html, status_code=status)

    def label_name(self, value: str) -> str:
        code = graded.split(value)[0] if self.book.graded else value
        return self.book.label(code).name if code in self.book else "(not in codebook)"

    def rank(self, value: str) -> int:
        return self.index.get(graded.split(value)[0] if self.book.graded else value, 1 << 30)

    def item(self, value: str, sources: list[str], on: bool, added: bool) -> dict[str, Any]:
        level = graded.split(value)[1] if self.book.graded else None
        return {"code": value, "name": self.label_name(value), "sources": sources, "on": on,
                "added": added, "level": level}

    def state(self, mode: str, name: str, doc_id: str, items: list[dict[str, Any]],
              unclear: bool, seconds: float, previous: str | None) -> dict[str, Any]:
        """What the page's script starts from."""
        return {"mode": mode, "doc_id": doc_id, "items": items, "unclear": unclear,
                "seconds": seconds, "multi_label": self.book.multi_label,
                "intensities": list(self.book.intensities), "codebook": self.codebook_json,
                "coder": name, "api": f"/api/c/{quote(name, safe='')}", "previous": previous}


def create_app(study: Study, coder: str | None = None, token: str | None = None,
               keys: CoderKeys | None = None) -> FastAPI:
    """The app for one study; ``coder`` is who `/` sends to; ``token`` None: loopback only;
    ``keys`` sign coders in (None: a fresh secret, so only links made with it work)."""
    app = FastAPI(title="replicoder review", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(guard(token, keys or CoderKeys()))
    static = resources.files("replicoder.review") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    pages = Pages(study)

    @app.exception_handler(ReplicoderError)
    async def user_error(request: Request, exc: ReplicoderError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return pages.page("error.html", status=400, message=str(exc))

    _coder_routes(app, pages, coder)
    _adjudication_routes(app, pages)
    return app


def _coder_routes(app: FastAPI, pages: Pages, coder: str | None) -> None:
    """The home page and a coder's review of their documents."""
    book, store_for, page = pages.book, pages.store_for, pages.page

    @app.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        with store_for() as store:
            names = store.coders()
            if coder and coder not in names:
                names.insert(0, coder)
            rows = [(n, coder_url(n), session.progress(store, n)) for n in names]
            pending = [d for d in adjudication.disagreements(store) if d.adjudicated is None]
        return page("home.html", coders=rows, pending=len(pending), default=coder or "")

    @app.get("/go")
    def go(coder: str) -> RedirectResponse:
        session.check_name(coder)
        return RedirectResponse(coder_url(coder), status_code=303)

    @app.get("/c/{name}/")
    def start(name: str, all: bool = False) -> Response:
        with store_for(name) as store:
            nxt = session.opening(store, name, include_unproposed=all)
            if nxt is None:
                prog = session.progress(store, name)
                left = store.first_undecided(name) is not None
                return page("done.html", coder=name, progress=prog,
                            adjudicate=coder_url(name, "adjudicate"),
                            unproposed=coder_url(name, "?all=1") if left else None)
        return RedirectResponse(doc_url(name, nxt), status_code=303)

    @app.get("/c/{name}/doc", response_class=HTMLResponse)
    def review_doc(name: str, id: str) -> HTMLResponse:
        with store_for(name) as store:
            v = session.view(store, name, id)
            prog = session.progress(store, name)
        order = sorted(v.proposed, key=lambda c: (-len(v.proposed[c]), pages.rank(c), c))
        items = [pages.item(c, v.proposed[c], c not in v.rejected, False) for c in order]
        items += [pages.item(c, [], True, True) for c in sorted(v.added, key=pages.rank)]
        state = pages.state("review", name, v.doc_id, items, v.unclear, v.seconds,
                            doc_url(name, v.previous) if v.previous else None)
        return page("review.html", coder=name, view=v, progress=prog, state=state,
                    home=coder_url(name), adjudicate=coder_url(name, "adjudicate"))

    @app.post("/api/c/{name}/draft")
    def draft(name: str, body: ReviewBody) -> dict[str, bool]:
        with store_for(name) as store:
            session.save_draft(store, book, name, body.doc_id, body.rejected, body.added,
                               body.unclear, body.seconds)
        return {"ok": True}

    @app.post("/api/c/{name}/decide")
    def decide(name: str, body: ReviewBody) -> dict[str, str]:
        with store_for(name) as store:
            session.decide(store, book, name, body.doc_id, body.rejected, body.added,
                           body.unclear, body.seconds)
            refresh_if_due(pages.study, store)
            nxt = session.next_undecided(store, name)
        return {"next": doc_url(name, nxt) if nxt else coder_url(name)}


def _adjudication_routes(app: FastAPI, pages: Pages) -> None:
    """The list of disagreements and a third coder's decision on each."""
    book, store_for, page = pages.book, pages.store_for, pages.page

    @app.get("/c/{name}/adjudicate", response_class=HTMLResponse)
    def disagreements(name: str) -> HTMLResponse:
        with store_for(name, assigned=False) as store:
            report = adjudication.coder_agreement(store, book)
            texts = {d.doc_id: d.text
                     for d in store.documents([x.doc_id for x in report.disagreements])}
        rows = [(d, texts.get(d.doc_id, ""), doc_url(name, d.doc_id, adjudicate=True))
                for d in report.disagreements]
        first = next((u for d, _, u in rows if d.adjudicated is None), None)
        return page("adjudicate_list.html", coder=name, report=report, rows=rows,
                    first=first, home="/")

    @app.get("/c/{name}/adjudicate/doc", response_class=HTMLResponse)
    def adjudicate_doc(name: str, id: str) -> HTMLResponse:
        with store_for(name, assigned=False) as store:
            found = [d for d in adjudication.disagreements(store)]
            docs = store.documents([id])
            proposed, _, _ = session.proposals_for(store, id)
        if not docs:
            raise ReplicoderError(f"document {id!r} is not in this study")
        ids = [d.doc_id for d in found]
        if id not in ids:
            raise ReplicoderError(f"document {id!r} has no disagreement to adjudicate")
        dis = found[ids.index(id)]
        chosen: dict[str, list[str]] = {}
        for c, labels in dis.labels.items():
            for code in labels:
                chosen.setdefault(code, []).append(c)
        clear = [c for c in dis.labels if c not in dis.unclear]
        if dis.adjudicated is not None:
            on = set(dis.adjudicated.labels)
        else:
            on = {code for code, who in chosen.items() if clear and set(clear) <= set(who)}
        codes = sorted(set(chosen) | set(proposed),
                       key=lambda c: (-len(chosen.get(c, [])), pages.rank(c), c))
        items = [pages.item(c, chosen.get(c, []), c in on, False) for c in codes]
        pos = ids.index(id)
        state = pages.state("adjudicate", name, id, items,
                            bool(dis.adjudicated and dis.adjudicated.unclear), 0.0,
                            doc_url(name, ids[pos - 1], True) if pos > 0 else None)
        return page("adjudicate.html", coder=name, dis=dis, text=docs[0].text, state=state,
                    names={v: display_name(book, v) for v in book.values},
                    position=pos, total=len(ids), back=coder_url(name, "adjudicate"))

    @app.post("/api/c/{name}/adjudicate")
    def adjudicate(name: str, body: AdjudicateBody) -> dict[str, str]:
        with store_for(name, assigned=False) as store:
            adjudication.adjudicate(store, book, name, body.doc_id, body.labels, body.unclear,
                                    allow_party=pages.allow_party)
            pending = [d.doc_id for d in adjudication.disagreements(store)
                       if d.adjudicated is None
                       and (pages.allow_party or name not in d.labels)]
        nxt = pending[0] if pending else None
        return {"next": doc_url(name, nxt, True) if nxt else coder_url(name, "adjudicate")}
