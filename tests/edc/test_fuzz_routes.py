"""Fuzz of every route of the portal: odd input never causes a server error.

The routes come from `app.url_map`, so a route added later is fuzzed without touching this file.
As an anonymous caller and as a nurse, a monitor and an administrator, every route and method
(GET, and POST with a valid CSRF token) first gets pinpointed requests: its good path parameters
as an htmx call with an unreadable current URL, a huge number in every query parameter the code
reads and in every form field; then each path parameter in turn made odd (10^20 for a number, a
NUL after a good string). Then Hypothesis draws more requests over all routes: path parameters
(good ones, huge and negative numbers, control characters, `..`, `%`, unicode, 5000 characters,
sent encoded or raw), query parameters, htmx headers and form fields.

Every answer must be below 500 and nothing may be logged as an error (`edc.web._server_error`
logs each unhandled exception); a failure names the request to send again. Each request runs in a
savepoint that is rolled back, with the browser's cookies put back, so one request's sign-out,
lockout or deactivation does not change what the next one sees.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from wtforms.fields.core import UnboundField

import edc
import edc.forms
from edc.access import Role
from edc.extensions import db
from edc.models.users import RoleAssignment, User, UserSession
from tests.conftest import https_client
from tests.edc.conftest import FORM as CRF_FORM
from tests.factories import csrf, login

#: Requests Hypothesis draws per role, beyond the pinpointed ones every route gets: the whole
#: test stays within about a minute per database.
DRAWN = 100
METHODS = ("GET", "POST")
ROLES = ("anonymous", "nurse", "monitor", "admin")

HUGE = ["2147483647", "2147483648", "9223372036854775808", "100000000000000000000", "9" * 400]
ODD = [
    *HUGE,
    "0",
    "-1",
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01",
    "\x7f",
    "\t",
    "..",
    "../..",
    "%",
    "%00",
    "%zz",
    "%ff%fe",
    "é",
    "😀",
    "\u202e",
    "\ufeff",
    "x" * 5000,
    "<script>",
    "'",
    '"',
    "\\",
    ";--",
    "null",
    "1.5",
    "1e9",
    "٣",
    "NB-FR09-0001\x00",
    "0001-01-01",
    "9999-12-31",
]
#: Query parameters read by many lists, whatever the view (more are found in the source).
COMMON_QUERY = ["page", "q", "next", "since", "until", "action", "actor", "ip", "lang", "sort"]
HEADER_URLS = ["http://[bad", "//[::1", "https://localhost/subjects/", "https://localhost/%zz?a="]

ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
ARGS_READ = re.compile(r"request\.args(?:\.get|\.getlist)?[\(\[]\s*[\"'](\w+)[\"']")


def query_names() -> list[str]:
    """Every `request.args` name the portal's code reads, and the common ones."""
    found = set(COMMON_QUERY)
    for source in Path(edc.__file__).parent.rglob("*.py"):
        found.update(ARGS_READ.findall(source.read_text()))
    return sorted(found)


def form_field_names() -> list[str]:
    """Every field name of the portal's forms, so posts reach past an empty form."""
    names = {"csrf_token", "reason", "row_version", "action"}
    for _name, form in inspect.getmembers(edc.forms, inspect.isclass):
        for base in form.__mro__:
            names.update(k for k, v in vars(base).items() if isinstance(v, UnboundField))
    return sorted(names)


no_surrogates = st.characters(blacklist_categories=("Cs",))
odd_text = st.one_of(
    st.sampled_from(ODD),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(no_surrogates, max_size=40),
)
header_text = st.one_of(
    st.sampled_from(HEADER_URLS + ODD[:12]),
    st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=60),
)


