"""The MedLedger web portal: server-rendered Jinja2 pages with htmx, served by the API app
(`portal.app.install_portal`, called from `medledger.app.create_app`), in zh-CN and English.

Modules:

    app         mounts static files (ours + vendored htmx/Pico from node_modules) and the
                page routers in PAGE_MODULES; turns portal exceptions into pages
    context     `Ctx` and the route dependencies PageCtx / MemberCtx / role_ctx / Csrf
    i18n        language choice (?lang= → cookie → Accept-Language), Babel catalogs, formats
    templating  the Jinja2 environment (templates/)
    sessions    the signed session cookie, CSRF tokens
    users       portal users (scrypt passwords) bound to member addresses
    nav         role-filtered navigation entries
    errors      API error codes → clerk-friendly messages
    forms       form values → API values (codes, dates, °C, hashed notes), FormError
    jobs        background bulk jobs with progress (htmx-polled)
    labels      printable GS1 DataMatrix + QR label sheets
    queries     the partner pages' indexer reads
    vocabulary  enum values (statuses, roles) as message ids
    routes/     the pages: signin, verify, manufacturer, shipments, documents,
                distributor, hospital, regulator, trace

How to add a page family (e.g. the regulator's):

1. `portal/routes/regulator.py`::

       router = APIRouter(prefix="/portal/regulator", include_in_schema=False)
       Regulator = Annotated[Ctx, role_ctx(Role.REGULATOR)]
       register(NavItem("/portal/regulator", _l("Overview"), frozenset({Role.REGULATOR}), 10))

       @router.get("")
       def overview(ctx: Regulator, conn: ConnDep) -> HTMLResponse:
           return ctx.render("regulator/overview.html", figures=...)

       @router.post("/recalls")
       def recall(ctx: Regulator, _: Csrf, lot: Annotated[str, Form()] = "") -> Response:
           try:
               ... call the same function the JSON route calls (api/routes/*.py) ...
           except Exception as exc:  # shown in the chosen language, form keeps its values
               return ctx.render("regulator/recalls.html", values={"lot": lot}, problem=exc)
           return RedirectResponse("/portal/regulator/recalls", status_code=303)

   `ctx.render` turns any ApiError / ContractError / Gs1Error / pydantic ValidationError
   passed as `problem=` into a translated banner (portal.errors.MESSAGES) and field errors.
2. Add the module name to `portal.app.PAGE_MODULES` (a missing module is skipped).
3. Templates `portal/templates/regulator/*.html`: `{% extends "base.html" %}`, blocks
   `title` and `content`; forms use `{% import "forms.html" as f %}` and `{{ f.csrf(ctx) }}`.
   htmx requests carry the CSRF token in the X-CSRF-Token header (set on <body>).
4. Text: `_("English text")` in templates and `ctx._(...)`/`_l(...)` in Python. Keep your
   translations in your own catalog, e.g. `portal/locale/zh_CN/LC_MESSAGES/regulator.po`
   (every *.po there is loaded; see portal.i18n for the pybabel commands).
5. Format with `fmt.datetime(ts)`, `fmt.date(..)`, `fmt.number(..)`, `fmt.temperature(tenths)`.

Tests: `tests/portal/conftest.py` (`portal` fixture: users for every demo organisation,
`sign_in(name)`), `tests/portal/live.py` (the app on uvicorn over a live chain, for
Playwright).
"""
