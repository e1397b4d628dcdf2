"""``/``: the front door. Citizens find the appeal form and the public statistics; staff the
sign-in and the page of each role. Plain HTML, Ukrainian first with the English beside it."""

from __future__ import annotations

from aiohttp import web

from callcenter.web.auth import public

__all__ = ["routes"]

_PAGE = """<!doctype html>
<html lang="uk">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Гаряча лінія · Hotline</title>
<style>
  body { font: 18px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f23; }
  h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
  a { color: #0b5cad; } li { margin: .4rem 0; } .en { color: #57606a; font-size: .9em; }
</style>
</head>
<body>
<main>
<h1>Гаряча лінія для звернень громадян <span class="en">· Citizens' hotline</span></h1>
<h2>Громадянам <span class="en">· Citizens</span></h2>
<ul>
  <li><a href="/zvernennia">Подати звернення або дізнатися його стан</a> <span class="en">· submit an appeal or check its status</span></li>
  <li><a href="/stats">Статистика звернень</a> <span class="en">· public statistics</span></li>
</ul>
<h2>Працівникам <span class="en">· Staff</span></h2>
<ul>
  <li><a href="/login">Вхід</a> <span class="en">· sign in</span></li>
  <li><a href="/desk">Робоче місце оператора</a> <span class="en">· agent desk</span></li>
  <li><a href="/wallboard">Табло черг</a> <span class="en">· wallboard</span>,
      <a href="/analytics">аналітика</a> <span class="en">· analytics</span>,
      <a href="/content">тематика звернень</a> <span class="en">· content analysis</span>,
      <a href="/recordings">записи розмов</a> <span class="en">· call recordings</span></li>
  <li><a href="/admin/flows">Редактор сценаріїв IVR</a> <span class="en">· IVR flow editor</span></li>
  <li><a href="/authority">Кабінет органу влади</a> <span class="en">· authority inbox</span></li>
</ul>
</main>
</body>
</html>
"""

routes = web.RouteTableDef()


@routes.get("/")
@public
async def home(request: web.Request) -> web.Response:
    """The front door with a link to every page."""
    return web.Response(text=_PAGE, content_type="text/html", headers={"Cache-Control": "no-cache"})
