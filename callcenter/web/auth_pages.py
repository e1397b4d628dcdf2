"""The login and account pages: HTML from ``web/static``, in Ukrainian by default, English on request.

The pages are small templates (``string.Template`` placeholders, every value HTML-escaped) so
they work without any JavaScript framework; ``login.js`` only turns the form into a JSON
request and shows the answer in a live region that screen readers announce. The language is
``?lang=en`` / ``?lang=uk``, remembered in the ``cc_lang`` cookie, Ukrainian otherwise.
"""

from __future__ import annotations

import html
from string import Template
from urllib.parse import quote, urlencode

from aiohttp import web

from callcenter.storage.users import User
from callcenter.web.static_files import read_static as _read

__all__ = [
    "LANGUAGES",
    "STATIC_FILES",
    "language_of",
    "language_switch",
    "render_account",
    "render_login",
    "static_file",
]

LANG_COOKIE = "cc_lang"
LANGUAGES = ("uk", "en")

_TEXT: dict[str, dict[str, str]] = {
    "uk": {
        "title": "Вхід — гаряча лінія",
        "heading": "Вхід до системи",
        "intro": "Увійдіть, щоб працювати з дзвінками та зверненнями.",
        "login": "Логін",
        "password": "Пароль",
        "submit": "Увійти",
        "other_lang": "English",
        "other_lang_code": "en",
        "error_credentials": "Неправильний логін або пароль.",
        "error_throttled": "Забагато невдалих спроб. Спробуйте знову за {minutes} хв.",
        "error_other": "Не вдалося увійти. Спробуйте ще раз.",
        "error_network": "Немає зв’язку із сервером.",
        "account_title": "Обліковий запис — гаряча лінія",
        "account_heading": "Ви увійшли",
        "name": "Ім’я",
        "role": "Роль",
        "logout": "Вийти",
        "role_agent": "оператор",
        "role_supervisor": "супервізор",
        "role_admin": "адміністратор",
        "role_authority": "представник органу влади",
    },
    "en": {
        "title": "Sign in — hotline",
        "heading": "Sign in",
        "intro": "Sign in to work with calls and appeals.",
        "login": "Login",
        "password": "Password",
        "submit": "Sign in",
        "other_lang": "Українською",
        "other_lang_code": "uk",
        "error_credentials": "Wrong login or password.",
        "error_throttled": "Too many failed attempts. Try again in {minutes} min.",
        "error_other": "Could not sign in. Please try again.",
        "error_network": "The server cannot be reached.",
        "account_title": "Account — hotline",
        "account_heading": "You are signed in",
        "name": "Name",
        "role": "Role",
        "logout": "Sign out",
        "role_agent": "agent",
        "role_supervisor": "supervisor",
        "role_admin": "administrator",
        "role_authority": "authority representative",
    },
}

#: The files served under /static/auth/ and their content types (nothing else is served).
STATIC_FILES = {"login.css": "text/css", "login.js": "text/javascript"}

#: Our pages load nothing from elsewhere and are never framed.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
}


def language_of(request: web.Request) -> str:
    """The page language: ``?lang=``, else the ``cc_lang`` cookie, else Ukrainian."""
    for candidate in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return "uk"


def language_switch(request: web.Request, lang: str) -> tuple[str, str]:
    """The other language's code, and this page's address in it: the same query (the report or
    period being looked at), ``lang`` replaced."""
    other = next(code for code in LANGUAGES if code != lang)
    query = [(key, value) for key, value in request.query.items() if key != "lang"]
    return other, "?" + urlencode([*query, ("lang", other)])


def _page(template_name: str, lang: str, values: dict[str, str]) -> web.Response:
    text = {k: html.escape(v) for k, v in _TEXT[lang].items()}
    text.update({k: html.escape(v) for k, v in values.items()})
    body = Template(_read(template_name)).substitute(lang=lang, **text)
    response = web.Response(text=body, content_type="text/html", headers=PAGE_HEADERS)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


def render_login(request: web.Request) -> web.Response:
    """The login page."""
    lang = language_of(request)
    next_path = request.query.get("next", "")
    other = _TEXT[lang]["other_lang_code"]
    switch = f"?lang={other}" + (f"&next={quote(next_path, safe='')}" if next_path else "")
    return _page("login.html", lang, {"switch_href": switch})


def render_account(request: web.Request, user: User, csrf_token: str) -> web.Response:
    """The signed-in page: who you are, your role, and a sign-out button."""
    lang = language_of(request)
    role = _TEXT[lang].get(f"role_{user.role.value}", user.role.value)
    return _page(
        "account.html",
        lang,
        {
            "user_name": user.display_name or user.login,
            "user_login": user.login,
            "user_role": role,
            "user_role_code": user.role.value,
            "csrf_token": csrf_token,
            "switch_href": f"?lang={_TEXT[lang]['other_lang_code']}",
        },
    )


def static_file(name: str) -> web.Response:
    """One of the page assets in ``STATIC_FILES`` (404 for anything else)."""
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.Response(text=_read(name), content_type=content_type, headers={"Cache-Control": "no-cache"})