class _Errors(logging.Handler):
    """Collects what the portal logs as an error (an unhandled exception among them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged_errors() -> Iterator[_Errors]:
    handler = _Errors()
    logger = logging.getLogger("edc")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def users(entry_for, make_user) -> dict[str, User]:
    site = entry_for.subject.site
    return {
        "nurse": entry_for.nurse,
        "monitor": make_user(roles=[(Role.MONITOR, site)]),
        "admin": make_user(roles=[(Role.ADMIN, None)]),
    }


@pytest.fixture
def known(entry_for, users) -> dict[str, list[str]]:
    """The good values of each path parameter, so a fuzzed request also reaches deep code."""
    static = Path(edc.__file__).parent.parent / "static"
    return {
        "code": [entry_for.subject.study_code],
        "event_id": ["baseline"],
        "number": ["1", "2"],
        "form_id": ["visit"],
        "path": ["visit_date", "main/visit_date", "doses/0/dose_mg"],
        "filename": [str(p.relative_to(static)) for p in sorted(static.rglob("*.js"))[:3]],
        "notice_id": ["1"],
    }


def _ids(column) -> list[str]:
    return [str(i) for i in db.session.scalars(select(column)).all()]


def _client(app, role: str, users: dict[str, User]) -> tuple[object, str]:
    """A browser signed in as `role` (or not at all) and its CSRF token."""
    client = https_client(app)
    if role == "anonymous":
        return client, csrf(client, "/login")
    login(client, users[role])
    return client, csrf(client, "/account")


def _path(rule: str, values: dict[str, str], raw: bool) -> str:
    def fill(match: re.Match[str]) -> str:
        value = values[match.group(2)]
        return value if raw else quote(value, safe="")

    return ARGUMENT.sub(fill, rule)


def _good(name: str, known: dict[str, list[str]], pool: list[str]) -> str:
    return (known.get(name) or pool)[0]


def _pinpointed(
    rule: str, known: dict[str, list[str]], pool: list[str], queries: list[str], fields: list[str]
) -> list[dict]:
    """Requests every route gets, whatever Hypothesis draws: the good values as an htmx call
    with an unreadable current URL, a huge value in every query parameter and every form field
    filled (a refused form); then each path parameter in turn made odd (a number beyond what the
    database holds, a NUL after a good string) while the others stay good."""
    arguments = {m.group(2): m.group(1) for m in ARGUMENT.finditer(rule)}
    good = {name: _good(name, known, pool) for name in arguments}
    base = {
        "values": good,
        "raw": False,
        "query": {},
        "headers": {"HX-Request": "true"},
        "data": {},
        "with_token": True,
    }
    cases = [
        {
            **base,
            "query": dict.fromkeys(queries, HUGE[3]),
            "headers": {"HX-Request": "true", "HX-Current-URL": HEADER_URLS[0]},
            "data": dict.fromkeys(fields, HUGE[3]),
        },
    ]
    for name, converter in arguments.items():
        odd = HUGE[3] if converter == "int" else good[name] + "\x00"
        cases.append({**base, "headers": {}, "values": {**good, name: odd}})
    return cases


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_a_server_error_to_odd_input(app, role, users, known, logged_errors):
    client, token = _client(app, role, users)
    known = {
        **known,
        "user_id": _ids(User.id),
        "assignment_id": _ids(RoleAssignment.id),
        "session_id": _ids(UserSession.id),
    }
    pool = sorted({v for values in known.values() for v in values})
    queries = query_names()
    fields = sorted({*form_field_names(), *re.findall(r"- id: (\w+)", CRF_FORM)})
    conn = db.session.get_bind()
    routes = sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in METHODS
        if method in rule.methods
    )
    assert len(routes) >= 30

    def send(method: str, url: str, query: dict, headers: dict, form: dict) -> str | None:
        """What was wrong with the answer to this request, if anything."""
        db.session.remove()  # no savepoint of the test's own session encloses ours
        conn.exec_driver_sql("SAVEPOINT fuzz_example")
        saved = dict(client._cookies)
        logged_errors.records.clear()
        try:
            response = client.open(
                url,
                method=method,
                query_string=query,
                headers=headers,
                data=form if method == "POST" else None,
            )
            try:
                response.get_data()  # a streamed body fails while it is read
            finally:
                response.close()
        except Exception as exc:
            return f"raised {exc!r}"
        finally:
            db.session.remove()
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT fuzz_example")
            client._cookies = saved
        if response.status_code >= 500:
            return f"answered {response.status_code}"
        if logged_errors.records:
            return f"logged {[r.getMessage() for r in logged_errors.records]}"
        return None

    def describe(method: str, url: str, query: dict, headers: dict, form: dict) -> str:
        request = f"{method} {url!r} as {role}\n    query_string={query!r} headers={headers!r}"
        return request + (f" data={form!r}" if method == "POST" else "")

    def attempt(rule: str, method: str, case: dict) -> str | None:
        """Sends one request; what was wrong with it and how to send it again, if anything."""
        url = _path(rule, case["values"], case["raw"])
        form = dict(case["data"])
        if method == "POST" and case["with_token"]:
            form["csrf_token"] = token
        problem = send(method, url, case["query"], case["headers"], form)
        if problem is None:
            return None
        return f"{problem}: {describe(method, url, case['query'], case['headers'], form)}"

    # Every route, whatever Hypothesis draws below.
    failures = [
        problem
        for rule, method in routes
        for case in _pinpointed(rule, known, pool, queries, fields)
        if (problem := attempt(rule, method, case))
    ]

    def path_values(rule: str) -> st.SearchStrategy[dict[str, str]]:
        return st.fixed_dictionaries(
            {
                m.group(2): st.one_of(st.sampled_from(known.get(m.group(2)) or pool), odd_text)
                for m in ARGUMENT.finditer(rule)
            }
        )

    @settings(
        max_examples=DRAWN,
        deadline=None,
        derandomize=True,  # the same requests in every run
        database=None,
        phases=[Phase.generate],  # the failing request is reported as sent
        suppress_health_check=list(HealthCheck),
    )
    @given(
        route=st.sampled_from(routes),
        draw=st.data(),
        raw=st.booleans(),
        query=st.dictionaries(
            st.one_of(st.sampled_from(queries), st.text(no_surrogates, max_size=8)),
            odd_text,
            max_size=4,
        ),
        headers=st.fixed_dictionaries(
            {},
            optional={
                "HX-Request": st.just("true"),
                "HX-Current-URL": header_text,
                "X-CRF-Changed": header_text,
            },
        ),
        data=st.dictionaries(
            st.one_of(st.sampled_from(fields), st.text(no_surrogates, max_size=8)),
            odd_text,
            max_size=6,
        ),
        with_token=st.sampled_from([True, True, True, False]),
    )
    def drawn(route, draw, raw, query, headers, data, with_token):
        rule, method = route
        values = draw.draw(path_values(rule), label="path parameters")
        case = {
            "values": values,
            "raw": raw,
            "query": query,
            "headers": headers,
            "data": data,
            "with_token": with_token,
        }
        problem = attempt(rule, method, case)
        assert problem is None, problem

    try:
        drawn()
    except AssertionError as failure:
        failures.append(str(failure).split("\nFalsifying")[0])
    assert not failures, "\n".join(failures)
    # Still the same caller at the end: the requests above were sent as `role` throughout.
    assert client.get("/account").status_code == (302 if role == "anonymous" else 200)
