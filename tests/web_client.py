"""The dashboard as a browser sees it, without a browser: werkzeug's test client on a
:class:`gjobs.web.Dashboard`, pages parsed into elements, and buttons pressed as a browser presses
them (the form's hidden fields posted to the form's address). For the fast tests of
test_web.py; test_web_browser.py drives a real Chromium.
"""

from html.parser import HTMLParser
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import urljoin

from werkzeug.datastructures import MultiDict
from werkzeug.test import Client

from gjobs.web import Dashboard
from gjobs.web.security import CSRF_COOKIE

#: The token the tests' dashboards are started with.
TOKEN = "token-for-the-web-tests"


class Element:
    def __init__(self, tag: str, attrs: Dict[str, str], parents: Tuple["Element", ...]) -> None:
        self.tag, self.attrs, self.parents = tag, attrs, parents
        self.parts: List[str] = []

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    def ancestor(self, tag: str) -> "Element":
        return next(parent for parent in reversed(self.parents) if parent.tag == tag)

    def matches(self, tag: Optional[str], within: Optional[str], attrs: Dict[str, str]) -> bool:
        return ((tag is None or self.tag == tag) and all(self.attrs.get(k) == v for k, v in attrs.items())
                and (within is None or any(p.attrs.get("id") == within for p in self.parents)))


class Page(HTMLParser):
    """A response's HTML as elements in document order, each with its ancestors and its text."""

    VOID = {"input", "meta", "link", "br", "img", "hr"}

    def __init__(self, response, url: str) -> None:
        super().__init__()
        self.response, self.url, self.status = response, url, response.status_code
        self.html = response.get_data(as_text=True)
        self.elements: List[Element] = []
        self._open: List[Element] = []
        self.feed(self.html)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs}, tuple(self._open))
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open and self._open.pop().tag != tag:
            pass

    def handle_data(self, data):
        for element in self._open:
            element.parts.append(data)

    def all(self, tag: Optional[str] = None, within: Optional[str] = None, **attrs: str) -> List[Element]:
        """Elements by tag and attributes (``data_job`` for ``data-job``, ``class_`` for ``class``),
        inside the element of id ``within`` when given."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attrs.items()}
        return [e for e in self.elements if e.matches(tag, within, wanted)]

    def one(self, tag: Optional[str] = None, within: Optional[str] = None, **attrs: str) -> Element:
        found = self.all(tag, within, **attrs)
        assert len(found) == 1, f"{len(found)} {tag} {attrs} on {self.url} ({self.status})"
        return found[0]

    def jobs(self, table: str) -> List[str]:
        """The job ids of a table's rows, top to bottom."""
        return [row.attrs["data-job"] for row in self.all("tr", within=table) if "data-job" in row.attrs]

    def cells(self, row: Element) -> Dict[str, str]:
        """A row's ``data-field`` cells: ``{field: text}``."""
        return {e.attrs["data-field"]: e.text for e in self.all("td") if row in e.parents and "data-field" in e.attrs}

    def flash(self) -> Optional[str]:
        found = self.all("p", id="flash")
        return found[0].text if found else None


class Browser:
    """werkzeug's test client on a :class:`Dashboard`, mounted at ``mount``: pages, clicks, posts."""

    def __init__(self, dashboard: Dashboard, mount: str = "") -> None:
        self.client = Client(dashboard)
        self.base = f"http://localhost{mount}"
        self.mount = mount

    def get(self, path: str, **options):
        return self.client.get(path, base_url=self.base, **options)

    def page(self, path: str, **options) -> Page:
        return Page(self.get(path, **options), self.mount + path)

    def login(self) -> "Browser":
        """Log in, and follow the redirect to the overview (which sets the CSRF cookie)."""
        response = self.get(f"/login?token={TOKEN}")
        assert response.status_code == 303
        assert self.get(response.headers["Location"][len(self.mount):]).status_code == 200
        return self

    def csrf(self) -> str:
        cookie = self.client.get_cookie(CSRF_COOKIE, path=self.mount + "/")
        return "" if cookie is None else cookie.value

    def post(self, path: str, form: Dict[str, str], headers: Optional[Dict[str, str]] = None):
        """``form`` posted to ``path`` (under the mount point) with this browser's CSRF token."""
        fields = MultiDict({"csrf": self.csrf(), **form})
        return self.client.post(path, base_url=self.base, data=fields, headers=headers or {})

    def click(self, page: Page, button: Element, ticked: Sequence[str] = (), **headers: str):
        """What a browser posts when ``button`` is pressed on ``page`` with the boxes ``ticked``."""
        form = button.ancestor("form")
        fields = [(e.attrs["name"], e.attrs.get("value", "")) for e in page.elements
                  if form in e.parents and e.tag == "input" and e.attrs.get("type") == "hidden"]
        boxes = {e.attrs["value"] for e in page.elements
                 if form in e.parents and e.tag == "input" and e.attrs.get("type") == "checkbox"}
        assert set(ticked) <= boxes, f"no box for {set(ticked) - boxes}"
        fields += [("id", job_id) for job_id in ticked]
        if "name" in button.attrs:
            fields.append((button.attrs["name"], button.attrs.get("value", "")))
        address = urljoin(page.url, button.attrs.get("formaction") or form.attrs["action"])
        assert address.startswith(f"{self.mount}/"), address
        return self.client.post(address[len(self.mount):], base_url=self.base, data=MultiDict(fields),
                                headers=headers)
