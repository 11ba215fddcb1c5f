"""The crm2 console: a server-rendered Starlette application over one store.

Every page and action names the action it performs (sync.access.ACTIONS) and checks the signed-in
user's role on the server before touching the store; a role that may not is answered 403.
Sessions are signed cookies (Starlette's SessionMiddleware, itsdangerous) that expire after a
period without use, checked against the console's own clock so tests can move time forward.
Every form carries a per-session CSRF token. Templates are Jinja2 with autoescaping on, and the
Content-Security-Policy allows scripts and styles only from the console itself, so a value from
a source system is always text, never markup.
"""

from __future__ import annotations

import csv
import hmac
import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from authlib.common.errors import AuthlibBaseError
from joserfc.errors import JoseError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.access import ACTIONS, Role, acting_as, may, needed
from sync.console import data, i18n
from sync.console.oidc import OidcSettings
from sync.console.oidc import client as oidc_client
from sync.console.users import role_of, verify
from sync.model import LifecycleStage
from sync.resolve.explain import NotFound
from sync.resolve.review import ReviewError
from sync.store import Store

HERE = Path(__file__).parent
PERSONAL_ACTION = "personal.read"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

# Pages in the navigation: path, label, the action whose role may open it.
NAV = [("/accounts", "Key accounts", "golden.read"), ("/review", "Review", "review.list"),
       ("/quality", "Data quality", "checks"), ("/runs", "Runs", "runs"), ("/migration", "Migration", "runs"),
       ("/audit", "Audit trail", "audit.list")]


def personal_role() -> Role:
    """Who may see personal data unmasked: access.py's rule when it names one, else stewards
    (who compare e-mail addresses and phones to decide matches) and above."""
    return ACTIONS.get(PERSONAL_ACTION, Role.STEWARD)


@dataclass
class User:
    name: str
    role: Role

    def may(self, action: str) -> bool:
        return may(self.role, needed(action))

    @property
    def sees_personal(self) -> bool:
        return may(self.role, personal_role())


class NeedSignIn(Exception):
    pass


class Throttle:
    """After `limit` wrong passwords in a row for a name, that name waits `pause` seconds.

    Kept in memory (one console process); argon2's cost already makes each guess slow, this
    stops a patient script. A right password clears the count.
    """

    def __init__(self, clock: Callable[[], float], limit: int = 5, pause: float = 300.0) -> None:
        self.clock, self.limit, self.pause = clock, limit, pause
        self._failed: dict[str, tuple[int, float]] = {}

    def blocked(self, name: str) -> bool:
        count, last = self._failed.get(name, (0, 0.0))
        if count >= self.limit and self.clock() - last < self.pause:
            return True
        if count >= self.limit:
            self._failed.pop(name, None)
        return False

    def failed(self, name: str) -> None:
        count, _ = self._failed.get(name, (0, 0.0))
        if len(self._failed) > 10_000:  # bounded: forget the oldest entries
            for key in sorted(self._failed, key=lambda k: self._failed[k][1])[:5_000]:
                del self._failed[key]
        self._failed[name] = (count + 1, self.clock())

    def succeeded(self, name: str) -> None:
        self._failed.pop(name, None)


