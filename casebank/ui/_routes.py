"""The review pages under /ui: sign-in, traces, a trace, incidents, an incident, runs, a run.

Every handler runs through `_UI.page`, which turns whatever went wrong into a page with a
one-line message and a 4xx status (a 500 only for a fault of the server, logged, without its
traceback). Reading needs the `read` scope, flagging `flag`, annotating and dismissing `admin`,
as on the JSON API; a page shows only the forms its session may send, and the handler checks
again. Every POST checks that it came from these pages: its Origin (or Referer) names this
server, and its hidden `csrf` field is the session's (`_session.py`). After a POST that worked,
the answer is a 303 redirect to the page it changed (so a reload does not send it again), with a
fixed message code in the query; after one that was refused, the page again, with the message
and what was typed kept.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from casebank.errors import CasebankError, IncidentNotFound, InvalidInput, InvalidTransition, TraceNotFound
from casebank.server._auth import Auth
from casebank.server._calls import StoreCalls
from casebank.server._errors import HTTPError, status_for
from casebank.store import INCIDENT_STATUSES, Incident, Store, check_can_annotate, incident_id_for, token_hash
from casebank.ui._forms import PAGE, FormError, annotation, incident_status, read_form, trace_search
from casebank.ui._pages import STATIC, SecurityHeaders, page, refusal
from casebank.ui._session import COOKIE, Session, Sessions
from casebank.ui._views import readable, trace_view

__all__ = ["ui_routes"]

logger = logging.getLogger("casebank.server")

PREFIX = "/ui"
SIGN_IN_SCOPES = ("read", "admin")  # the pages show traces: a token that may not read them cannot sign in
# Fixed messages a redirect after a POST names by code: nothing a person typed is reflected.
DONE = {
    "flagged": "Flagged: the incident holds your reason.",
    "annotated": "Annotated: promote it from the repository with the command below.",
    "dismissed": "Dismissed.",
    "signed_out": "Signed out.",
}


class Problem(Exception):
    """A request found wanting: a page with `message` and `status` (the sign-in page for a 401)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    name: str
    scopes: tuple[str, ...]
    session: Session
    csrf: str

    def can(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


Handler = Callable[[Request], Awaitable[Response]]


def ui_routes(
    calls: StoreCalls, auth: Auth, *, suite: Path = Path("evals"), sessions: Sessions | None = None
) -> list[BaseRoute]:
    """The review pages, for `create_app(extra_routes=...)`; `suite` is where a grader's file
    options (a JSON schema, a test file) are found, as `cases annotate --suite` finds them."""
    ui = _UI(calls, auth, suite, sessions or Sessions())
    router = Router(
        routes=[
            Route("/", ui.page(ui.home), methods=["GET"]),
            Route("/signin", ui.page(ui.signin_form), methods=["GET"]),
            Route("/signin", ui.page(ui.signin), methods=["POST"]),
            Route("/signout", ui.page(ui.signout), methods=["POST"]),
            Route("/traces", ui.page(ui.traces), methods=["GET"]),
            Route("/traces/{ref}", ui.page(ui.trace), methods=["GET"]),
            Route("/traces/{ref}/flag", ui.page(ui.flag), methods=["POST"]),
            Route("/incidents", ui.page(ui.incidents), methods=["GET"]),
            Route("/incidents/{ref}", ui.page(ui.incident), methods=["GET"]),
            Route("/incidents/{ref}/annotate", ui.page(ui.annotate), methods=["POST"]),
            Route("/incidents/{ref}/dismiss", ui.page(ui.dismiss), methods=["POST"]),
            Route("/runs", ui.page(ui.runs), methods=["GET"]),
            Route("/runs/{ref}", ui.page(ui.run), methods=["GET"]),
            Route("/static/report.css", ui.page(ui.report_css), methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ],
        default=ui.not_found,
    )
    return [
        Route(PREFIX, SecurityHeaders(ui.to_home, ui.problem)),
        Mount(PREFIX, app=SecurityHeaders(router, ui.problem)),
    ]


class _UI:
    def __init__(self, calls: StoreCalls, auth: Auth, suite: Path, sessions: Sessions) -> None:
        self.calls = calls
        self.store: Store = calls.store
        self.auth = auth
        self.suite = suite
        self.sessions = sessions

    # -- the frame every handler runs in -----------------------------------------------------------

    def page(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as exc:
                return self.problem(request, exc.status, exc.message)
            except FormError as exc:
                return self.problem(request, exc.status, str(exc))
            except HTTPError as exc:
                return self.problem(request, exc.status, exc.message)
            except CasebankError as exc:
                return self.problem(request, status_for(exc), str(exc))
            except Exception as exc:
                logger.exception("casebank: %s %s failed", request.method, request.url.path)
                return self.problem(
                    request,
                    500,
                    f"the server failed on {request.method} {request.url.path} ({type(exc).__name__}) - see its log",
                )

        return guarded

    def problem(self, request: Request, status: int, message: str) -> Response:
        if status == 401:
            return self.signin_page(request, message, status=401)
        return page("message.html", {**self.frame(request, None, error=message), "status": status}, status=status)

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await self.problem(request, 404, refusal(request, HTTPException(404)))(scope, receive, send)

    async def to_home(self, scope: Scope, receive: Receive, send: Send) -> None:
        await RedirectResponse(f"{PREFIX}/traces", status_code=303)(scope, receive, send)

    def frame(self, request: Request, viewer: Viewer | None, *, flash: str = "", error: str = "") -> dict[str, Any]:
        """What the layout shows: who is signed in, the sign-out form's token, the message of the page."""
        done = DONE.get(request.query_params.get("msg", ""), "")
        return {
            "viewer": viewer,
            "csrf": viewer.csrf if viewer else "",
            "flash": flash or done,
            "error": error,
            "path": request.url.path,
        }

    # -- sessions ----------------------------------------------------------------------------------

    async def viewer(self, request: Request, need: str = "read") -> Viewer:
        cookie = request.cookies.get(COOKIE)
        session = self.sessions.read(cookie)
        if session is None or session.token_hash is None:
            signed_in = cookie is not None and (session is None)
            raise Problem(
                401,
                "your session has expired or was signed out - sign in again"
                if signed_in
                else "sign in with a token to see the review pages",
            )
        found = await self.auth.identify(session.token_hash)
        if found is None:
            raise Problem(
                401,
                "the token this session signed in with is no longer known to this server (revoked?) - sign in again",
            )
        viewer = Viewer(found[0], found[1], session, self.sessions.csrf(session))
        if not viewer.can(need):
            raise Problem(
                403,
                f"token '{viewer.name}' lacks the '{need}' scope - sign in with a token that has it "
                f"('cases token create --name NAME --scope {need}')",
            )
        return viewer

    async def posted(self, request: Request, need: str, too_large: str) -> tuple[Viewer, dict[str, str]]:
        """The viewer and form of a POST that came from these pages and may do what it asks;
        `too_large` says what to shorten when the form is over the limit."""
        _check_origin(request)
        form = await read_form(request, too_large=too_large)
        viewer = await self.viewer(request, "read")
        if not self.sessions.csrf_ok(viewer.session, form.get("csrf")):
            raise Problem(403, "the form's CSRF token is missing or wrong - reload the page and send the form again")
        if not viewer.can(need):
            raise Problem(
                403,
                f"token '{viewer.name}' lacks the '{need}' scope - sign in with a token that has it "
                f"('cases token create --name NAME --scope {need}')",
            )
        return viewer, form

    def signin_page(self, request: Request, message: str = "", *, status: int = 200, next_path: str = "") -> Response:
        # The session a valid cookie holds keeps its sid (opening this page signs nobody out);
        # without one, a session without a token, so that the form carries a CSRF token too.
        session = self.sessions.read(request.cookies.get(COOKIE))
        cookie = None
        if session is None:
            session, cookie = self.sessions.new(None)
        context = {
            **self.frame(request, None, error=message),
            "csrf": self.sessions.csrf(session),
            "next": _local(next_path or (_here(request) if request.method == "GET" else "")),
        }
        response = page("signin.html", context, status=status)
        if cookie is not None:
            self.set_cookie(request, response, cookie)
        return response

    def set_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.sessions.lifetime_s,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    async def signin_form(self, request: Request) -> Response:
        return self.signin_page(request, next_path=request.query_params.get("next", ""))

    async def signin(self, request: Request) -> Response:
        _check_origin(request)
        form = await read_form(request, too_large="paste the token alone")
        next_path = _local(form.get("next", ""))
        session = self.sessions.read(request.cookies.get(COOKIE))
        if session is None or not self.sessions.csrf_ok(session, form.get("csrf")):
            return self.signin_page(
                request, "the sign-in form has expired - sign in again", status=403, next_path=next_path
            )
        token = form.get("token", "").strip()
        if not token:
            return self.signin_page(
                request,
                "give a token: the admin token, or one from 'cases token create'",
                status=400,
                next_path=next_path,
            )
        found = await self.auth.identify(token_hash(token))
        if found is None:
            return self.signin_page(
                request,
                "this token is not one this server knows - pass the admin token or one from 'cases token create'",
                status=401,
                next_path=next_path,
            )
        name, scopes = found
        if not any(scope in scopes for scope in SIGN_IN_SCOPES):
            return self.signin_page(
                request,
                f"token '{name}' has the scopes {', '.join(scopes)}, and the review pages need read - "
                "create one with 'cases token create --name NAME --scope read --scope flag'",
                status=403,
                next_path=next_path,
            )
        self.sessions.forget(session)  # a new sid after signing in: the one before it is never trusted
        _, cookie = self.sessions.new(token_hash(token))
        response = RedirectResponse(next_path or f"{PREFIX}/traces", status_code=303)
        self.set_cookie(request, response, cookie)
        return response

    async def signout(self, request: Request) -> Response:
        _check_origin(request)
        form = await read_form(request, too_large="sign out with the page's Sign out button")
        session = self.sessions.read(request.cookies.get(COOKIE))
        if session is not None:
            if not self.sessions.csrf_ok(session, form.get("csrf")):
                raise Problem(403, "the form's CSRF token is missing or wrong - reload the page and sign out again")
            self.sessions.forget(session)
        response = RedirectResponse(f"{PREFIX}/signin?msg=signed_out", status_code=303)
        response.delete_cookie(
            COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
        return response

    # -- traces ------------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/traces", status_code=303)

    async def traces(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        context: dict[str, Any] = {**self.frame(request, viewer), "traces": [], "next_page": None}
        try:
            search = trace_search(request.query_params)
            context["search"] = search
            found = await self.calls(
                self.store.search_traces,
                where=search.where or None,
                entrypoint=search.entrypoint or None,
                status=search.status or None,
                since=search.since or None,
                until=search.until or None,
                before=search.before or None,
                limit=PAGE + 1,
            )
        except InvalidInput as exc:
            context.setdefault("search", _raw_search(request))
            context["error"] = str(exc)
            return page("traces.html", context, status=400)
        context["traces"] = found[:PAGE]
        if len(found) > PAGE:
            context["next_page"] = f"{PREFIX}/traces?" + urlencode(search.query(before=found[PAGE - 1].trace_id))
        return page("traces.html", context)

    async def trace(self, request: Request, *, error: str = "", reason: str = "", status: int = 200) -> Response:
        viewer = await self.viewer(request)
        found = await self.calls(_trace, self.store, request.path_params["ref"])
        context = {
            **self.frame(request, viewer, error=error),
            **found,
            "view": trace_view(found["spans"]),
            "reason": reason,
        }
        return page("trace.html", context, status=status)

    async def flag(self, request: Request) -> Response:
        viewer, form = await self.posted(request, "flag", "shorten the reason")
        trace_id = await self.calls(self.store.resolve_trace_id, request.path_params["ref"])
        reason = form.get("reason", "")
        try:
            incident = await self.calls(self.store.flag, trace_id, reason, flagged_by=viewer.name)
        except InvalidInput as exc:
            return await self.trace(request, error=str(exc), reason=reason, status=400)
        return RedirectResponse(f"{PREFIX}/incidents/{incident.id}?msg=flagged", status_code=303)

    # -- incidents ---------------------------------------------------------------------------------

    async def incidents(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        status = incident_status(request.query_params)
        incidents = await self.calls(self.store.list_incidents, status)
        context = {**self.frame(request, viewer), "incidents": incidents, "status": status}
        return page("incidents.html", {**context, "statuses": (*INCIDENT_STATUSES, "all")})

    async def incident(
        self, request: Request, *, error: str = "", form: dict[str, str] | None = None, status: int = 200
    ) -> Response:
        viewer = await self.viewer(request)
        incident = await self.calls(self.store.resolve_incident, request.path_params["ref"])
        graders = await self.calls.off_loop(_grader_names) if viewer.can("admin") else []
        context = {
            **self.frame(request, viewer, error=error),
            "incident": incident,
            "view": trace_view(incident.spans),
            "graders": graders,
            "form": form or _annotation_form(incident),
            "promote": f"cases promote {incident.id} --db {request.url.scheme}://{request.url.netloc}",
        }
        return page("incident.html", context, status=status)

    async def annotate(self, request: Request) -> Response:
        viewer, form = await self.posted(request, "admin", "shorten the expected output")
        ref = request.path_params["ref"]
        try:
            wanted = annotation(form)
            spec = await self.calls.off_loop(
                _checked_grader, wanted.grader, wanted.options, wanted.expected, self.suite
            )
            incident = await self.calls(_annotate, self.store, ref, wanted.expected, spec, wanted.tags)
        except (InvalidInput, InvalidTransition) as exc:
            code = 409 if isinstance(exc, InvalidTransition) else 400
            return await self.incident(request, error=str(exc), form=form, status=code)
        return RedirectResponse(f"{PREFIX}/incidents/{incident.id}?msg=annotated", status_code=303)

    async def dismiss(self, request: Request) -> Response:
        viewer, form = await self.posted(request, "admin", "shorten the reason")
        reason = form.get("reason", "")
        try:
            if not reason.strip():
                raise InvalidInput("a dismissal needs a reason - say why the incident is not a bug")
            incident = await self.calls(_dismiss, self.store, request.path_params["ref"], reason.strip())
        except (InvalidInput, InvalidTransition) as exc:
            code = 409 if isinstance(exc, InvalidTransition) else 400
            return await self.incident(request, error=str(exc), form=form, status=code)
        return RedirectResponse(f"{PREFIX}/incidents/{incident.id}?msg=dismissed", status_code=303)

    # -- runs --------------------------------------------------------------------------------------

    async def runs(self, request: Request) -> Response:
        from casebank.ui._runs import runs_page

        viewer = await self.viewer(request)
        found = await self.calls(runs_page, self.store)
        return page("runs.html", {**self.frame(request, viewer), **found})

    async def run(self, request: Request) -> Response:
        from casebank.ui._runs import run_page

        viewer = await self.viewer(request)
        found = await self.calls(run_page, self.store, request.path_params["ref"])
        return page("run.html", {**self.frame(request, viewer), **found})

    async def report_css(self, request: Request) -> Response:
        from casebank.replay._report_html import report_css

        return PlainTextResponse(report_css(), media_type="text/css")


# -- store calls made of several reads (each runs as one call, in one turn) ------------------------


def _trace(store: Store, ref: str) -> dict[str, Any]:
    trace_id = store.resolve_trace_id(ref)
    summary = store.get_trace(trace_id)
    if summary is None:  # resolved a moment ago: pruned meanwhile
        raise TraceNotFound(f"trace '{trace_id}' is no longer in the store - it was pruned")
    try:
        incident: Incident | None = store.get_incident(incident_id_for(trace_id))
    except IncidentNotFound:
        incident = None
    return {"trace": summary, "spans": store.trace_spans(trace_id), "incident": incident}


def _annotate(store: Store, ref: str, expected: Any, spec: dict[str, Any], tags: list[str]) -> Incident:
    incident = store.resolve_incident(ref)
    check_can_annotate(incident)
    return store.annotate(incident.id, expected=expected, grader=spec, tags=tags)


def _dismiss(store: Store, ref: str, reason: str) -> Incident:
    incident = store.resolve_incident(ref)
    return store.dismiss(incident.id, reason)


def _grader_names() -> list[str]:
    from casebank.replay.graders._registry import registry

    return registry.names()


def _checked_grader(name: str, options: dict[str, Any], expected: Any, suite: Path) -> dict[str, Any]:
    """The grader spec to record, checked as `cases annotate` checks it: by the grader registry,
    whose refusals are the CLI's word for word."""
    from casebank.replay.graders import DEFAULT_GRADER, make_grader

    if ":" in name:
        # An import path imports a module into the server: annotate with one of your own from the CLI.
        raise InvalidInput(
            f"grader '{name}' is an import path - the review pages offer the graders installed on the server; "
            "use 'cases annotate ID --grader MODULE:NAME' for one of your own"
        )
    chosen = make_grader({"name": name or DEFAULT_GRADER, "options": options}, base_dir=suite)
    chosen.check_expected(expected)
    spec: dict[str, Any] = chosen.spec()
    return spec


def _annotation_form(incident: Incident) -> dict[str, str]:
    """The annotate form filled with the current annotation, if any."""
    grader = incident.grader or {}
    structured = incident.has_expected and not isinstance(incident.expected, str)
    options = grader.get("options") or {}
    return {
        "expected": readable(incident.expected) if incident.has_expected else "",
        "expected_json": "1" if structured else "",
        "grader": str(grader.get("name") or ""),
        "options": readable(options) if options else "",
        "tags": " ".join(incident.tags),
        "reason": "",
    }


# -- checks ----------------------------------------------------------------------------------------


def _check_origin(request: Request) -> None:
    """A POST must come from a page of this server: its Origin, else its Referer, when sent, names
    this host. (The host only: behind a proxy that ends TLS the server sees http.) The pages' own
    `Referrer-Policy: no-referrer` makes a browser send `Origin: null` and no Referer with their
    forms, so "null" says nothing either way: the session's CSRF token is what decides."""
    origin = request.headers.get("origin")
    if origin == "null":
        origin = None
    referer = request.headers.get("referer")
    sent = origin if origin is not None else referer
    if sent is None:
        return
    try:
        host = urlsplit(sent).netloc
    except ValueError:
        host = ""
    if host != request.url.netloc:
        raise Problem(403, f"this form was sent from another site ('{sent}') - use the pages of this server")


def _local(path: str) -> str:
    """`path` if it is a page of these (a redirect after signing in goes nowhere else), else ''."""
    if not path.startswith(PREFIX + "/") or path.startswith("//") or "\\" in path or path.startswith(PREFIX + "/sign"):
        return ""
    return path


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _raw_search(request: Request) -> dict[str, str]:
    params = request.query_params
    return {key: str(params.get(key, "")) for key in ("q", "entrypoint", "status", "since", "until")}