class SecurityHeaders:
    """CSP and friends on every response (plain ASGI, so it also covers static files and errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY"),
                            (b"cache-control", b"no-store")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def create_app(store: Store, *, secret: str, session_seconds: int = 30 * 60, https_only: bool = False,
               clock: Callable[[], float] = time.time, logs: Path | None = None,
               oidc: OidcSettings | None = None) -> Starlette:
    """The console for `store`. `clock` decides session expiry (time.time; tests pass their own);
    `logs` is the runs' log folder, where a writeback dry run leaves its diff; `oidc` adds sign-in
    through an OpenID Connect provider next to the password form."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(i18n.gettext_, i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]
    env.globals["when"] = data.when
    env.filters["money"] = lambda v: "" if v is None else f"{v:,.0f}"
    env.filters["num"] = lambda v, d=0: "" if v is None else f"{v:,.{d}f}"
    env.filters["pct"] = lambda v: "" if v is None else f"{v * 100:+.0f}%"
    env.filters["show"] = data.shown

    def lang_of(request: Request) -> str:
        chosen = request.session.get("lang")
        return chosen if chosen in i18n.LOCALES else i18n.negotiate(request.headers.get("accept-language"))

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    def check_csrf(request: Request, form: Any) -> None:
        sent, kept = str(form.get("csrf") or ""), str(request.session.get("csrf") or "")
        if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
            raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")

    def current(request: Request) -> User | None:
        s = request.session
        if not s.get("user"):
            return None
        if float(s.get("exp") or 0) <= clock():
            for key in ("user", "role", "exp"):
                s.pop(key, None)
            return None
        role = role_of(store, str(s["user"]))  # removed users are out, changed roles apply, at once
        if role is None:
            s.clear()
            return None
        s["exp"] = clock() + session_seconds  # sliding: expires after a period without use
        s["role"] = role.value
        return User(str(s["user"]), role)

    def require(request: Request, action: str) -> User:
        i18n.activate(lang_of(request))
        user = current(request)
        if user is None:
            raise NeedSignIn
        if not user.may(action):
            raise HTTPException(403, f"the {needed(action).value} role is needed for this")
        return user

    def page(request: Request, name: str, user: User | None, status: int = 200, **context: Any) -> Response:
        lang = lang_of(request)
        i18n.activate(lang)
        nav = [(path, label) for path, label, action in NAV if user and user.may(action)]
        return templates.TemplateResponse(request, name, {
            "user": user, "lang": lang, "nav": nav, "csrf": csrf_token(request), "path": request.url.path,
            "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            "stages": [s.value for s in LifecycleStage], **context}, status_code=status)

    # -- sign-in --------------------------------------------------------------------------------
    def login_form(request: Request) -> Response:
        return page(request, "login.html", None, next=_safe_next(request.query_params.get("next")),
                    oidc=oidc is not None)

    def start_session(request: Request, name: str, role: Role, target: str | None) -> Response:
        lang = lang_of(request)
        request.session.clear()  # a new session on sign-in: nothing carried over from before
        request.session.update({"user": name, "role": role.value, "exp": clock() + session_seconds,
                                "csrf": secrets.token_urlsafe(32), "lang": lang})
        return RedirectResponse(_safe_next(target) or "/accounts", status_code=303)

    provider = oidc_client(oidc) if oidc else None
    index = data.AccountIndex()
    throttle = Throttle(clock)

    async def oidc_start(request: Request) -> Response:
        if provider is None:
            raise HTTPException(404, "single sign-on is not configured")
        request.session["oidc_next"] = _safe_next(request.query_params.get("next")) or ""
        return await provider.authorize_redirect(request, str(request.url_for("oidc_callback")))

    async def oidc_callback(request: Request) -> Response:
        if provider is None or oidc is None:
            raise HTTPException(404, "single sign-on is not configured")
        i18n.activate(lang_of(request))
        try:
            token = await provider.authorize_access_token(request)
        except (AuthlibBaseError, JoseError) as exc:  # bad state, code, signature, issuer, audience, nonce, expiry
            raise HTTPException(403, f"single sign-on failed: {type(exc).__name__}") from None
        claims = token.get("userinfo") or {}
        name = str(claims.get(oidc.name_claim) or "")
        role = await run_in_threadpool(role_of, store, name) if name else None
        if role is None:
            raise HTTPException(403, "signed in at the provider, but not a console user (crm2 users add)")
        return start_session(request, name, role, request.session.get("oidc_next"))

    async def login(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        name, password = str(form.get("name") or ""), str(form.get("password") or "")
        if throttle.blocked(name):
            return page(request, "login.html", None, status=429, blocked=True, next=_safe_next(str(form.get("next"))),
                        oidc=oidc is not None)
        role = await run_in_threadpool(verify, store, name, password) if name and password else None
        if role is None:
            throttle.failed(name)
            return page(request, "login.html", None, status=401, error=True, next=_safe_next(str(form.get("next"))),
                        oidc=oidc is not None)
        throttle.succeeded(name)
        return start_session(request, name, role, str(form.get("next") or ""))

    async def logout(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    def set_lang(request: Request) -> Response:
        lang = request.path_params["lang"]
        if lang in i18n.LOCALES:
            request.session["lang"] = lang
        return RedirectResponse(_safe_next(request.query_params.get("next")) or "/accounts", status_code=303)

    # -- pages ----------------------------------------------------------------------------------
    def home(request: Request) -> Response:
        return RedirectResponse("/accounts", status_code=303)

    def _accounts_query(request: Request) -> dict[str, Any]:
        q = request.query_params
        tier = q.get("tier") if q.get("tier") in data.TIERS else None
        stage = q.get("stage") if q.get("stage") in [s.value for s in LifecycleStage] else None
        sort = q.get("sort") if q.get("sort") in data.SORTS else "revenue"
        return {"tier": tier, "stage": stage, "query": (q.get("q") or "")[:100] or None, "sort": sort,
                "descending": q.get("dir") != "asc"}

    def accounts(request: Request) -> Response:
        user = require(request, "golden.read")
        params = _accounts_query(request)
        rows, per_tier = data.key_accounts(store, **params, gettext=i18n.gettext_, index=index,
                                           lang=lang_of(request))
        return page(request, "accounts.html", user, rows=rows, per_tier=per_tier, params=params,
                    sorts=list(data.SORTS), query_string=request.url.query)

    def accounts_csv(request: Request) -> Response:
        require(request, "golden.read")
        rows, _ = data.key_accounts(store, **_accounts_query(request), limit=None, gettext=i18n.gettext_,
                                    index=index, lang=lang_of(request))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["golden_id", "name", "tier", "lifecycle", "revenue_12m", "margin_12m", "revenue_change_6m",
                         "margin_change_6m", "health", "churn_risk", "churn_reasons", "satisfaction", "open_cases"])
        for r in rows:
            writer.writerow([_cell(v) for v in (r.golden_id, r.name, r.tier, r.lifecycle, r.revenue_12m,
                                                r.margin_12m, r.trend, r.margin_trend, r.health, r.churn_risk,
                                                "; ".join(r.reasons),
                                                r.satisfaction, r.open_cases)])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="crm2-key-accounts.csv"'})

    def customer(request: Request) -> Response:
        user = require(request, "explain")
        try:
            view = data.customer_360(store, request.path_params["gid"], show_personal=user.sees_personal,
                                     gettext=i18n.gettext_)
        except NotFound:
            raise HTTPException(404, "no such customer") from None
        return page(request, "customer.html", user, c=view, may_unmerge=user.may("unmerge"))

    def review(request: Request) -> Response:
        user = require(request, "review.list")
        done = request.query_params.get("done")
        return page(request, "review.html", user, pairs=data.review_queue(store, show_personal=user.sees_personal),
                    may_decide=user.may("review.confirm"), done=done if done in ("confirm", "reject") else None)

    async def decide(request: Request) -> Response:
        form = await request.form()
        i18n.activate(lang_of(request))
        action = str(form.get("action") or "")
        if action not in ("confirm", "reject"):
            raise HTTPException(400, "action must be confirm or reject")
        user = require(request, f"review.{action}")
        check_csrf(request, form)
        left, right = str(form.get("left") or ""), str(form.get("right") or "")
        reason = str(form.get("reason") or "") or None

        def run() -> None:
            from sync.resolve import confirm, reject

            # the same code as `crm2 review confirm|reject`, as the signed-in user, so the audit names them
            with acting_as(user.name, f"console review {action}"):
                (confirm if action == "confirm" else reject)(store, left, right, reason=reason)

        try:
            await run_in_threadpool(run)
        except (ReviewError, ValueError) as exc:
            raise HTTPException(404, str(exc)) from None
        return RedirectResponse(f"/review?done={action}", status_code=303)

    async def unmerge(request: Request) -> Response:
        form = await request.form()
        user = require(request, "unmerge")
        check_csrf(request, form)
        ref, gid = str(form.get("ref") or ""), request.path_params["gid"]

        def run() -> None:
            from sync.resolve import unmerge as split

            with acting_as(user.name, "console unmerge"):
                split(store, ref, reason=str(form.get("reason") or "") or None)

        try:
            await run_in_threadpool(run)
        except (ReviewError, ValueError) as exc:
            raise HTTPException(404, str(exc)) from None
        return RedirectResponse(f"/customers/{quote(gid)}?unmerged=1", status_code=303)

    def quality(request: Request) -> Response:
        user = require(request, "checks")
        q = request.query_params
        view = data.quality(store, q.get("run"), reason=q.get("reason"), source=q.get("source"),
                            show_personal=user.sees_personal)
        return page(request, "quality.html", user, q=view, reason=q.get("reason"), source=q.get("source"))

    def runs(request: Request) -> Response:
        user = require(request, "runs")
        listed = data.run_list(store)
        diff = data.dry_run_diff(logs, [r["run_id"] for r in listed])
        return page(request, "runs.html", user, runs=listed, wb=data.writeback(store, limit=50), diff=diff)

    def migration(request: Request) -> Response:
        user = require(request, "runs")
        return page(request, "migration.html", user, m=data.migration(store))

    def audit(request: Request) -> Response:
        user = require(request, "audit.list")
        action = request.query_params.get("action") or None
        return page(request, "audit.html", user, entries=data.audit_trail(store, action=action), action=action)

    # -- errors ---------------------------------------------------------------------------------
    async def need_sign_in(request: Request, _exc: Exception) -> Response:
        if request.method != "GET":
            return Response("sign in first", status_code=403)
        return RedirectResponse(f"/login?next={quote(str(request.url.path))}", status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        user = current(request) if "session" in request.scope else None
        return page(request, "error.html", user, status=exc.status_code, status_code=exc.status_code,
                    detail=exc.detail)

    routes = [
        Route("/", home), Route("/login", login_form, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]), Route("/login/oidc", oidc_start),
        Route("/login/oidc/callback", oidc_callback, name="oidc_callback"), Route("/lang/{lang}", set_lang),
        Route("/accounts", accounts), Route("/accounts.csv", accounts_csv),
        Route("/customers/{gid}", customer), Route("/customers/{gid}/unmerge", unmerge, methods=["POST"]),
        Route("/review", review), Route("/review/decide", decide, methods=["POST"]),
        Route("/quality", quality), Route("/runs", runs), Route("/migration", migration), Route("/audit", audit),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(SessionMiddleware, secret_key=secret, session_cookie="crm2_console",
                             max_age=session_seconds, same_site="strict", https_only=https_only)]
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={NeedSignIn: need_sign_in, HTTPException: http_error})


def _safe_next(target: str | None) -> str | None:
    """Only a path on this console (never another site) is a place to go after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _numeric(text) else text


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
